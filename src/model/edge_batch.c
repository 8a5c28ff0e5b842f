#include "model/edge_batch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        strmap_done(&b->index);
        nd_edge_batch_init(b);
}

void nd_edge_batch_clear(struct nd_edge_batch *b)
{
        b->n = 0;
        b->seq = 0;
        b->first_ts = b->last_ts = 0;
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
        b->allocated = want;
        return 0;
}

static void endpoint_of(const struct nd_addr *addr, uint16_t port, const struct nd_flow *f, bool ours,
                        struct nd_endpoint *e)
{
        nd_addr_format(addr, e->addr);
        e->port = port;
        e->process[0] = 0;
        e->pgid = -1;
        if (ours && f->has_process) {
                memcpy(e->process, f->process.name, sizeof(e->process));
                e->pgid = f->process.pgid;
        }
}

static void observation_of(const struct nd_flow *f, struct nd_edge_observation *o)
{
        bool active = f->direction == ND_DIRECTION_ACTIVE;

        memset(o, 0, sizeof(*o));
        if (active) {
                o->side = ND_SIDE_CLIENT;
                endpoint_of(&f->local, 0, f, true, &o->client);
                endpoint_of(&f->peer, f->peer_port, f, false, &o->server);
        } else {
                o->side = ND_SIDE_SERVER;
                endpoint_of(&f->peer, 0, f, false, &o->client);
                endpoint_of(&f->local, f->local_port, f, true, &o->server);
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
                return 0;
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
                row->retrans = o.retrans;
                row->bytes_sent = o.bytes_sent;
                row->bytes_received = o.bytes_received;
        }
        if (o.rtt_us)
                row->rtt_us = o.rtt_us;
        if (b->snapshot_connections[i] > row->connections)
                row->connections = b->snapshot_connections[i];
        return 0;
}

int nd_edge_batch_add_snapshot(struct nd_edge_batch *b, const struct nd_flow_set *flows, int64_t ts,
                               bool keep_loopback)
{
        int r;

        b->seq++;
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
