#include "agent/event_fold.h"

#include <errno.h>
#include <string.h>

void nd_event_fold_init(struct nd_event_fold *f, bool track_live, size_t max_live,
                        struct nd_listen_memory *listeners)
{
        *f = (struct nd_event_fold){ .track_live = track_live, .listeners = listeners };
        nd_flow_set_init(&f->counts);
        nd_live_connections_init(&f->live, max_live);
}

void nd_event_fold_done(struct nd_event_fold *f)
{
        nd_flow_set_done(&f->counts);
        nd_live_connections_done(&f->live);
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

static int track(struct nd_event_fold *f, const struct nd_tcp_event *ev)
{
        struct nd_live_connection l = { .cookie = ev->cookie };
        int r;

        if (!f->track_live || !ev->cookie)
                return 0;
        process_of(ev, &l.process);
        struct nd_connection c = connection_of(ev, ND_COUNT_LIVE, &l.process);
        l.direction = c.direction;
        l.netns = c.netns;
        l.local = c.local;
        l.peer = c.peer;
        l.local_port = c.local_port;
        l.peer_port = c.peer_port;
        r = nd_live_connections_open(&f->live, &l);
        return r == -ENOSPC ? 0 : r; /* counted in live.untracked */
}

int nd_event_fold_event(const struct nd_tcp_event *ev, void *userdata)
{
        struct nd_event_fold *f = userdata;
        int r = 0;

        f->events++;
        switch (ev->kind) {
        case ND_TCP_EVENT_CONNECT:
        case ND_TCP_EVENT_ACCEPT:
                f->opened++;
                r = count(f, ev, ND_COUNT_OPENED);
                if (r >= 0)
                        r = track(f, ev);
                break;
        case ND_TCP_EVENT_FAILED:
                f->failed++;
                r = count(f, ev, ND_COUNT_FAILED);
                break;
        case ND_TCP_EVENT_CLOSE:
                f->closed++;
                if (f->track_live)
                        nd_live_connections_close(&f->live, ev->cookie);
                break;
        case ND_TCP_EVENT_LISTEN:
                if (f->listeners)
                        nd_listen_memory_listening(f->listeners, ev->netns, &ev->local, ev->local_port);
                break;
        case ND_TCP_EVENT_LISTEN_STOP:
                if (f->listeners)
                        r = nd_listen_memory_stopped(f->listeners, ev->netns, &ev->local, ev->local_port);
                break;
        }
        return r;
}

int nd_event_fold_into(struct nd_event_fold *f, struct nd_flow_set *flows)
{
        int r = 0;

        if (f->track_live)
                r = nd_live_connections_fold(&f->live, flows);
        for (size_t i = 0; r >= 0 && i < f->counts.n; i++)
                r = nd_flow_set_add_counts(flows, &f->counts.flows[i]);
        nd_flow_set_done(&f->counts);
        nd_flow_set_init(&f->counts);
        return r;
}
