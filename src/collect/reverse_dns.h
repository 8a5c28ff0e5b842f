/* Reverse DNS for many addresses under one total time budget.
 *
 * getnameinfo() blocks for as long as the resolver likes, so lookups run on
 * a few worker threads; when the budget runs out the caller goes on with
 * what has been answered, and the stragglers finish (and free) on their own. */
#pragma once

#include <stddef.h>

#include "model/addr.h"

/* Looks up the names of addrs[0..n). On success *ret_names is an array of n
 * strings, NULL where no name came in time; free with nd_names_free(). */
int nd_reverse_dns(const struct nd_addr *addrs, size_t n, unsigned budget_ms, char ***ret_names);
char **nd_names_free(char **names, size_t n);
