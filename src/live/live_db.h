/* The live state of the fleet's links, as serve keeps it: an in-memory
 * SQLite database that probe reports update and operators query with
 * plain SQL (read-only). Its tables, as docs/connectivity.md describes:
 *
 *   hosts(name, dc, service, role, addrs, load, load5, load15, cpu,
 *         nginx_request_rate, nginx_error_rate, nginx_active, links,
 *         disconnects, broken_peers, broken, stale, state, interval_s,
 *         last_report)
 *   links(src, dst, port, kind, dst_host, dst_dc, dst_service, dst_role,
 *         sent, lost, refused, loss, rtt_p50, rtt_p99, state, state_since,
 *         history, last_report, ...)
 *   nginx_errors(host, status, rate)
 *   alerts(seq, ts, kind, subject, state, detail)
 *
 * A host is broken when at least 2 of its links are down, or at least 2
 * other hosts cannot reach it; it is stale when it has not reported for 3
 * of its intervals. Alerts are edges: a link going down or coming back, a
 * host turning broken, ok or stale. Thread-safe: one lock. */
#pragma once

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "live/link_state.h"
#include "live/live_query.h"
#include "live/report.h"
#include "model/role.h"

#define ND_LIVE_STALE_INTERVALS 3
#define ND_LIVE_BROKEN_LINKS 2 /* a host's own links down */
#define ND_LIVE_BROKEN_PEERS 2 /* other hosts that cannot reach it */
#define ND_LIVE_ALERTS_KEPT 10000
#define ND_LIVE_FORGET_S 86400 /* a stale host quiet this long is dropped */

struct nd_live;

/* The CREATE statements of the tables above, as one SQL text. */
const char *nd_live_schema(void);

int nd_live_new(const struct nd_link_policy *policy, struct nd_live **ret);
struct nd_live *nd_live_free(struct nd_live *live);

/* Replaces the role rules; hosts' dc, service and role follow at once. */
int nd_live_set_roles(struct nd_live *live, const struct nd_role_rules *rules);

/* Folds one report in, received at now (unix seconds). */
int nd_live_apply(struct nd_live *live, const struct nd_report *r, int64_t now, char *why, size_t why_size);
/* Marks hosts that stopped reporting stale (with their links), drops
 * those quiet for ND_LIVE_FORGET_S (unless broken), and keeps the alert
 * log bounded. Returns how many hosts turned stale. */
int nd_live_sweep(struct nd_live *live, int64_t now);

int nd_live_query(struct nd_live *live, const char *sql, const struct nd_query_limits *limits, json_t **ret,
                  char *why, size_t why_size);
/* {"alerts": [{"seq", "ts", "kind", "subject", "state", "detail"}, ...],
 *  "last_seq": N}: those after after_seq, oldest first, at most limit. */
int nd_live_alerts(struct nd_live *live, int64_t after_seq, size_t limit, json_t **ret);

struct nd_live_counts {
        size_t hosts, broken, stale, links, links_down;
};
void nd_live_counts(struct nd_live *live, struct nd_live_counts *ret);

/* Prometheus text: per-host summaries (links by state, loss ratio, an RTT
 * histogram), and one series per link only for links that are not ok. */
int nd_live_write_metrics(struct nd_live *live, FILE *out);
