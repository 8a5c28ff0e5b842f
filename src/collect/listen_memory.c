#include "collect/listen_memory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void nd_listen_memory_init(struct nd_listen_memory *m, size_t max)
{
        *m = (struct nd_listen_memory){ .max = max ? max : 1 };
}

void nd_listen_memory_done(struct nd_listen_memory *m)
{
        free(m->items);
        nd_listen_memory_init(m, m->max);
}

static bool same(const struct nd_remembered_listener *l, uint64_t netns, const struct nd_addr *addr,
                 uint16_t port)
{
        return l->netns == netns && l->port == port && nd_addr_compare(&l->addr, addr) == 0;
}

static void remove_at(struct nd_listen_memory *m, size_t i)
{
        memmove(&m->items[i], &m->items[i + 1], (m->n - i - 1) * sizeof(*m->items));
        m->n--;
}

void nd_listen_memory_listening(struct nd_listen_memory *m, uint64_t netns, const struct nd_addr *addr,
                                uint16_t port)
{
        for (size_t i = 0; i < m->n; i++)
                if (same(&m->items[i], netns, addr, port)) {
                        remove_at(m, i);
                        return;
                }
}

int nd_listen_memory_stopped(struct nd_listen_memory *m, uint64_t netns, const struct nd_addr *addr,
                             uint16_t port)
{
        nd_listen_memory_listening(m, netns, addr, port); /* at most once, newest */
        if (m->n == m->max) {
                remove_at(m, 0);
                m->forgotten_full++;
        }
        if (m->n == m->allocated) {
                size_t want = m->allocated ? m->allocated * 2 : 16;
                if (want > m->max)
                        want = m->max;
                struct nd_remembered_listener *p = reallocarray(m->items, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                m->items = p;
                m->allocated = want;
        }
        /* Covered until a scan says otherwise: the scan that comes next
         * decides. */
        m->items[m->n++] = (struct nd_remembered_listener){
                .netns = netns, .addr = *addr, .port = port, .covered = true,
        };
        return 0;
}

int nd_listen_memory_add_to(const struct nd_listen_memory *m, uint64_t netns, struct nd_listen_set *set)
{
        for (size_t i = 0; i < m->n; i++) {
                const struct nd_remembered_listener *l = &m->items[i];
                if (l->netns != netns)
                        continue;
                int r = nd_listen_set_add_remembered(set, &l->addr, l->port);
                if (r < 0)
                        return r;
        }
        return 0;
}

void nd_listen_memory_note_covered(struct nd_listen_memory *m, uint64_t netns, const struct nd_listen_set *set)
{
        for (size_t i = 0; i < set->n; i++) {
                const struct nd_listener *l = &set->items[i];
                if (!l->remembered || l->covered == 0)
                        continue;
                for (size_t j = 0; j < m->n; j++)
                        if (same(&m->items[j], netns, &l->addr, l->port))
                                m->items[j].covered = true;
        }
}

void nd_listen_memory_end_scan(struct nd_listen_memory *m)
{
        size_t out = 0;

        for (size_t i = 0; i < m->n; i++) {
                if (!m->items[i].covered)
                        continue;
                m->items[i].covered = false;
                m->items[out++] = m->items[i];
        }
        m->n = out;
}
