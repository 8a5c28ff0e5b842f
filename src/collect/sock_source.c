#include "collect/sock_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collect/procnet.h"
#include "collect/sockdiag.h"
#include "shared/cleanup.h"

static int sockdiag_dump(void *ctx, int family, uint32_t states, nd_sock_fn fn, void *userdata)
{
        /* tcp_info costs little in the kernel and only matters for flows. */
        bool with_info = (states & ~ND_TCPF(ND_TCP_LISTEN)) != 0;
        int r = nd_sockdiag_dump(ctx, family, states, with_info, fn, userdata);

        /* A kernel without IPv6 (or without tcp_diag for it) has no such
         * sockets to report. */
        if (family == AF_INET6 && (r == -ENOENT || r == -EAFNOSUPPORT || r == -EPROTONOSUPPORT))
                return 0;
        return r < 0 ? r : 0;
}

static void sockdiag_free(void *ctx)
{
        nd_sockdiag_free(ctx);
}

static const struct nd_sock_source_ops sockdiag_ops = {
        .name = "sock_diag",
        .has_tcp_info = true,
        .dump = sockdiag_dump,
        .free = sockdiag_free,
};

int nd_sock_source_open_sockdiag(struct nd_sock_source *ret)
{
        struct nd_sockdiag *sd;
        int r = nd_sockdiag_open(&sd);

        if (r < 0)
                return r;
        *ret = (struct nd_sock_source){ &sockdiag_ops, sd };
        return 0;
}

static int procnet_dump(void *ctx, int family, uint32_t states, nd_sock_fn fn, void *userdata)
{
        char path[4096];
        _cleanup_fclose_ FILE *f = NULL;

        snprintf(path, sizeof(path), "%s/%s", (const char *)ctx, family == AF_INET6 ? "tcp6" : "tcp");
        f = fopen(path, "re");
        if (!f)
                return family == AF_INET6 && errno == ENOENT ? 0 : -errno;
        return nd_procnet_read(f, family, states, fn, userdata);
}

static const struct nd_sock_source_ops procnet_ops = {
        .name = "/proc/net/tcp",
        .has_tcp_info = false,
        .dump = procnet_dump,
        .free = free,
};

int nd_sock_source_open_procnet(const char *proc_net_dir, struct nd_sock_source *ret)
{
        char *dir = strdup(proc_net_dir);

        if (!dir)
                return -ENOMEM;
        *ret = (struct nd_sock_source){ &procnet_ops, dir };
        return 0;
}

void nd_sock_source_close(struct nd_sock_source *src)
{
        if (src->ops)
                src->ops->free(src->ctx);
        *src = (struct nd_sock_source){};
}
