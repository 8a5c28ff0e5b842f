/* Nearest-rank percentiles of RTT samples. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The p-th percentile (0 < p <= 100) of v[0..n) by nearest rank: the
 * smallest sample with at least p% of the samples at or below it. Sorts v
 * in place. One sample is every percentile; -1 when n is 0. */
int64_t nd_percentile(int64_t *v, size_t n, unsigned p);
