/* The "impact" question: everything that depends on a host or role,
 * transitively — or, reversed, everything it depends on.
 *
 * A depends on B when a client on A connects to a server on B. From the
 * target, hop by hop (breadth first), each label found gets the hop it was
 * first found at (depth) and how many shortest dependency chains lead to it
 * from the target (paths: the sum of its predecessors' paths, one hop
 * nearer). A label is counted once; cycles end where they meet a label
 * found already. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api/graph.h"

struct nd_impact_options {
        const char *host; /* an address or hostname; or */
        const char *role; /* SERVICE:ROLE */
        bool reverse; /* what it depends on, not what depends on it */
        int depth; /* hops, 1..ND_IMPACT_MAX_DEPTH */
        struct nd_time_range range;
        int64_t active_s, now; /* as nd_look_options */
        unsigned resolve_ms; /* > 0: reverse-DNS names, within this budget */
};

#define ND_IMPACT_MAX_DEPTH 64

struct nd_impact_entry {
        const char *label; /* the graph's (valid until nd_graph_done()) */
        const char *name; /* nd_graph_name(), or NULL */
        int depth;
        uint64_t paths; /* saturates at UINT64_MAX */
};

struct nd_impact_result {
        struct nd_impact_entry *items; /* by depth, then label */
        size_t n;
        bool cut; /* labels were left at the depth limit */
};

/* -ENOENT for an unknown host or role, -ENODATA when it has no edges in
 * the range. */
int nd_impact(struct nd_graph *g, const struct nd_impact_options *o, struct nd_impact_result *ret);
void nd_impact_result_done(struct nd_impact_result *r);
