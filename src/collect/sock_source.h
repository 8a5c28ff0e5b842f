/* Where sockets come from: an ops table over NETLINK_SOCK_DIAG and the
 * /proc/net/tcp fallback, so the snapshot code does not care which. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "collect/sock.h"

struct nd_sock_source_ops {
        const char *name;
        bool has_tcp_info;
        /* Calls fn for each socket of the family (AF_INET, AF_INET6, or
         * AF_UNSPEC for both) whose state is in states. */
        int (*dump)(void *ctx, int family, uint32_t states, nd_sock_fn fn, void *userdata);
        void (*free)(void *ctx);
};

struct nd_sock_source {
        const struct nd_sock_source_ops *ops;
        void *ctx;
};

/* Both open in, and later dump, the calling thread's network namespace.
 * with_tcp_info: have the kernel fill tcp_info for connections (it costs
 * about a sixth of the dump; leave it out when nobody reads it). */
int nd_sock_source_open_sockdiag(bool with_tcp_info, struct nd_sock_source *ret);
/* proc_net_dir is normally "/proc/thread-self/net". */
int nd_sock_source_open_procnet(const char *proc_net_dir, struct nd_sock_source *ret);

void nd_sock_source_close(struct nd_sock_source *src);

static inline int nd_sock_source_dump(struct nd_sock_source *src, int family, uint32_t states,
                                      nd_sock_fn fn, void *userdata)
{
        return src->ops->dump(src->ctx, family, states, fn, userdata);
}
