/* What the eBPF event stream adds to the agent's snapshots (streaming and
 * hybrid modes): per flow, the connections opened and the connects that
 * failed since the previous snapshot; the listeners that stopped listening
 * (collect/listen_memory.h); and, in streaming mode, the connections open
 * now (agent/live_connections.h), which polling gives in hybrid mode. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/live_connections.h"
#include "collect/listen_memory.h"
#include "collect/tcp_event.h"
#include "model/flow.h"

struct nd_event_fold {
        struct nd_flow_set counts; /* opened and failed since the last snapshot */
        bool track_live;
        struct nd_live_connections live;
        struct nd_listen_memory *listeners; /* the caller's; may be NULL */
        uint64_t events, opened, failed, closed;
};

/* track_live: keep the open connections (streaming mode), at most max_live. */
void nd_event_fold_init(struct nd_event_fold *f, bool track_live, size_t max_live,
                        struct nd_listen_memory *listeners);
void nd_event_fold_done(struct nd_event_fold *f);

/* An nd_tcp_event_fn: folds one event. Returns 0 or -ENOMEM. */
int nd_event_fold_event(const struct nd_tcp_event *ev, void *userdata);

/* Adds what the events since the previous call say to a snapshot's flows
 * (sorted or not), then starts counting afresh. Returns 0 or -ENOMEM. */
int nd_event_fold_into(struct nd_event_fold *f, struct nd_flow_set *flows);
