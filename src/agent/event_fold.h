/* What the eBPF collector adds to the agent's snapshots (streaming and
 * hybrid modes): per flow, the connections opened and the connects that
 * failed since the previous snapshot, from the events; and the
 * connections open now, from the collector's listing of the sockets it
 * follows (nd_tcp_events_list_open()), in place of a polling scan. */
#pragma once

#include <stdint.h>

#include "collect/tcp_event.h"
#include "model/addr.h"
#include "model/flow.h"

/* A listening socket as its LISTEN event told it, with its owner: the
 * process that serves the connections it accepts. */
struct nd_event_listener {
        uint64_t netns;
        struct nd_addr addr;
        uint16_t port;
        uint32_t sockets; /* listening on it (SO_REUSEPORT: several) */
        struct nd_process owner;
};

struct nd_event_fold {
        struct nd_flow_set counts; /* opened and failed since the last snapshot */
        uint64_t opened, failed; /* since init, for the agent's exit line */
        struct nd_event_listener *listeners; /* from LISTEN events, less LISTEN_STOP */
        size_t n_listeners, allocated_listeners;
};

void nd_event_fold_init(struct nd_event_fold *f);
void nd_event_fold_done(struct nd_event_fold *f);

/* An nd_tcp_event_fn: folds one event. Returns 0 or -ENOMEM. */
int nd_event_fold_event(const struct nd_tcp_event *ev, void *userdata);

/* An nd_tcp_event_fn for nd_tcp_events_list_open(), userdata a struct
 * nd_flow_set: adds one open connection (ND_TCP_EVENT_OPEN), with its
 * bytes, RTT and retransmits, as the polling snapshot would. Other kinds
 * are ignored. Returns 0 or -ENOMEM. */
int nd_event_fold_open_connection(const struct nd_tcp_event *ev, void *userdata);

/* Names the owner of the listener that accepted each passive flow that
 * has none yet (the listing and the events know the process holding the
 * accepted socket: a PostgreSQL backend, not its postmaster). */
void nd_event_fold_listener_owners(const struct nd_event_fold *f, struct nd_flow_set *flows);

/* Adds what the events since the previous call say to a snapshot's flows
 * (sorted or not), then starts counting afresh. Returns 0 or -ENOMEM. */
int nd_event_fold_into(struct nd_event_fold *f, struct nd_flow_set *flows);
