/* A server's store connections: at most size of them, opened on demand,
 * shared by the request threads. A PostgreSQL server sees no more
 * sessions than that, however many agents report.
 *
 * Waiting is bounded twice: at most max_waiting requests wait for a
 * connection, each at most wait_ms; past either the caller answers 503
 * and the agent comes back later. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct nd_store_pool;

int nd_store_pool_new(const char *uri, size_t size, size_t max_waiting, unsigned wait_ms,
                      struct nd_store_pool **ret);
void nd_store_pool_free(struct nd_store_pool *p);

/* A connection, opened (and its schema checked) if none is idle. -EBUSY:
 * too many waiting already, or none freed within wait_ms. Another
 * negative: the store cannot be opened; why says so. */
int nd_store_pool_take(struct nd_store_pool *p, struct nd_store **ret, char *why, size_t why_size);
/* Gives it back; broken: it failed, close it (the next take opens one
 * afresh). */
void nd_store_pool_give(struct nd_store_pool *p, struct nd_store *s, bool broken);

struct nd_store_pool_stats {
        size_t open, busy, waiting;
};
void nd_store_pool_stats(struct nd_store_pool *p, struct nd_store_pool_stats *ret);
