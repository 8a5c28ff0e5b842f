#include "collect/sock_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "collect/procnet.h"
#include "collect/sockdiag.h"
#include "shared/cleanup.h"
#include "shared/log.h"

struct sockdiag_source {
        struct nd_sockdiag *sd;
        bool with_tcp_info;
        /* The kernel refused a dump of both families at once: ask per family. */
        bool per_family;
};

static int sockdiag_dump_family(struct sockdiag_source *src, int family, uint32_t states, nd_sock_fn fn,
                                void *userdata)
{
        /* Listeners have no tcp_info worth reading. */
        bool with_info = src->with_tcp_info && (states & ~ND_TCPF(ND_TCP_LISTEN)) != 0;
        int r = nd_sockdiag_dump(src->sd, family, states, with_info, fn, userdata);

        /* A kernel without IPv6 (or without tcp_diag for it) has no such
         * sockets to report. */
        if (family == AF_INET6 && (r == -ENOENT || r == -EAFNOSUPPORT || r == -EPROTONOSUPPORT))
                return 0;
        return r < 0 ? r : 0;
}

static int sockdiag_dump(void *ctx, int family, uint32_t states, nd_sock_fn fn, void *userdata)
{
        struct sockdiag_source *src = ctx;
        int r;

        if (family != AF_UNSPEC)
                return sockdiag_dump_family(src, family, states, fn, userdata);
        if (!src->per_family) {
                /* The kernel answers or refuses before the first socket. */
                r = sockdiag_dump_family(src, AF_UNSPEC, states, fn, userdata);
                if (r != -EINVAL && r != -ENOENT && r != -EOPNOTSUPP)
                        return r;
                log_debug("sock_diag: the kernel refused a dump of both families (%s); dumping each",
                          strerror(-r));
                src->per_family = true;
        }
        r = sockdiag_dump_family(src, AF_INET, states, fn, userdata);
        return r < 0 ? r : sockdiag_dump_family(src, AF_INET6, states, fn, userdata);
}

static void sockdiag_free(void *ctx)
{
        struct sockdiag_source *src = ctx;

        nd_sockdiag_free(src->sd);
        free(src);
}

static const struct nd_sock_source_ops sockdiag_ops = {
        .name = "sock_diag",
        .has_tcp_info = true,
        .dump = sockdiag_dump,
        .free = sockdiag_free,
};

int nd_sock_source_open_sockdiag(bool with_tcp_info, struct nd_sock_source *ret)
{
        struct sockdiag_source *src = calloc(1, sizeof(*src));
        int r;

        if (!src)
                return -ENOMEM;
        r = nd_sockdiag_open(&src->sd);
        if (r < 0) {
                free(src);
                return r;
        }
        src->with_tcp_info = with_tcp_info;
        *ret = (struct nd_sock_source){ &sockdiag_ops, src };
        return 0;
}

static int procnet_dump(void *ctx, int family, uint32_t states, nd_sock_fn fn, void *userdata)
{
        char path[4096];
        _cleanup_fclose_ FILE *f = NULL;

        if (family == AF_UNSPEC) {
                int r = procnet_dump(ctx, AF_INET, states, fn, userdata);

                return r < 0 ? r : procnet_dump(ctx, AF_INET6, states, fn, userdata);
        }

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
