/* Several servers, one live state: each server passes the probe reports
 * its agents post on to its peers (`serve --live-peers`), which fold them
 * in as their own. Every server then answers `query` and `check` for the
 * whole fleet, and one that goes down loses nothing the others hold.
 *
 * A peer gets each report once, in the order its server took them, over
 * one kept-alive connection (POST /api/v1/report/forwarded, an admin
 * token). Reports are live state: while a peer is down they wait in a
 * bounded queue, and those older than a minute are dropped, not sent. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ND_LIVE_FORWARD_PATH "/api/v1/report/forwarded"
#define ND_LIVE_FORWARD_QUEUE 10000
#define ND_LIVE_FORWARD_MAX_AGE_S 60

struct nd_live_forward;

/* peers: comma-separated URLs. -EINVAL with why for a bad URL or token. */
int nd_live_forward_start(const char *peers, const char *token_file, const char *ca_file,
                          struct nd_live_forward **ret, char *why, size_t why_size);
struct nd_live_forward *nd_live_forward_stop(struct nd_live_forward *f);

/* Queues a report (its JSON, copied) for every peer. */
void nd_live_forward_report(struct nd_live_forward *f, const char *json, size_t size);

struct nd_live_forward_stats {
        uint64_t sent, dropped, failed;
};
void nd_live_forward_stats(struct nd_live_forward *f, struct nd_live_forward_stats *ret);
