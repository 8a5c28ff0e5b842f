/* The agent's writer: a thread that takes flushes from a bounded queue and
 * writes them to the store, so that collection never waits for the store.
 *
 * Store down or slow: flushes wait in the queue; past max_queued the oldest
 * are dropped and counted; retries back off (1 s doubling to 30 s); one log
 * line per change of state, not per retry. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* One flush, owning its memory. */
struct nd_flush {
        char *hostname;
        char **host_addrs;
        size_t n_host_addrs;
        int64_t ts, first_ts;
        struct nd_edge_observation *rows;
        size_t n_rows;
};

struct nd_flush *nd_flush_free(struct nd_flush *f);
/* Writes one flush to an open store, in one transaction. */
int nd_flush_write(struct nd_store *s, const struct nd_flush *f);

struct nd_writer_stats {
        uint64_t written, dropped, failures;
        size_t queued;
        bool store_up;
};

struct nd_writer;

/* retention_s: observations older than this are pruned about hourly
 * (0: never). */
int nd_writer_start(const char *store_uri, size_t max_queued, uint64_t retention_s, struct nd_writer **ret);

/* Queues a flush, taking ownership of it even on failure. */
void nd_writer_submit(struct nd_writer *w, struct nd_flush *f);

/* Writes what it can within timeout_ms, then stops the thread and frees
 * everything. Returns how many flushes were left unwritten; the final
 * figures go to ret_stats if not NULL. */
size_t nd_writer_stop(struct nd_writer *w, unsigned timeout_ms, struct nd_writer_stats *ret_stats);
