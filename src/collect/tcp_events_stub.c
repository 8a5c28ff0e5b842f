/* The eBPF TCP event collector in a build without eBPF: every entry point
 * says -EOPNOTSUPP, and why. */
#include "collect/tcp_events.h"

#include <errno.h>
#include <stdlib.h>

#include "shared/why.h"

#define WHY_NOT_BUILT "netdep was built without eBPF support (meson -Dbpf=enabled needs clang, bpftool, libbpf and kernel BTF)"

int nd_tcp_events_open(const struct nd_tcp_events_options *o, struct nd_tcp_events **ret, char *why,
                       size_t why_size)
{
        int r;

        /* The off switch still speaks first, as in the real collector. */
        r = nd_tcp_events_check_switch(o && o->disabled, getenv("NETDEP_BPF"), why, why_size);
        if (r < 0)
                return r;
        nd_why_set(why, why_size, "%s", WHY_NOT_BUILT);
        return -EOPNOTSUPP;
}

struct nd_tcp_events *nd_tcp_events_free(struct nd_tcp_events *t)
{
        return NULL;
}

int nd_tcp_events_poll(struct nd_tcp_events *t, int timeout_ms, nd_tcp_event_fn fn, void *userdata)
{
        return -EOPNOTSUPP;
}

int nd_tcp_events_fd(const struct nd_tcp_events *t)
{
        return -EOPNOTSUPP;
}

int nd_tcp_events_consume(struct nd_tcp_events *t, nd_tcp_event_fn fn, void *userdata)
{
        return -EOPNOTSUPP;
}

int nd_tcp_events_list_open(struct nd_tcp_events *t, nd_tcp_event_fn fn, void *userdata)
{
        return -EOPNOTSUPP;
}

int nd_tcp_events_stats(const struct nd_tcp_events *t, struct nd_tcp_events_stats *ret)
{
        return -EOPNOTSUPP;
}

unsigned nd_tcp_events_features_off(const struct nd_tcp_events *t, const char **ret_why)
{
        if (ret_why)
                *ret_why = WHY_NOT_BUILT;
        return 0;
}

void nd_tcp_events_programs(const struct nd_tcp_events *t, unsigned *ret_loaded, unsigned *ret_wanted)
{
        *ret_loaded = *ret_wanted = 0;
}

int nd_tcp_events_changes(const struct nd_tcp_events *t, uint64_t *ret)
{
        return -EOPNOTSUPP;
}

const char *nd_tcp_events_listing(const struct nd_tcp_events *t)
{
        return NULL;
}
