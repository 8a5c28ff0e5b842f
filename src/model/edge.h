/* Edges of the dependency graph, as the store keeps them.
 *
 *   client endpoint (addr, port 0, process) -> server endpoint (addr, port)
 *
 * A client endpoint's process is part of its identity: two programs on one
 * host that use the same server are two clients. A server endpoint is the
 * (addr, port) pair; the process serving it is an attribute, kept up to date
 * by the server's own agent. A side that runs no agent keeps process "". */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/process.h"

#define ND_ADDR_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

/* Which agent reported an observation. */
enum nd_edge_side {
        ND_SIDE_CLIENT = 1, /* from the client host's active flow */
        ND_SIDE_SERVER = 2, /* from the server host's passive flow */
};

struct nd_endpoint {
        char addr[ND_ADDR_TEXT_MAX];
        uint16_t port; /* 0 on the client side */
        char process[ND_PROCESS_NAME_MAX]; /* "" when unknown */
        int32_t pgid; /* -1 when unknown */
};

/* One edge observed once: what an agent's flush writes. */
struct nd_edge_observation {
        struct nd_endpoint client, server;
        enum nd_edge_side side;
        uint32_t connections; /* the most seen at once over the flush */
        uint32_t opened, failed; /* streaming mode: totals over the flush */
        uint32_t rtt_us; /* average smoothed RTT, 0 when unknown */
        uint64_t retrans, bytes_sent, bytes_received;
        /* Client side: how many client processes (distinct process groups:
         * two `nc` on one host are one client endpoint) the edge stands
         * for, the most at once over the flush; 0 when the process is
         * unknown. 0 on the server side, which cannot tell. */
        uint32_t processes;
};

/* An edge as a query returns it. */
struct nd_edge {
        int64_t id;
        struct nd_endpoint client, server;
        int64_t first_seen, last_seen; /* unix seconds */
        uint32_t connections; /* last count, or the most in the asked range */
        /* Streaming mode: connections opened and failed connects, over the
         * edge's life or in the asked range; 0 where only polling ran. */
        uint64_t opened, failed;
        uint8_t sides; /* bitmask of enum nd_edge_side that ever reported it */
        /* With a time range: the observation buckets (minutes) in it that
         * saw the edge; 0 without one. */
        uint32_t buckets;
        /* The client processes it stands for, as the client's agent last
         * reported (nd_edge_observation.processes); 0 when it never did.
         * client.pgid is the one that agent last reported for this edge,
         * not the endpoint's latest. */
        uint32_t client_processes;
};

struct nd_edge_list {
        struct nd_edge *items;
        size_t n, allocated;
};

int nd_edge_list_push(struct nd_edge_list *list, const struct nd_edge *e);
void nd_edge_list_done(struct nd_edge_list *list);
