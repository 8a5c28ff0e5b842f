/* Short TCP connections on loopback at a paced rate, bounded in count and
 * in time, for the connection-rate benchmark.
 *
 * Server processes block in accept() on one listener (127.0.0.1:port) and
 * close what they accept at once. For each run, client processes open
 * connections on a common schedule (connection i of the run is due at
 * start + i / rate, client k takes every K-th): a socket from source
 * address i of the LOOPBACK_SOURCES (loopback_socket()), connect, close. A client that falls behind
 * does not sleep until it is on schedule again, so a run's achieved rate
 * is the lower of the asked rate and what the machine can do.
 *
 * Call from inside a network namespace of the bench's own
 * (hold_enter_fresh_netns()): the clients' TIME_WAIT sockets stay there. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CONN_LOAD_MAX_PROCESSES 16

struct conn_load_shared;

struct conn_load {
        int listen_fd;
        uint16_t port;
        pid_t servers[CONN_LOAD_MAX_PROCESSES];
        unsigned n_servers;
        struct conn_load_shared *shared; /* MAP_SHARED with every child */
};

#define CONN_LOAD_INIT { .listen_fd = -1 }

struct conn_load_spec {
        double rate; /* connections per second, all clients together; 0: as fast as they go */
        uint64_t count; /* connections in the run */
        double max_s; /* the clients stop after this long, done or not */
        unsigned clients; /* processes, 1 to CONN_LOAD_MAX_PROCESSES */
        bool reset; /* close with SO_LINGER 0 (RST), not FIN */
};

struct conn_load_result {
        uint64_t made; /* connected, then closed */
        uint64_t failed; /* socket(), bind() or connect() failed */
        int first_error; /* errno of the first failure, 0 if none */
        double seconds; /* from the scheduled start to the last client's last close */
        double cpu_s; /* the clients' utime + stime (wait4) */
        bool timed_out; /* max_s ran out before count */
};

/* Called while clients run, each time the watched fd turns readable. A
 * negative return stops the run and is passed back. */
typedef int (*conn_load_ready_fn)(void *userdata);

/* Listens on 127.0.0.1:port and starts n_servers accepting processes.
 * Logs its errors. Call conn_load_close() whatever it returns. */
int conn_load_open(struct conn_load *l, uint16_t port, unsigned n_servers);

/* One run. While the clients run, watch_fd (if >= 0) is polled and fn
 * called when it is readable, so that a bench can read events as they come;
 * at most once every min_interval_ms (0: at every wake-up).
 * Returns 0 (see ret for how the run went), or -errno when a client could
 * not be started or crashed, or -EINTR once *interrupted is set. */
int conn_load_run(struct conn_load *l, const struct conn_load_spec *spec, int watch_fd, unsigned min_interval_ms,
                  conn_load_ready_fn fn, void *userdata, const volatile sig_atomic_t *interrupted,
                  struct conn_load_result *ret);

/* Connections the servers accepted since conn_load_open(). */
uint64_t conn_load_accepted(const struct conn_load *l);

/* CPU ticks (utime + stime) the servers have used so far. */
uint64_t conn_load_server_ticks(const struct conn_load *l);

/* Waits (at most max_s) until no connection of this network namespace is
 * still on its way to CLOSE (so that every state change has fired), polling
 * sock_diag every 20 ms. Returns how many remain (0 too when sock_diag
 * fails). */
uint64_t conn_load_wait_closed(double max_s);

/* Stops and reaps the servers, closes the listener. */
void conn_load_close(struct conn_load *l);
