/* What an agent flush writes: host flows of several snapshots turned into
 * edge observations, one per edge.
 *
 *   active flow  (we connected):  client = us (addr, process), server = peer
 *   passive flow (we accepted):   client = peer (process unknown), server = us
 *
 * Within a snapshot, flows that map to the same edge (one program with two
 * pids) add up; across the snapshots of a flush an edge keeps the most
 * connections seen at once, and the latest RTT and counters; connections
 * opened and failed connects (streaming mode) add up. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "model/edge.h"
#include "model/flow.h"
#include "shared/strmap.h"

struct nd_edge_batch {
        struct nd_edge_observation *rows;
        uint32_t *snapshot_connections; /* per row: its sum in the current snapshot */
        uint32_t *snapshot_seq; /* per row: the snapshot that sum belongs to */
        size_t n, allocated;
        struct strmap index;
        uint32_t seq; /* snapshots added so far */
        int64_t first_ts, last_ts;
};

void nd_edge_batch_init(struct nd_edge_batch *b);
void nd_edge_batch_done(struct nd_edge_batch *b);
/* Empties the batch for the next flush, keeping its memory. */
void nd_edge_batch_clear(struct nd_edge_batch *b);

/* Adds one snapshot taken at ts. Loopback flows are left out unless
 * keep_loopback. Returns 0 or -ENOMEM. */
int nd_edge_batch_add_snapshot(struct nd_edge_batch *b, const struct nd_flow_set *flows, int64_t ts,
                               bool keep_loopback);
