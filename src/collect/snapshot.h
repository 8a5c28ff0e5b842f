/* One network namespace's sockets folded into host flows: first its
 * listening set, then every connection classified against it. */
#pragma once

#include "collect/listen_set.h"
#include "collect/sock_source.h"
#include "collect/socket_owners.h"
#include "model/flow.h"

struct nd_snapshot_counts {
        unsigned long sockets; /* connections folded */
        unsigned long unowned; /* ... of which no process could be found */
};

/* Adds the flows of the namespace src dumps to flows, tagged with netns.
 * owners may be NULL (no process attribution). listeners is scratch space
 * the caller keeps across calls to avoid reallocation; it is reset first. */
int nd_snapshot_collect(struct nd_sock_source *src, uint64_t netns,
                        struct nd_socket_owners *owners, struct nd_listen_set *listeners,
                        struct nd_flow_set *flows, struct nd_snapshot_counts *counts);

/* Classifies and folds one socket; exposed for replaying recorded dumps. */
int nd_snapshot_fold_socket(const struct nd_sock *s, uint64_t netns,
                            struct nd_socket_owners *owners, struct nd_listen_set *listeners,
                            struct nd_flow_set *flows, struct nd_snapshot_counts *counts);
