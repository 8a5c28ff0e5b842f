#include "model/edge_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t pgid_slot(const uint64_t *slots, size_t mask, uint64_t entry)
{
        uint64_t h = entry * UINT64_C(0x9e3779b97f4a7c15);
        size_t i = (size_t)(h >> 32) & mask;

        while (slots[i] != 0 && slots[i] != entry)
                i = (i + 1) & mask;
        return i;
}

/* Notes that row i has a flow of process group pgid in the current
 * snapshot. Returns 1 the first time, 0 after, or -ENOMEM. */
static int add_pgid(struct nd_edge_batch *b, size_t i, pid_t pgid)
{
        uint64_t entry = ((uint64_t)(i + 1) << 32) | (uint32_t)pgid; /* never 0: row + 1 */
        size_t slot;

        if (!b->pgids || (b->n_pgids + 1) * 2 > b->pgids_mask + 1) {
                size_t capacity = b->pgids ? (b->pgids_mask + 1) * 2 : 64;
                uint64_t *slots = calloc(capacity, sizeof(*slots));

                if (!slots)
                        return -ENOMEM;
                for (size_t k = 0; b->pgids && k <= b->pgids_mask; k++)
                        if (b->pgids[k])
                                slots[pgid_slot(slots, capacity - 1, b->pgids[k])] = b->pgids[k];
                free(b->pgids);
                b->pgids = slots;
                b->pgids_mask = capacity - 1;
        }
        slot = pgid_slot(b->pgids, b->pgids_mask, entry);
        if (b->pgids[slot] == entry)
                return 0;
        b->pgids[slot] = entry;
        b->n_pgids++;
        return 1;
}

static void clear_pgids(struct nd_edge_batch *b)
{
        if (b->n_pgids > 0)
                memset(b->pgids, 0, (b->pgids_mask + 1) * sizeof(*b->pgids));
        b->n_pgids = 0;
}

void nd_edge_batch_init(struct nd_edge_batch *b)
{
        *b = (struct nd_edge_batch){};
        strmap_init(&b->index);
}

void nd_edge_batch_done(struct nd_edge_batch *b)
{
        free(b->rows);
        free(b->snapshot_connections);
        free(b->snapshot_seq);
        free(b->snapshot_processes);
        free(b->pgids);
        strmap_done(&b->index);
        nd_edge_batch_init(b);
}

void nd_edge_batch_clear(struct nd_edge_batch *b)
{
        b->n = 0;
        b->seq = 0;
        b->first_ts = b->last_ts = 0;
        clear_pgids(b);
        strmap_done(&b->index);
        strmap_init(&b->index);
}

static int ensure_room(struct nd_edge_batch *b)
{
        size_t want;

        if (b->n < b->allocated)
                return 0;
        want = b->allocated ? b->allocated * 2 : 64;
        struct nd_edge_observation *rows = reallocarray(b->rows, want, sizeof(*rows));
        if (!rows)
                return -ENOMEM;
        b->rows = rows;
        uint32_t *conns = reallocarray(b->snapshot_connections, want, sizeof(*conns));
        if (!conns)
                return -ENOMEM;
        b->snapshot_connections = conns;
        uint32_t *seqs = reallocarray(b->snapshot_seq, want, sizeof(*seqs));
        if (!seqs)
                return -ENOMEM;
        b->snapshot_seq = seqs;
        uint32_t *processes = reallocarray(b->snapshot_processes, want, sizeof(*processes));
        if (!processes)
                return -ENOMEM;
        b->snapshot_processes = processes;
        b->allocated = want;
        return 0;
}

/* process: ours, NULL on the side we cannot see. */
static void endpoint_of(const struct nd_addr *addr, uint16_t port, const struct nd_process *process,
                        struct nd_endpoint *e)
{
        nd_addr_format(addr, e->addr);
        e->port = port;
        e->process[0] = 0;
        e->pgid = -1;
        if (process) {
                memcpy(e->process, process->name, sizeof(e->process));
                e->pgid = process->pgid;
        }
}

