#include "agent/event_fold.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void nd_event_fold_init(struct nd_event_fold *f)
{
        *f = (struct nd_event_fold){};
        nd_flow_set_init(&f->counts);
}

void nd_event_fold_done(struct nd_event_fold *f)
{
        nd_flow_set_done(&f->counts);
        free(f->listeners);
        f->listeners = NULL;
        f->n_listeners = f->allocated_listeners = 0;
}

static void process_of(const struct nd_tcp_event *ev, struct nd_process *p)
{
        *p = (struct nd_process){ .pid = (pid_t)ev->pid, .pgid = (pid_t)ev->pgid };
        memcpy(p->name, ev->comm, sizeof(p->name) - 1);
        p->name[sizeof(p->name) - 1] = 0;
}

/* The connection an event is about; process points to the caller's copy. */
static struct nd_connection connection_of(const struct nd_tcp_event *ev, enum nd_connection_count what,
                                          const struct nd_process *process)
{
        return (struct nd_connection){
                .count = what,
                .direction = ev->passive ? ND_DIRECTION_PASSIVE : ND_DIRECTION_ACTIVE,
                .netns = ev->netns,
                .local = ev->local,
                .peer = ev->peer,
                .local_port = ev->local_port,
                .peer_port = ev->peer_port,
                .process = ev->pid ? process : NULL,
        };
}

static int count(struct nd_event_fold *f, const struct nd_tcp_event *ev, enum nd_connection_count what)
{
        struct nd_process p;

        process_of(ev, &p);
        struct nd_connection c = connection_of(ev, what, &p);
        return nd_flow_set_add(&f->counts, &c);
}

static ssize_t listener_index(const struct nd_event_fold *f, uint64_t netns, const struct nd_addr *addr,
                              uint16_t port)
{
        for (size_t i = 0; i < f->n_listeners; i++) {
                const struct nd_event_listener *l = &f->listeners[i];
                if (l->netns == netns && l->port == port && nd_addr_equal(&l->addr, addr))
                        return (ssize_t)i;
        }
        return -1;
}

static int listen_started(struct nd_event_fold *f, const struct nd_tcp_event *ev)
{
        ssize_t i = listener_index(f, ev->netns, &ev->local, ev->local_port);
        struct nd_event_listener *l;

        if (!ev->pid)
                return 0;
        if (i < 0) {
                if (f->n_listeners == f->allocated_listeners) {
                        size_t want = f->allocated_listeners ? 2 * f->allocated_listeners : 16;
                        struct nd_event_listener *p = reallocarray(f->listeners, want, sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        f->listeners = p;
                        f->allocated_listeners = want;
                }
                i = (ssize_t)f->n_listeners++;
                f->listeners[i].sockets = 0;
        }
        l = &f->listeners[i];
        if (l->sockets == 0)
                *l = (struct nd_event_listener){ .netns = ev->netns, .addr = ev->local, .port = ev->local_port };
        l->sockets++;
        process_of(ev, &l->owner); /* the latest listener's owner */
        return 0;
}

static void listen_stopped(struct nd_event_fold *f, const struct nd_tcp_event *ev)
{
        ssize_t i = listener_index(f, ev->netns, &ev->local, ev->local_port);

        if (i >= 0 && --f->listeners[i].sockets == 0)
                f->listeners[i] = f->listeners[--f->n_listeners];
}

/* The listener that accepts on (addr, port) in netns: bound to that
 * address, else a wildcard one. */
static const struct nd_event_listener *find_listener(const struct nd_event_fold *f, uint64_t netns,
                                                     const struct nd_addr *addr, uint16_t port)
{
        const struct nd_event_listener *wildcard = NULL;

        for (size_t i = 0; i < f->n_listeners; i++) {
                const struct nd_event_listener *l = &f->listeners[i];
                if (l->netns != netns || l->port != port)
                        continue;
                if (nd_addr_equal(&l->addr, addr))
                        return l;
                if (nd_addr_is_any(&l->addr))
                        wildcard = l;
        }
        return wildcard;
}

void nd_event_fold_listener_owners(const struct nd_event_fold *f, struct nd_flow_set *flows)
{
        for (size_t i = 0; f->n_listeners && i < flows->n; i++) {
                struct nd_flow *fl = &flows->flows[i];
                const struct nd_event_listener *l;

                if (fl->direction != ND_DIRECTION_PASSIVE || fl->has_listener_owner)
                        continue;
                l = find_listener(f, fl->netns, &fl->local, fl->local_port);
                if (l) {
                        fl->has_listener_owner = true;
                        fl->listener_owner = l->owner;
                }
        }
}

int nd_event_fold_event(const struct nd_tcp_event *ev, void *userdata)
{
        struct nd_event_fold *f = userdata;

        switch (ev->kind) {
        case ND_TCP_EVENT_CONNECT:
        case ND_TCP_EVENT_ACCEPT:
                f->opened++;
                return count(f, ev, ND_COUNT_OPENED);
        case ND_TCP_EVENT_FAILED:
                f->failed++;
                return count(f, ev, ND_COUNT_FAILED);
        case ND_TCP_EVENT_LISTEN:
                return listen_started(f, ev);
        case ND_TCP_EVENT_LISTEN_STOP:
                listen_stopped(f, ev);
                return 0;
        case ND_TCP_EVENT_CLOSE:
        case ND_TCP_EVENT_OPEN:
                /* Nothing to count: the open connections come from the
                 * listing, and directions are settled in the kernel. */
                return 0;
        }
        return 0;
}

int nd_event_fold_open_connection(const struct nd_tcp_event *ev, void *userdata)
{
        struct nd_flow_set *flows = userdata;
        struct nd_process p;

        if (ev->kind != ND_TCP_EVENT_OPEN)
                return 0;
        process_of(ev, &p);
        struct nd_connection c = connection_of(ev, ND_COUNT_LIVE, &p);
        c.has_tcp_info = true;
        c.rtt_us = ev->rtt_us;
        c.retrans = ev->retrans;
        c.bytes_sent = ev->bytes_sent;
        c.bytes_received = ev->bytes_received;
        return nd_flow_set_add(flows, &c);
}

int nd_event_fold_into(struct nd_event_fold *f, struct nd_flow_set *flows)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < f->counts.n; i++)
                r = nd_flow_set_add_counts(flows, &f->counts.flows[i]);
        nd_flow_set_done(&f->counts);
        nd_flow_set_init(&f->counts);
        return r;
}
