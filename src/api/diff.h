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

/* An edge that is in one range and not the other is only new (or gone)
 * when it was never seen before the first range ended (or after the
 * second started). Otherwise the range that lacks it fell into a gap of
 * its sightings — a program that connects now and then, or connections
 * too short for every scan to see — and it is listed apart, not called
 * new or gone. */
struct nd_diff_result {
        struct nd_labeled_edges appeared; /* in after, first seen after before ended; counts from after */
        struct nd_labeled_edges vanished; /* in before, last seen before after started; counts from before */
        struct nd_labeled_edges missed_before; /* in after, not before, yet seen before it: a gap */
        struct nd_labeled_edges missed_after; /* in before, not after, yet seen after it: a gap */
        size_t unchanged;
};

/* The edges of the host or role that appeared and vanished between the two
 * ranges. Returns 0 (*ret set; free with nd_diff_result_done()), -ENOENT
 * for an unknown hostname or role, -ENODATA when neither range holds an
 * edge of it (as nd_look()), or another -errno. */
int nd_diff(struct nd_graph *g, const struct nd_diff_options *o, struct nd_diff_result *ret);
void nd_diff_result_done(struct nd_diff_result *r);
