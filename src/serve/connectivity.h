/* The server's half of connectivity: agents fetch their peer lists and
 * post probe reports; readers query the live state and its alerts.
 *
 *   GET  /api/v1/peers?host=H      H's links, with an ETag
 *   POST /api/v1/report            a probe report (live/report.h)
 *   GET  /api/v1/query?sql=S       read-only SQL over the live state
 *   GET  /api/v1/alerts?since=SEQ  edge-triggered alerts after SEQ
 *
 * Each server keeps the live state of the agents that report to it, in
 * memory; the peer lists come from the shared store. No HTTP here: each
 * call fills an answer that serve.c sends. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "live/live_db.h"
#include "serve/store_pool.h"

struct nd_connectivity_options {
        const char *peers_file; /* NULL: none */
        uint64_t peer_window_s; /* edges seen within it make links */
        unsigned discovered_kinds; /* ND_PEER_*: how discovered links are probed */
        struct nd_link_policy policy;
        struct nd_query_limits query_limits;
};

struct nd_answer {
        unsigned status;
        char *body; /* malloc'd; NULL for none */
        size_t size;
        const char *content_type;
        char etag[40]; /* "" for none */
        unsigned retry_after_s;
};

struct nd_connectivity;

/* Reads the peers file (-EINVAL, logged, when it is wrong) and starts the
 * thread that marks quiet hosts stale and reloads the role rules. */
int nd_connectivity_new(const struct nd_connectivity_options *o, struct nd_store_pool *pool,
                        struct nd_connectivity **ret);
struct nd_connectivity *nd_connectivity_free(struct nd_connectivity *c);

/* bound_host: the host an agent token writes for; NULL for any. */
int nd_connectivity_report(struct nd_connectivity *c, const char *json, size_t size, const char *bound_host,
                           struct nd_answer *ret);
int nd_connectivity_peers(struct nd_connectivity *c, const char *host, const char *bound_host,
                          const char *if_none_match, struct nd_answer *ret);
int nd_connectivity_query(struct nd_connectivity *c, const char *sql, const char *limit, struct nd_answer *ret);
int nd_connectivity_alerts(struct nd_connectivity *c, const char *since, struct nd_answer *ret);
int nd_connectivity_write_metrics(struct nd_connectivity *c, FILE *out);
