/* The agent's probing: a thread that keeps this host's peer list from the
 * server (GET /api/v1/peers, fetched again every few minutes, sent only
 * when it changed), probes those links round after round, samples the
 * host's indicators, and posts a report each round (POST /api/v1/report).
 *
 * Reports are live state, not history: one the server cannot take is
 * dropped, and the next round's replaces it. */
#pragma once

#include <stdint.h>

#include "indicators/indicators.h"

struct nd_probe_loop_options {
        const char *server_url, *token_file, *ca_file;
        const char *hostname;
        uint64_t interval_ms; /* a round */
        unsigned probes_per_round;
        uint64_t timeout_ms; /* a probe's */
        unsigned max_probes_per_s;
        uint64_t peers_every_ms; /* how often the peer list is asked for */
        struct nd_indicators_options indicators;
};

struct nd_probe_loop;

/* Starts the thread. -EINVAL (why says) for a bad server URL or token. */
int nd_probe_loop_start(const struct nd_probe_loop_options *o, struct nd_probe_loop **ret, char *why,
                        size_t why_size);
/* Stops it (within a moment: a round is cut short) and frees it. */
struct nd_probe_loop *nd_probe_loop_stop(struct nd_probe_loop *l);
