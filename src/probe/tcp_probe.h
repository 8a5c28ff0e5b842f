/* One TCP probe: a non-blocking connect(), timed.
 *
 * The connect's outcome is the probe's: established is an answer (the RTT
 * is the handshake), ECONNREFUSED is refused (the host answered, nothing
 * listens), anything else (EHOSTUNREACH, ENETUNREACH, a timeout) is lost. */
#pragma once

#include <stdint.h>

#include "probe/probe_outcome.h"

/* Starts a connect to addr:port on a new socket (SOCK_NONBLOCK |
 * SOCK_CLOEXEC). While the outcome is ND_PROBE_PENDING, *ret_fd is the
 * socket to wait on for writability, then nd_tcp_probe_finish(); the
 * caller owns it. Otherwise the socket is already closed and *ret_fd is
 * -EBADF. Returns 0, or -errno when no socket could be made (a local
 * problem, not the link's). */
int nd_tcp_probe_start(const struct nd_addr *addr, uint16_t port, int *ret_fd, enum nd_probe_outcome *ret_outcome);

/* The outcome of a connect that nd_tcp_probe_start() left pending, once
 * its socket is writable. Borrows fd: the caller closes it. */
enum nd_probe_outcome nd_tcp_probe_finish(int fd);