static void observation_of(const struct nd_flow *f, struct nd_edge_observation *o)
{
        const struct nd_process *process = f->has_process ? &f->process : NULL;

        memset(o, 0, sizeof(*o));
        if (f->direction == ND_DIRECTION_ACTIVE) {
                o->side = ND_SIDE_CLIENT;
                endpoint_of(&f->local, 0, process, &o->client);
                endpoint_of(&f->peer, f->peer_port, NULL, &o->server);
        } else {
                /* The listener's owner serves the port: one server process
                 * however many processes hold its accepted sockets. */
                if (f->has_listener_owner)
                        process = &f->listener_owner;
                o->side = ND_SIDE_SERVER;
                endpoint_of(&f->peer, 0, NULL, &o->client);
                endpoint_of(&f->local, f->local_port, process, &o->server);
        }
        o->connections = f->connections;
        o->opened = f->opened;
        o->failed = f->failed;
        o->rtt_us = nd_flow_rtt_us_avg(f);
        o->retrans = f->tcp.retrans;
        o->bytes_sent = f->tcp.bytes_sent;
        o->bytes_received = f->tcp.bytes_received;
}

static void key_of(const struct nd_edge_observation *o, char *buf, size_t size)
{
        /* The process that is ours decides the edge; the other is "". */
        snprintf(buf, size, "%d|%s|%s|%s|%u|%s", (int)o->side, o->client.addr, o->client.process,
                 o->server.addr, o->server.port, o->server.process);
}

/* Counts f's process group among row i's in the current snapshot. */
static int count_process(struct nd_edge_batch *b, size_t i, const struct nd_flow *f)
{
        int r;

        if (b->rows[i].side != ND_SIDE_CLIENT || !f->has_process)
                return 0;
        r = add_pgid(b, i, f->process.pgid);
        if (r <= 0)
                return r;
        b->snapshot_processes[i]++;
        if (b->snapshot_processes[i] > b->rows[i].processes)
                b->rows[i].processes = b->snapshot_processes[i];
        return 0;
}

static int add_flow(struct nd_edge_batch *b, const struct nd_flow *f)
{
        struct nd_edge_observation o;
        char key[256];
        size_t i;
        int r;

        observation_of(f, &o);
        key_of(&o, key, sizeof(key));
        r = ensure_room(b);
        if (r < 0)
                return r;
        r = strmap_put(&b->index, key, b->n, &i);
        if (r < 0)
                return r;
        if (r > 0) {
                i = b->n++;
                b->rows[i] = o;
                b->snapshot_connections[i] = o.connections;
                b->snapshot_seq[i] = b->seq;
                b->snapshot_processes[i] = 0;
                return count_process(b, i, f);
        }

        struct nd_edge_observation *row = &b->rows[i];
        /* Counts of events, not of sockets: they add up over snapshots. */
        row->opened += o.opened;
        row->failed += o.failed;
        if (b->snapshot_seq[i] == b->seq) {
                /* Same snapshot: another pid of the same program. */
                b->snapshot_connections[i] += o.connections;
                row->retrans += o.retrans;
                row->bytes_sent += o.bytes_sent;
                row->bytes_received += o.bytes_received;
        } else {
                b->snapshot_seq[i] = b->seq;
                b->snapshot_connections[i] = o.connections;
                b->snapshot_processes[i] = 0;
                row->retrans = o.retrans;
                row->bytes_sent = o.bytes_sent;
                row->bytes_received = o.bytes_received;
        }
        if (o.rtt_us)
                row->rtt_us = o.rtt_us;
        if (b->snapshot_connections[i] > row->connections)
                row->connections = b->snapshot_connections[i];
        return count_process(b, i, f);
}

int nd_edge_batch_add_snapshot(struct nd_edge_batch *b, const struct nd_flow_set *flows, int64_t ts,
                               bool keep_loopback)
{
        int r;

        b->seq++;
        clear_pgids(b);
        if (b->seq == 1 || ts < b->first_ts)
                b->first_ts = ts;
        if (ts > b->last_ts)
                b->last_ts = ts;
        for (size_t i = 0; i < flows->n; i++) {
                const struct nd_flow *f = &flows->flows[i];

                if (!keep_loopback && (nd_addr_is_loopback(&f->local) || nd_addr_is_loopback(&f->peer)))
                        continue;
                r = add_flow(b, f);
                if (r < 0)
                        return r;
        }
        return 0;
}
