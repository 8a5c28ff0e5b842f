/* Listeners that stopped listening while connections they accepted live on.
 *
 * The listening set is rebuilt from each scan's LISTEN sockets, so once a
 * server closes its listening socket (a graceful restart, a worker that
 * drains) the connections it accepted would look active. The eBPF
 * collector's LISTEN transitions fix that: a listener that stops is
 * remembered, added to each scan's listening set, and forgotten when a scan
 * finds no connection it covers, or when the same address and port listen
 * again. Bounded: past max entries the oldest are forgotten. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/listen_set.h"
#include "model/addr.h"

struct nd_remembered_listener {
        uint64_t netns;
        struct nd_addr addr;
        uint16_t port;
        bool covered; /* a connection of the current scan needed it */
};

struct nd_listen_memory {
        struct nd_remembered_listener *items; /* oldest first */
        size_t n, allocated, max;
        uint64_t forgotten_full; /* forgotten because the memory was full */
};

void nd_listen_memory_init(struct nd_listen_memory *m, size_t max);
void nd_listen_memory_done(struct nd_listen_memory *m);

/* A listener on (netns, addr, port) closed. Returns 0 or -ENOMEM. */
int nd_listen_memory_stopped(struct nd_listen_memory *m, uint64_t netns, const struct nd_addr *addr,
                             uint16_t port);
/* It listens again: the scans see it themselves. */
void nd_listen_memory_listening(struct nd_listen_memory *m, uint64_t netns, const struct nd_addr *addr,
                                uint16_t port);

/* Adds the namespace's remembered listeners to a scan's listening set,
 * marked remembered. Returns 0 or -ENOMEM. */
int nd_listen_memory_add_to(const struct nd_listen_memory *m, uint64_t netns, struct nd_listen_set *set);
/* After the namespace's connections were classified against set: notes
 * which remembered listeners covered one. */
void nd_listen_memory_note_covered(struct nd_listen_memory *m, uint64_t netns, const struct nd_listen_set *set);
/* After a whole scan: forgets the listeners that covered nothing. */
void nd_listen_memory_end_scan(struct nd_listen_memory *m);
