/* Streaming mode's own view of the connections open now: every connection
 * the eBPF collector saw open and not yet close, keyed by socket cookie.
 * Connections opened before the collector was loaded are not in it (hybrid
 * mode's polling sees those). Bounded: past max, new connections are
 * counted as untracked instead. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "model/flow.h"

struct nd_live_connection {
        uint64_t cookie; /* 0: empty slot */
        enum nd_direction direction;
        uint64_t netns;
        struct nd_addr local, peer;
        uint16_t local_port, peer_port;
        struct nd_process process; /* pid 0 when unknown; no cgroup */
};

struct nd_live_connections {
        struct nd_live_connection *slots; /* open addressing, linear probing */
        size_t mask, n, max;
        uint64_t untracked;
};

void nd_live_connections_init(struct nd_live_connections *t, size_t max);
void nd_live_connections_done(struct nd_live_connections *t);

/* Adds or replaces c (c->cookie != 0). Returns 0, -ENOSPC when full (counted
 * as untracked) or -ENOMEM. */
int nd_live_connections_open(struct nd_live_connections *t, const struct nd_live_connection *c);
/* Forgets the connection; unknown cookies are ignored. */
void nd_live_connections_close(struct nd_live_connections *t, uint64_t cookie);

/* Folds every live connection into flows, as open (ND_COUNT_LIVE). */
int nd_live_connections_fold(const struct nd_live_connections *t, struct nd_flow_set *flows);
