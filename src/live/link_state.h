/* A link's health over rounds, without flapping.
 *
 * A round fails when at least half its probes were lost or refused: one
 * probe lost in five is noted ("loss") but fails nothing. A link goes
 * down once down_after of its last `window` rounds failed (3 of 5), and
 * comes back only after up_after clean rounds in a row (5). A down link is
 * "refused" when most of its failed rounds were refused (the host answers,
 * the service does not) and "down" otherwise. Pure: no clock, no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "live/report.h"

#define ND_LINK_HISTORY_MAX 32

enum nd_link_health {
        ND_HEALTH_OK,
        ND_HEALTH_LOSS, /* up, but its last round lost probes */
        ND_HEALTH_DOWN,
        ND_HEALTH_REFUSED,
        ND_HEALTH_STALE, /* its reporter went quiet */
};

struct nd_link_policy {
        unsigned down_after; /* k failed rounds ... */
        unsigned window; /* ... of the last n (n <= ND_LINK_HISTORY_MAX) */
        unsigned up_after; /* clean rounds in a row to come back */
};

#define ND_LINK_POLICY_DEFAULT ((struct nd_link_policy){ .down_after = 3, .window = 5, .up_after = 5 })

struct nd_link_state {
        uint32_t failed_bits; /* bit 0: the last round; 1: it failed */
        uint32_t refused_bits; /* of those, the ones mostly refused */
        uint32_t lossy_bits; /* rounds that lost a probe, failed or not */
        unsigned rounds; /* seen, up to ND_LINK_HISTORY_MAX */
        unsigned clean_run; /* clean rounds in a row, up to up_after */
        bool down; /* down or refused */
        enum nd_link_health health;
};

const char *nd_link_health_name(enum nd_link_health h);
/* -EINVAL unless "ok", "loss", "down", "refused" or "stale". */
int nd_link_health_parse(const char *s, enum nd_link_health *ret);
/* Whether a policy makes sense: 1 <= down_after <= window <= 32, up_after >= 1. */
bool nd_link_policy_valid(const struct nd_link_policy *p);

/* Folds one round into s. Returns true when the link crossed between up
 * and down (or between down and refused): the edge an alert is raised on.
 * A round with nothing sent changes nothing. */
bool nd_link_state_fold(struct nd_link_state *s, const struct nd_link_policy *p, const struct nd_link_result *l);

/* The last rounds, oldest first, one character each: '.' clean, 'l' a
 * probe lost, 'X' failed (lost), 'R' failed (refused). buf holds
 * ND_LINK_HISTORY_MAX + 1 bytes. */
const char *nd_link_state_history(const struct nd_link_state *s, unsigned window, char *buf);
