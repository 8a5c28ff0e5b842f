#include "agent/live_connections.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void nd_live_connections_init(struct nd_live_connections *t, size_t max)
{
        *t = (struct nd_live_connections){ .max = max ? max : 1 };
}

void nd_live_connections_done(struct nd_live_connections *t)
{
        free(t->slots);
        nd_live_connections_init(t, t->max);
}

static size_t slot_of(uint64_t cookie, size_t mask)
{
        uint64_t h = cookie * UINT64_C(0x9e3779b97f4a7c15);
        return (size_t)(h ^ (h >> 32)) & mask;
}

static int grow(struct nd_live_connections *t)
{
        size_t capacity = t->slots ? (t->mask + 1) * 2 : 256;
        struct nd_live_connection *slots = calloc(capacity, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
                if (!t->slots[i].cookie)
                        continue;
                size_t s = slot_of(t->slots[i].cookie, capacity - 1);
                while (slots[s].cookie)
                        s = (s + 1) & (capacity - 1);
                slots[s] = t->slots[i];
        }
        free(t->slots);
        t->slots = slots;
        t->mask = capacity - 1;
        return 0;
}

int nd_live_connections_open(struct nd_live_connections *t, const struct nd_live_connection *c)
{
        size_t s;

        if (!t->slots || (t->n + 1) * 2 > t->mask + 1) {
                int r = grow(t);
                if (r < 0)
                        return r;
        }
        for (s = slot_of(c->cookie, t->mask); t->slots[s].cookie; s = (s + 1) & t->mask)
                if (t->slots[s].cookie == c->cookie) {
                        t->slots[s] = *c;
                        return 0;
                }
        if (t->n >= t->max) {
                t->untracked++;
                return -ENOSPC;
        }
        t->slots[s] = *c;
        t->n++;
        return 0;
}

void nd_live_connections_close(struct nd_live_connections *t, uint64_t cookie)
{
        size_t s, next;

        if (!t->slots || !cookie)
                return;
        for (s = slot_of(cookie, t->mask); t->slots[s].cookie != cookie; s = (s + 1) & t->mask)
                if (!t->slots[s].cookie)
                        return;
        /* Backward-shift deletion: no tombstones, probes stay short. */
        for (next = (s + 1) & t->mask; t->slots[next].cookie; next = (next + 1) & t->mask) {
                size_t home = slot_of(t->slots[next].cookie, t->mask);
                /* Move next into the hole unless its home lies cyclically in (s, next]. */
                if (((next - home) & t->mask) >= ((next - s) & t->mask)) {
                        t->slots[s] = t->slots[next];
                        s = next;
                }
        }
        t->slots[s].cookie = 0;
        t->n--;
}

int nd_live_connections_fold(const struct nd_live_connections *t, struct nd_flow_set *flows)
{
        for (size_t i = 0; t->slots && i <= t->mask; i++) {
                const struct nd_live_connection *l = &t->slots[i];
                if (!l->cookie)
                        continue;
                struct nd_connection c = {
                        .count = ND_COUNT_LIVE,
                        .direction = l->direction,
                        .netns = l->netns,
                        .local = l->local,
                        .peer = l->peer,
                        .local_port = l->local_port,
                        .peer_port = l->peer_port,
                        .process = l->process.pid ? &l->process : NULL,
                };
                int r = nd_flow_set_add(flows, &c);
                if (r < 0)
                        return r;
        }
        return 0;
}
