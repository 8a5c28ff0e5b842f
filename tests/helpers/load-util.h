/* What every load generator does with TCP sockets and the clock, written
 * once for the test helpers (tcp-hold, short-conns) and the benchmarks'
 * generators (bench/hold.c, conn-load.c, new-conn-client.c): parsing
 * ADDR:PORT, a listener, a client socket bound to a source address, a
 * connect that survives signals, accepting and holding what waits, one
 * request on a connection of its own, and sleeping to a paced schedule.
 *
 * Plain libc, so that the helpers stay standalone programs. Functions that
 * can fail return -errno; where a caller names the failing call in its
 * message, *ret_failed (may be NULL) is set to that call's name. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* "1.2.3.4:80", "[::1]:80" or "::1:80" into *ret. Returns the address's
 * length, 0 when s is none of these. */
socklen_t parse_sockaddr(const char *s, struct sockaddr_storage *ret);

/* A TCP socket listening on addr with SO_REUSEADDR and the given backlog;
 * flags as socket()'s type (SOCK_CLOEXEC is always set). For IPv6, v6only
 * sets IPV6_V6ONLY (< 0: the system's default). Returns the fd or -errno;
 * *ret_failed: "socket", "setsockopt", "bind" or "listen". */
int tcp_listen(const struct sockaddr *addr, socklen_t len, int flags, int v6only, int backlog,
               const char **ret_failed);

/* A TCP socket of family, bound to src when not NULL with its port left to
 * connect() (IP_BIND_ADDRESS_NO_PORT: clients from one source share ports
 * per destination). Returns the fd or -errno; *ret_failed: "socket",
 * "setsockopt" or "bind". */
int tcp_socket(int family, const struct sockaddr *src, socklen_t src_len, const char **ret_failed);

/* connect(), again after EINTR. Returns 0 or -errno. */
int tcp_connect(int fd, const struct sockaddr *to, socklen_t len);

/* SO_LINGER 0: close() sends RST and leaves no TIME_WAIT behind. Returns 0
 * or -errno. */
int tcp_reset_on_close(int fd);

/* Accepts every connection waiting on a non-blocking listener and keeps it
 * open (holding it is the point), closing with RST when reset is set.
 * Stops at EAGAIN, ECONNABORTED or EINTR. Returns how many it accepted, or
 * -errno on another error (EMFILE once the process holds all it may). */
long accept_pending(int listen_fd, bool reset);

/* Writes len bytes, again after EINTR and short writes. Returns 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/* Reads and drops what arrives until the peer closes, or until limit bytes
 * have come when limit >= 0; again after EINTR. The first expect_len bytes
 * must be expect's (when not NULL): -EBADMSG as soon as one differs, or at
 * a close before them. Returns the bytes read or -errno. */
long read_drop(int fd, long limit, const void *expect, size_t expect_len);

/* One request on a connection of its own, as a client without a connection
 * pool makes it: socket(), connect(), the request written whole, the
 * answer read until the server closes, close(). */
struct tcp_request {
        const struct sockaddr *to;
        socklen_t to_len;
        const void *data; /* the request */
        size_t len;
        const void *expect; /* what the answer must start with; NULL: anything */
        size_t expect_len;
};

/* Returns the answer's length or -errno (-EBADMSG: not the expected
 * answer); *ret_failed: "socket", "connect" or "exchange". */
long tcp_request(const struct tcp_request *rq, const char **ret_failed);

/* Raises the soft limit on open files to the hard one. Returns the soft
 * limit now in force, 0 when it cannot be read. */
rlim_t raise_fd_limit(void);

/* Creates path empty (mode 0644), or empties it: the "ready" flag a test
 * waits for. Returns 0 or -errno. */
int create_empty_file(const char *path);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t monotonic_ns(void);

/* Sleeps until the monotonic time when (ns), the due time of a paced
 * schedule; returns at once when it has passed. Returns 0, or -EINTR when a
 * signal handler ran first (the caller decides whether to go on). */
int sleep_until_ns(uint64_t when);
