/* One agent flush: a host, its addresses, and the edges it saw between
 * two snapshots. What the agent queues, spools, sends to a server, and
 * what a store or a server writes in one go. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "collect/host_addrs.h"
#include "store/store.h"

/* One flush, owning its memory. */
struct nd_flush {
        char *hostname;
        /* The addresses the store maps to hostname, and (agent --all-netns)
         * those of each named network namespace, to its name. */
        struct nd_host_addrs addrs;
        int64_t ts, first_ts;
        struct nd_edge_observation *rows;
        size_t n_rows;
};

struct nd_flush *nd_flush_free(struct nd_flush *f);

/* Writes one flush to an open store: the named namespaces' addresses
 * first, each in a transaction of its own (written again they change
 * nothing), then the edges and the host's addresses in one transaction, so
 * that a failure never leaves half the edges written. */
int nd_flush_write(struct nd_store *s, const struct nd_flush *f);

/* Splits f into flushes of at most max_rows rows each, in row order; the
 * addresses go with the first only. f is freed (also on failure). Caller
 * owns the array and the flushes in *ret. */
int nd_flush_split(struct nd_flush *f, size_t max_rows, struct nd_flush ***ret, size_t *ret_n);
