/* The dependency graph as one picture: every endpoint once, and the edges
 * between them, the way `graph` and `look --format dot` draw it.
 *
 * Nodes are grouped by process (the default) or by host:
 *
 *   by process: a server endpoint is (label, port), with the process that
 *               serves it; a client endpoint is (label, process). Two
 *               processes of one name on one host are one client node that
 *               says how many it stands for (nc ×2).
 *   by host:    one node per label (an address, or a service:role when the
 *               labels are roles), with the ports its edges go to.
 *
 * Edges are client -> server; adding the same pair again folds it in:
 * connections and counts add up, the times widen. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/process.h"
#include "model/process_set.h"
#include "shared/strmap.h"

#define ND_ENDPOINT_LABEL_MAX 160
#define ND_ENDPOINT_PORTS_MAX 4 /* ports an edge between hosts lists; past that, "..." */

enum nd_node_kind {
        ND_NODE_SERVER, /* (label, port) */
        ND_NODE_CLIENT, /* (label, process) */
        ND_NODE_HOST, /* (label) */
};

enum nd_graph_grouping {
        ND_GROUP_BY_PROCESS,
        ND_GROUP_BY_HOST,
};

/* One side of an edge as it is added. */
struct nd_endpoint_ref {
        const char *label;
        const char *name; /* for people (a hostname), or NULL */
        uint16_t port; /* the server side's; 0 on the client side */
        const char *process; /* "" when unknown */
        int32_t pgid; /* -1 when unknown */
        uint32_t processes; /* client side: processes of that name, 0 unknown */
};

struct nd_edge_counts {
        uint32_t connections;
        uint64_t opened, failed;
        int64_t first_seen, last_seen;
};

struct nd_endpoint_node {
        enum nd_node_kind kind;
        char label[ND_ENDPOINT_LABEL_MAX];
        char *name; /* owned; NULL when none */
        uint16_t port;
        char process[ND_PROCESS_NAME_MAX];
        int32_t pgid; /* -1 unknown, or several */
        uint32_t processes; /* a client node: processes of that name, 0 unknown */
        bool at_least; /* ... at least that many */
        struct nd_process_set pgids; /* what processes and pgid say */
};

struct nd_endpoint_link {
        uint32_t client, server; /* node indexes */
        uint16_t ports[ND_ENDPOINT_PORTS_MAX]; /* by host: the server ports, in order met */
        uint8_t n_ports;
        bool more_ports;
        struct nd_edge_counts counts;
};

struct nd_endpoint_graph;
typedef int (*nd_endpoint_link_fn)(const struct nd_endpoint_graph *g, const struct nd_endpoint_link *l,
                                   void *userdata);

struct nd_endpoint_graph {
        enum nd_graph_grouping grouping;
        /* Streaming: each edge goes to sink as it is added and is not kept
         * (nodes are). */
        nd_endpoint_link_fn sink;
        void *sink_userdata;
        struct nd_endpoint_node *nodes;
        size_t n_nodes, allocated_nodes;
        struct nd_endpoint_link *links;
        size_t n_links, allocated_links;
        struct strmap node_index; /* node key -> index */
        uint32_t *link_slots; /* open addressing by (client, server): link index + 1, 0 empty */
        size_t link_mask;
};

void nd_endpoint_graph_init(struct nd_endpoint_graph *g, enum nd_graph_grouping grouping);
void nd_endpoint_graph_done(struct nd_endpoint_graph *g);

/* From now on, hands each added edge to sink instead of keeping it: for a
 * picture of the whole store by process, where no pair comes twice (a
 * store edge is one client and one server endpoint), in memory that grows
 * with the endpoints, not the edges. Pairs are not folded then. */
void nd_endpoint_graph_stream(struct nd_endpoint_graph *g, nd_endpoint_link_fn sink, void *userdata);

/* Adds the edge client -> server, folding it into the same pair. Returns 0,
 * -ENOMEM, or what the sink returned. */
int nd_endpoint_graph_add(struct nd_endpoint_graph *g, const struct nd_endpoint_ref *client,
                          const struct nd_endpoint_ref *server, const struct nd_edge_counts *counts);

/* Sorts nodes (by label, kind, port, process) and links (by client, server)
 * into a stable order for printing; indexes are rewritten. */
int nd_endpoint_graph_sort(struct nd_endpoint_graph *g);
