/* A client that opens a new connection for every request and times all
 * of it, as an application without a connection pool lives it: socket(),
 * connect(), the request written, the answer read up to the server's
 * close, close(). wrk in close mode starts its clock at the request's
 * write and stops it at the answer: the connection's opening and closing,
 * where a connection-level tracer does its work, fall outside.
 *
 * One process, one connection at a time, in a closed loop (the next
 * request as soon as the last one is done), for a bounded time. */
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>

#include "latency-hist.h"

struct new_conn_result {
        struct latency_hist *latencies; /* of every request that succeeded; owned */
        uint64_t requests, errors;
        double seconds, cpu_s; /* the loop's wall time; the client's utime + stime */
};

/* Sends `request` over a new connection to server, again and again for
 * duration_s seconds (or until MAX_ERRORS failed), in a child process on
 * CPU cpu (-1: anywhere). A request succeeds when the answer starts with
 * `expect`. Returns 0, or -errno (-EINTR once *interrupted is set; the
 * child is killed then). */
int new_conn_client_run(const struct sockaddr_in *server, const char *request, const char *expect, unsigned duration_s,
                        int cpu, const volatile sig_atomic_t *interrupted, struct new_conn_result *ret);
