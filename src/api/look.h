/* The "look" question: the dependency tree of a host or a role.
 *
 * in  (<--): who connects to it — roots are its server endpoints, children
 *            the clients that connect to them, then who connects to those
 *            clients, and so on;
 * out (-->): what it connects to — roots are its client endpoints, children
 *            the servers they use, then what those servers' hosts use.
 *
 * A node whose label already appears on its path is marked as a cycle and
 * not expanded. A label is expanded once per direction: where it shows up
 * again its subtree is not repeated, and the node says so (seen), the way
 * `npm ls` dedupes — so the tree grows with the edges reachable, not with
 * the paths to them. The store is asked once per level and direction, or
 * for a level of more than 256 nodes once per batch of them (256, 512, ...),
 * which stops when the tree is full (ND_LOOK_MAX_NODES). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "api/graph.h"
#include "model/endpoint_graph.h"
#include "model/process_set.h"

#define ND_LOOK_MAX_DEPTH 10
#define ND_LOOK_MAX_NODES 200000 /* past this the tree is cut, and says so */

enum nd_look_direction {
        ND_LOOK_IN = 1,
        ND_LOOK_OUT = 2,
        ND_LOOK_BOTH = 3,
};

struct nd_look_options {
        const char *host; /* an address or a hostname; or */
        const char *role; /* SERVICE:ROLE */
        int port; /* 0: any; else only that server port at the start */
        int depth; /* 1..ND_LOOK_MAX_DEPTH */
        enum nd_look_direction direction;
        struct nd_time_range range;
        /* > 0: only edges seen in the active_s seconds before the end of
         * the range (or now), the current view. */
        int64_t active_s;
        int64_t now;
        bool by_role;
        unsigned resolve_ms; /* > 0: reverse-DNS names, within this budget */
};

/* One endpoint in the tree, and the edge to its parent.
 *
 * A server node is (label, port), with the process that serves it. A
 * client node is (label, process): two processes of one name on one host
 * are one node that says how many it stands for. Below the first level a
 * node's edge meets its parent's host at another endpoint than the parent
 * itself: peer_process names the process at that end (in: the one serving
 * to_port; out: the client process that makes the call), so that no line
 * suggests a process makes a call it does not. */
struct nd_look_node {
        char label[ND_LABEL_MAX]; /* address, or service:role */
        const char *name; /* nd_graph_name() of the label, or NULL */
        uint16_t port; /* a server node's port; 0 for a client node ("many") */
        uint16_t to_port; /* a client node: the port it connects to */
        char process[ND_PROCESS_NAME_MAX];
        int32_t pgid; /* -1 unknown, or not the same across folded edges */
        uint32_t processes; /* a client node: processes of that name (0 unknown) */
        bool at_least; /* ... at least that many */
        struct nd_process_set pgids; /* what processes and pgid say */
        char peer_process[ND_PROCESS_NAME_MAX];
        uint32_t connections; /* on the edge to the parent; 0 for roots */
        uint64_t opened, failed; /* ... connections opened, failed connects (streaming mode) */
        int64_t first_seen, last_seen; /* ... the edge's, or a root's over its edges */
        enum nd_look_direction direction; /* of the edge to the parent */
        bool cycle;
        bool seen; /* expanded elsewhere in the tree already */
        struct nd_look_node *children;
        size_t n_children;
};

struct nd_look_result {
        struct nd_look_node *in_roots, *out_roots;
        size_t n_in, n_out;
        size_t n_nodes;
        bool truncated;
        int64_t as_of; /* now, or the end of the asked range: ages count back from it */
};

/* Builds the tree. -ENOENT when the host or role is unknown, -ENODATA when
 * it has no edges in the range. */
int nd_look(struct nd_graph *g, const struct nd_look_options *o, struct nd_look_result *ret);
void nd_look_result_done(struct nd_look_result *r);

/* The tree as one picture (model/endpoint_graph.h, grouped by process):
 * each parent/child pair is an edge between a client endpoint and a server
 * endpoint, so an endpoint met several times in the tree is one node. */
int nd_look_picture(const struct nd_look_result *r, struct nd_endpoint_graph *g);
