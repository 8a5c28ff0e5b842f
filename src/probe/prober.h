/* The agent's prober: probes exactly the links a host uses, a few times a
 * round, and says for each whether it answers, refuses or loses probes,
 * and how fast it answers.
 *
 * One thread (the caller's) runs a round at a time: every probe of the
 * round is outstanding at once on one epoll set, timed on
 * CLOCK_MONOTONIC. Probes of a target are spread over the round at a phase
 * of the target's own (src/probe/schedule.h), and every probe the host
 * sends goes through one token bucket (src/probe/token_bucket.h), so that
 * the prober never sends more than max_probes_per_s. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "probe/probe_target.h"

/* A zero field takes its default. */
struct nd_prober_options {
        unsigned probes_per_round; /* default 5 */
        uint64_t interval_ms;      /* a round's length, default 30000 */
        uint64_t timeout_ms;       /* a probe unanswered this long is lost, default 1000 */
        unsigned max_probes_per_s; /* global rate cap, default 100 */
        uint64_t phase_key;        /* e.g. hash of hostname: spreads fleets */
};

struct nd_prober;

/* Caller owns *ret; free with nd_prober_free(). -EINVAL for more than
 * 65,535 probes a round, or an interval or timeout longer than a week. */
int nd_prober_new(const struct nd_prober_options *o, struct nd_prober **ret);
struct nd_prober *nd_prober_free(struct nd_prober *p);

/* Replaces the targets (copied) from the next round on. Opens the ICMP
 * socket of each family an ICMP target needs: -EPERM or -EACCES when
 * neither a ping socket nor a raw one is permitted. -EINVAL for a target
 * of no known kind or family, or a TCP target without a port; -E2BIG when
 * n x probes_per_round passes 65,535 (ICMP sequence numbers name probes). */
int nd_prober_set_targets(struct nd_prober *p, const struct nd_probe_target *t, size_t n);

/* Runs one round lasting interval_ms: each target gets probes_per_round
 * probes spread over the round, at a per-link phase (hash of phase_key
 * and the target) plus jitter (±10% of the slot), under the global rate
 * cap: probes are delayed, never dropped silently. Probes leave within
 * the first interval_ms - timeout_ms of the round (all of it when the
 * timeout is not shorter), so that the last is answered or lost by the
 * round's end; when the cap makes the round impossible, the probes it
 * held back past that are not sent, and sent says so.
 *
 * *ret holds one result per target, in the order of the targets; caller
 * frees it with free(). Returns -ECANCELED early once nd_prober_stop()
 * was called, and at once for every round after. */
int nd_prober_run_round(struct nd_prober *p, struct nd_probe_result **ret, size_t *ret_n);

/* Ends the running round, and every later one. Safe from any thread or a
 * signal handler (one write to an eventfd). */
void nd_prober_stop(struct nd_prober *p);
