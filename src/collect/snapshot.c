#include "collect/snapshot.h"

#include <sys/socket.h>

static int add_listener(const struct nd_sock *s, void *userdata)
{
        return nd_listen_set_add(userdata, s);
}

struct fold_context {
        uint64_t netns;
        struct nd_socket_owners *owners;
        struct nd_listen_set *listeners;
        struct nd_flow_set *flows;
        struct nd_snapshot_counts *counts;
};

int nd_snapshot_fold_socket(const struct nd_sock *s, uint64_t netns,
                            struct nd_socket_owners *owners, struct nd_listen_set *listeners,
                            struct nd_flow_set *flows, struct nd_snapshot_counts *counts)
{
        struct nd_listener *listener;
        struct nd_connection c;

        if (!nd_sock_is_flow_state(s) || nd_sock_is_orphan(s))
                return 0;

        listener = nd_listen_set_find(listeners, &s->local, s->local_port);
        c = (struct nd_connection){
                .direction = listener ? ND_DIRECTION_PASSIVE : ND_DIRECTION_ACTIVE,
                .netns = netns,
                .local = s->local,
                .peer = s->peer,
                .local_port = s->local_port,
                .peer_port = s->peer_port,
                .has_tcp_info = s->has_tcp_info,
                .rtt_us = s->rtt_us,
                .retrans = s->retrans,
                .bytes_sent = s->bytes_sent,
                .bytes_received = s->bytes_received,
        };
        if (owners) {
                /* The listener's owner serves the port; the agent's edges
                 * name it, where `netdep flows` shows each accepted
                 * socket's owner, as ss -tnp does. */
                if (listener)
                        c.listener_owner = nd_socket_owners_lookup(owners, listener->inode);
                c.process = nd_socket_owners_lookup(owners, s->inode);
                /* Not yet accepted, or its owner is unreadable: the listener's
                 * process is the one that will serve it. */
                if (!c.process)
                        c.process = c.listener_owner;
        }
        if (counts) {
                counts->sockets++;
                if (!c.process)
                        counts->unowned++;
        }
        return nd_flow_set_add(flows, &c);
}

static int fold(const struct nd_sock *s, void *userdata)
{
        struct fold_context *ctx = userdata;

        return nd_snapshot_fold_socket(s, ctx->netns, ctx->owners, ctx->listeners, ctx->flows,
                                       ctx->counts);
}

int nd_snapshot_collect(struct nd_sock_source *src, uint64_t netns,
                        struct nd_socket_owners *owners, struct nd_listen_set *listeners,
                        struct nd_flow_set *flows, struct nd_snapshot_counts *counts)
{
        struct fold_context ctx = { netns, owners, listeners, flows, counts };
        int r;

        /* Listeners first, so each connection can be classified as it streams
         * past: no socket is ever held in memory. */
        nd_listen_set_clear(listeners);
        /* Both families in one dump: the kernel walks its tables once. */
        r = nd_sock_source_dump(src, AF_UNSPEC, ND_TCPF(ND_TCP_LISTEN), add_listener, listeners);
        if (r < 0)
                return r;
        return nd_sock_source_dump(src, AF_UNSPEC, ND_TCPF_FLOW_STATES, fold, &ctx);
}
