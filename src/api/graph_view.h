/* The "graph" question: the stored graph as one picture (model/endpoint_graph.h),
 * whole or the neighbourhood of a host or role. */
#pragma once

#include "api/graph.h"
#include "model/endpoint_graph.h"

struct nd_graph_view_options {
        const char *host; /* an address or hostname; or */
        const char *role; /* SERVICE:ROLE; neither: the whole store */
        int depth; /* with host or role: hops from it, either way, 1..ND_LOOK_MAX_DEPTH */
        struct nd_time_range range;
        int64_t active_s, now; /* as nd_look_options */
        unsigned resolve_ms; /* > 0: reverse-DNS names, within this budget */
};

/* Adds the edges to out, grouped as out says (labels are roles when g
 * groups by role). -ENOENT for an unknown host or role, -ENODATA when
 * nothing is in the range. */
int nd_graph_view(struct nd_graph *g, const struct nd_graph_view_options *o, struct nd_endpoint_graph *out);
