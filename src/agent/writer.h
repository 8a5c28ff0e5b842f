/* The agent's writer: a thread that takes flushes from a bounded queue and
 * writes them to the store, so that collection never waits for the store.
 *
 * Store down or slow: flushes wait in the queue; past max_queued the oldest
 * are dropped and counted; retries back off (1 s doubling to 30 s); one log
 * line per change of state, not per retry. What the queue still holds at
 * stop goes to the spool, and the next writer delivers it first. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/destination.h"
#include "agent/flush.h"

struct nd_writer_stats {
        uint64_t written, dropped, failures;
        /* Flushes the destination refused for good (a server's 400 or
         * 413): lost. */
        uint64_t rejected;
        size_t queued;
        bool store_up;
        /* The spool: flushes found there at start and written to the store,
         * and files set aside as unreadable. */
        uint64_t spool_delivered, spool_set_aside;
        /* At stop, the flushes left in the queue: spooled, not spooled (lost),
         * and the spooled files (older ones first) dropped for the spool's
         * bound (lost); spool_error: why the first one could not be. */
        size_t spooled, spool_failed, spool_dropped;
        int spool_error;
};

struct nd_writer;

/* retention_s: observations older than this are pruned about hourly
 * (0: never). spool_dir (NULL: none): where flushes the store did not take
 * are kept at stop, and delivered from, oldest first, before anything
 * else, from the start on (agent/spool.h). */
int nd_writer_start(const struct nd_destination_config *dest, size_t max_queued, uint64_t retention_s, const char *spool_dir,
                    struct nd_writer **ret);

/* Queues a flush, taking ownership of it even on failure. */
void nd_writer_submit(struct nd_writer *w, struct nd_flush *f);

/* Writes what it can within timeout_ms, then stops the thread, spools
 * what is left in the queue and frees everything. Returns how many flushes
 * were lost (neither written nor spooled, or dropped for the spool's
 * bound, or refused by the destination); the final figures go to
 * ret_stats if not NULL. */
size_t nd_writer_stop(struct nd_writer *w, unsigned timeout_ms, struct nd_writer_stats *ret_stats);
