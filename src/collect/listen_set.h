/* The listening sockets of one network namespace, and the rule that tells a
 * passive-open connection from an active-open one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/sock.h"

struct nd_listener {
        struct nd_addr addr;
        uint16_t port;
        bool v6only;
        uint32_t inode;
};

struct nd_listen_set {
        struct nd_listener *items;
        size_t n, allocated;
        bool sorted;
};

void nd_listen_set_init(struct nd_listen_set *set);
void nd_listen_set_done(struct nd_listen_set *set);
void nd_listen_set_clear(struct nd_listen_set *set);

/* Adds a LISTEN socket; other states are ignored. Returns 0 or -ENOMEM. */
int nd_listen_set_add(struct nd_listen_set *set, const struct nd_sock *s);

/* The listener that accepts connections on (addr, port): the one bound to
 * that address, else a wildcard one (0.0.0.0 for IPv4; :: for IPv6, and for
 * IPv4 too unless it is IPV6_V6ONLY). NULL when no listener covers it. */
struct nd_listener *nd_listen_set_find(struct nd_listen_set *set, const struct nd_addr *addr, uint16_t port);

static inline bool nd_listen_set_covers(struct nd_listen_set *set,
                                        const struct nd_addr *addr, uint16_t port)
{
        return nd_listen_set_find(set, addr, port) != NULL;
}
