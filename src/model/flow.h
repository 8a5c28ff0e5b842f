/* Host flows: TCP connections folded by listening port (passive) or server endpoint (active).
 *
 *   passive (we accepted): keyed by (local addr, local port, peer addr);
 *                          the peer's port is folded ("many").
 *   active (we connected): keyed by (local addr, peer addr, peer port);
 *                          the local port is folded ("many").
 *
 * Flows are further split by network namespace and by owning process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/addr.h"
#include "model/process.h"

enum nd_direction {
        ND_DIRECTION_ACTIVE,
        ND_DIRECTION_PASSIVE,
};

const char *nd_direction_to_string(enum nd_direction d);

struct nd_tcp_stats {
        bool known; /* false where the source had no tcp_info (/proc/net/tcp) */
        uint32_t rtt_us_min, rtt_us_max;
        uint64_t rtt_us_sum; /* avg = rtt_us_sum / connections */
        uint64_t retrans;
        uint64_t bytes_sent, bytes_received;
};

struct nd_flow {
        enum nd_direction direction;
        uint64_t netns; /* inode of the network namespace */
        struct nd_addr local, peer;
        uint16_t local_port, peer_port; /* the folded side's port is 0 */
        uint32_t connections; /* open at the snapshot (polling) */
        /* Streaming mode (eBPF): connections opened, and connects that
         * failed, since the previous snapshot. */
        uint32_t opened, failed;
        bool has_process;
        struct nd_process process; /* cgroup owned by the flow */
        /* Passive flows: the owner of the listening socket that accepted
         * them. It serves the port, whichever process holds each accepted
         * socket (every PostgreSQL backend is a process group of its own).
         * Its cgroup is always NULL. */
        bool has_listener_owner;
        struct nd_process listener_owner;
        struct nd_tcp_stats tcp;
};

/* What a connection adds to its flow. */
enum nd_connection_count {
        ND_COUNT_LIVE, /* open now (a socket the poll found): connections */
        ND_COUNT_OPENED, /* opened since the previous snapshot (an event): opened */
        ND_COUNT_FAILED, /* a connect that failed (an event): failed */
};

/* One connection, as the aggregator receives it. */
struct nd_connection {
        enum nd_connection_count count;
        enum nd_direction direction;
        uint64_t netns;
        struct nd_addr local, peer;
        uint16_t local_port, peer_port;
        const struct nd_process *process; /* NULL when unknown; copied */
        /* Passive: the listener's owner, NULL when unknown; copied
         * without its cgroup. */
        const struct nd_process *listener_owner;
        bool has_tcp_info;
        uint32_t rtt_us, retrans;
        uint64_t bytes_sent, bytes_received;
};

struct nd_flow_set {
        struct nd_flow *flows;
        size_t n, allocated;
        uint32_t *index; /* open addressing over flows; NULL after sorting */
        size_t index_mask;
};

void nd_flow_set_init(struct nd_flow_set *set);
void nd_flow_set_done(struct nd_flow_set *set);

/* Folds one connection into its flow, creating the flow if needed.
 * Returns 0 or -ENOMEM. */
int nd_flow_set_add(struct nd_flow_set *set, const struct nd_connection *c);

/* Copies every flow of src into dst, which holds none of them yet: counts,
 * tcp aggregates, process, listener's owner. Returns 0 or -ENOMEM. */
int nd_flow_set_copy(struct nd_flow_set *dst, const struct nd_flow_set *src);

/* Adds the opened and failed counts of another set's flow to the flow of
 * the same key, creating it if needed. Returns 0 or -ENOMEM. */
int nd_flow_set_add_counts(struct nd_flow_set *set, const struct nd_flow *counts);

/* Sorts flows into their stable presentation order: netns, local endpoint,
 * peer endpoint, direction, pid. */
void nd_flow_set_sort(struct nd_flow_set *set);

/* Removes the flows for which keep() returns false, preserving order. */
void nd_flow_set_filter(struct nd_flow_set *set, bool (*keep)(const struct nd_flow *f, void *userdata),
                        void *userdata);

static inline uint32_t nd_flow_rtt_us_avg(const struct nd_flow *f)
{
        return f->connections ? (uint32_t)(f->tcp.rtt_us_sum / f->connections) : 0;
}
