/* What an agent flush writes: host flows of several snapshots turned into
 * edge observations, one per edge.
 *
 *   active flow  (we connected):  client = us (addr, process), server = peer
 *   passive flow (we accepted):   client = peer (process unknown), server = us
 *
 * The server's process is the owner of the listener that accepted the
 * flow where the snapshot knows it, else the flow's own.
 *
 * Within a snapshot, flows that map to the same edge (one program with two
 * pids) add up; across the snapshots of a flush an edge keeps the most
 * connections seen at once, and the latest RTT and counters; connections
 * opened and failed connects (streaming mode) add up. A client-side edge
 * counts the distinct process groups of its flows in a snapshot, and keeps
 * the most over the flush (processes). */
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
        uint32_t *snapshot_processes; /* per row: its process groups in that snapshot */
        size_t n, allocated;
        struct strmap index;
        /* The (row, pgid) pairs of the current snapshot: open addressing,
         * 0 an empty slot, emptied at each snapshot. */
        uint64_t *pgids;
        size_t pgids_mask, n_pgids;
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
