/* Many established loopback TCP connections, held by real processes in a
 * network namespace of their own, for the benchmarks to measure tools on.
 *
 * Server processes listen on HOLD_PORTS_PER_SERVER ports of 127.0.0.1 and
 * accept continuously; client i connects only to server i, rotating over
 * the LOOPBACK_SOURCES source addresses (loopback_socket(): ephemeral
 * ports are shared per destination).
 * No process holds more than HOLD_CONNECTIONS_PER_PROCESS sockets, well
 * under a 20,000-fd hard limit. Sockets close with RST, so killing the
 * holders leaves no TIME_WAIT behind. */
#pragma once

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench-util.h"

#define HOLD_MAX_CONNECTIONS 500000
#define HOLD_CONNECTIONS_PER_PROCESS 12500
#define HOLD_MIN_PROCESSES_PER_SIDE 2
#define HOLD_MAX_PROCESSES_PER_SIDE \
        ((HOLD_MAX_CONNECTIONS + HOLD_CONNECTIONS_PER_PROCESS - 1) / HOLD_CONNECTIONS_PER_PROCESS)
#define HOLD_PORTS_PER_SERVER 2

/* As many client processes as server processes. */
struct hold_layout {
        uint32_t connections;
        uint32_t per_side;
};

struct hold {
        pid_t pids[2 * HOLD_MAX_PROCESSES_PER_SIDE];
        size_t n;
        int report_read, report_write;
};

#define HOLD_INIT { .report_read = -1, .report_write = -1 }

struct hold_options {
        unsigned setup_timeout_s; /* to establish every connection */
        unsigned lifetime_s;      /* after which holders exit on their own */
        /* Set by the caller's signal handler: the waits give up with -EINTR. */
        const volatile sig_atomic_t *interrupted;
};

/* connections must be at most HOLD_MAX_CONNECTIONS. */
struct hold_layout hold_layout_for(uint32_t connections);

/* Moves the calling process into a new network namespace with lo up, a
 * wide ephemeral port range and deep accept queues. Needs CAP_SYS_ADMIN.
 * Logs its errors. */
int hold_enter_fresh_netns(void);

/* Starts the servers, then the clients, and returns once every connection
 * is established and accepted. Logs its errors. Call hold_stop() whatever
 * it returns. */
int hold_start(struct hold *h, const struct hold_layout *l, const struct hold_options *o);

/* Kills and reaps every holder. */
void hold_stop(struct hold *h);
