/* What a server counts, for GET /metrics in Prometheus' text format:
 * flush posts and their edges by result, store write latency, read
 * requests, and the agents seen lately. Counters are atomics; the agents'
 * last reports are a map under a lock, pruned as /metrics reads it. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum nd_ingest_result {
        ND_INGEST_STORED,
        ND_INGEST_BAD_REQUEST, /* 400 */
        ND_INGEST_UNAUTHORIZED, /* 401 */
        ND_INGEST_FORBIDDEN, /* 403 */
        ND_INGEST_TOO_LARGE, /* 413 */
        ND_INGEST_OVERLOADED, /* 503: no store connection in time */
        ND_INGEST_STORE_ERROR, /* 503: the store failed */
        _ND_INGEST_RESULT_MAX,
};

enum nd_read_result {
        ND_READ_OK,
        ND_READ_CLIENT_ERROR, /* 4xx */
        ND_READ_OVERLOADED,
        ND_READ_FAILED, /* 5xx */
        _ND_READ_RESULT_MAX,
};

struct nd_metrics;

int nd_metrics_new(struct nd_metrics **ret);
void nd_metrics_free(struct nd_metrics *m);

void nd_metrics_ingest(struct nd_metrics *m, enum nd_ingest_result result, size_t edges);
void nd_metrics_store_write(struct nd_metrics *m, double seconds);
void nd_metrics_read(struct nd_metrics *m, enum nd_read_result result);
/* An agent reported now (its flush's hostname). */
void nd_metrics_agent_seen(struct nd_metrics *m, const char *hostname, int64_t now);

struct nd_metrics_gauges {
        size_t store_open, store_busy, store_waiting, reads_running;
        int64_t now;
        unsigned agent_window_s; /* "seen lately": within this */
};

/* The whole text, to out. */
int nd_metrics_write(struct nd_metrics *m, const struct nd_metrics_gauges *g, FILE *out);
