/* The "diff" question: the edges of a host (both directions) that appeared
 * or vanished between two time ranges. */
#pragma once

#include "api/graph.h"

struct nd_diff_options {
        const char *host; /* or */
        const char *role;
        struct nd_time_range before, after;
        bool by_role;
};

struct nd_diff_result {
        struct nd_labeled_edges appeared; /* in after, not in before; counts from after */
        struct nd_labeled_edges vanished; /* in before, not in after; counts from before */
        size_t unchanged;
};

/* The edges of the host or role that appeared and vanished between the two
 * ranges. Returns 0 (*ret set; free with nd_diff_result_done()), -ENOENT
 * for an unknown hostname or role, -ENODATA when neither range holds an
 * edge of it (as nd_look()), or another -errno. */
int nd_diff(struct nd_graph *g, const struct nd_diff_options *o, struct nd_diff_result *ret);
void nd_diff_result_done(struct nd_diff_result *r);
