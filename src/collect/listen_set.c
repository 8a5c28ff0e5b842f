#include "collect/listen_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shared/sort.h"

void nd_listen_set_init(struct nd_listen_set *set)
{
        *set = (struct nd_listen_set){ .sorted = true };
}

void nd_listen_set_done(struct nd_listen_set *set)
{
        free(set->items);
        nd_listen_set_init(set);
}

void nd_listen_set_clear(struct nd_listen_set *set)
{
        set->n = 0;
        set->sorted = true;
}

static int push(struct nd_listen_set *set, const struct nd_listener *l)
{
        if (set->n == set->allocated) {
                size_t want = set->allocated ? set->allocated * 2 : 64;
                struct nd_listener *p = reallocarray(set->items, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                set->items = p;
                set->allocated = want;
        }
        set->items[set->n++] = *l;
        set->sorted = false;
        return 0;
}

int nd_listen_set_add(struct nd_listen_set *set, const struct nd_sock *s)
{
        if (s->state != ND_TCP_LISTEN)
                return 0;
        return push(set, &(struct nd_listener){
                .addr = s->local,
                .port = s->local_port,
                .v6only = s->v6only == 1,
                .inode = s->inode,
        });
}

static int compare_port(const void *a, const void *b)
{
        const struct nd_listener *x = a, *y = b;

        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        return nd_addr_compare(&x->addr, &y->addr);
}

static bool wildcard_covers(const struct nd_listener *l, const struct nd_addr *addr)
{
        if (!nd_addr_is_any(&l->addr))
                return false;
        if (l->addr.family == addr->family)
                return true;
        /* A dual-stack :: listener takes IPv4 connections too. */
        return l->addr.family == AF_INET6 && addr->family == AF_INET && !l->v6only;
}

struct nd_listener *nd_listen_set_find(struct nd_listen_set *set, const struct nd_addr *addr, uint16_t port)
{
        struct nd_listener *wildcard = NULL;
        size_t lo = 0, hi;

        if (!set->sorted) {
                qsort_safe(set->items, set->n, sizeof(*set->items), compare_port);
                set->sorted = true;
        }

        /* Lower bound of port, then a short scan over its listeners. */
        hi = set->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (set->items[mid].port < port)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = lo; i < set->n && set->items[i].port == port; i++) {
                struct nd_listener *l = &set->items[i];

                if (nd_addr_equal(&l->addr, addr))
                        return l;
                if (!wildcard && wildcard_covers(l, addr))
                        wildcard = l;
        }
        return wildcard;
}
