/* The fallback source: /proc/net/tcp and /proc/net/tcp6, for kernels or
 * sandboxes without NETLINK_SOCK_DIAG. It has no tcp_info and no V6ONLY flag:
 * every :: listener is taken as dual-stack. */
#pragma once

#include <stdio.h>

#include "collect/sock.h"

/* Parses one line of /proc/net/tcp (family AF_INET) or tcp6 (AF_INET6).
 * Returns 0, or -EINVAL for a line that is not a socket (e.g. the header). */
int nd_procnet_parse_line(const char *line, int family, struct nd_sock *ret);

/* Reads a whole table from an open stream (borrowed, not closed), calling fn
 * for each socket whose state is in the states mask. */
int nd_procnet_read(FILE *f, int family, uint32_t states, nd_sock_fn fn, void *userdata);
