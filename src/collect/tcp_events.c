/* The eBPF TCP event collector: loads src/bpf/tcp_events.bpf.c through its
 * skeleton and reads its ring buffer. Built only with eBPF support;
 * tcp_events_stub.c stands in otherwise. */
#include "collect/tcp_events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collect/netns.h"
#include "shared/forked_call.h"
#include "shared/log.h"
#include "shared/why.h"
#include "bpf/tcp_events.skel.h"

#define RING_BYTES_MAX (1ul << 30)
#define KERNEL_BTF "/sys/kernel/btf/vmlinux"
#define ENOTSUPP_KERNEL 524 /* the kernel's internal ENOTSUPP, seen by BPF callers */

struct nd_tcp_events {
        /* The kernel objects the loader child handed over: the ring buffer
         * and counters maps, and the link that keeps the program attached
         * (closing it detaches), and that program, for its statistics;
         * the nd_dump_open iterator's link, which lists the connections
         * open. The other maps live on through them. */
        int events_fd, counters_fd, link_fd, prog_fd, dump_link_fd;
        struct ring_buffer *rb;
        /* Valid during one poll or consume. */
        nd_tcp_event_fn fn;
        void *userdata;
        int64_t realtime_offset_ns;
        uint64_t n_events, n_malformed;
};

/* What the loader child gets from nd_tcp_events_open(), checked there. */
struct load_params {
        uint32_t netns; /* 0: every namespace */
        uint32_t pid;
        uint16_t port;
        uint32_t event_kinds;
        size_t ring_bytes;
        uint32_t max_sockets, max_listeners;
        bool adopt_open;
};

enum { LOADED_EVENTS, LOADED_COUNTERS, LOADED_LINK, LOADED_PROG, LOADED_DUMP_LINK, LOADED_FDS };

/* libbpf talks a lot while loading: keep it for -v (warnings) and -vv. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        enum log_level ours = level == LIBBPF_WARN ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;
        char line[1024];
        size_t n;

        if (ours > log_get_max_level())
                return 0;
        vsnprintf(line, sizeof(line), fmt, ap);
        n = strlen(line);
        while (n > 0 && line[n - 1] == '\n')
                line[--n] = 0;
        /* libbpf's lines start with "libbpf: " already. */
        if (ours == LOG_LEVEL_INFO)
                log_info("%s", line);
        else
                log_debug("%s", line);
        return 0;
}

static const char *error_text(int r)
{
        return -r == ENOTSUPP_KERNEL ? "not supported by this kernel" : strerror(-r);
}

/* Folds a load or attach failure into the documented errors, with a reason. */
static int load_failure(int r, const char *step, char *why, size_t why_size)
{
        if ((r == -EPERM || r == -EACCES) && geteuid() != 0) {
                nd_why_set(why, why_size, "%s the BPF programs is not permitted (needs root, or CAP_BPF and CAP_PERFMON)",
                        step);
                return -EPERM;
        }
        if (r == -ENOMEM) {
                nd_why_set(why, why_size, "%s the BPF programs failed: %s", step, error_text(r));
                return r;
        }
        nd_why_set(why, why_size, "%s the BPF programs failed: %s (run with -vv for libbpf's log)", step, error_text(r));
        return -EOPNOTSUPP;
}

static size_t ring_size(size_t want)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE), size = page;

        while (size < want && size < RING_BYTES_MAX)
                size <<= 1;
        return size;
}

static int on_record(void *ctx, void *data, size_t len)
{
        struct nd_tcp_events *t = ctx;
        struct nd_tcp_event ev;

        if (nd_tcp_event_decode(data, len, t->realtime_offset_ns, &ev) < 0) {
                t->n_malformed++;
                return 0;
        }
        t->n_events++;
        return t->fn ? t->fn(&ev, t->userdata) : 0;
}

/* Runs a walk (an iterator program that prints nothing) once, to its end. */
static int run_walk(struct bpf_program *prog)
{
        struct bpf_link *link;
        _cleanup_close_ int fd = -EBADF;
        char buf[256];
        ssize_t n;
        int r = 0;

        link = bpf_program__attach_iter(prog, NULL);
        if (!link)
                return -errno;
        fd = bpf_iter_create(bpf_link__fd(link)); /* close-on-exec, by the kernel */
        if (fd < 0)
                r = -errno;
        /* The program prints nothing: reading to the end is the walk. */
        while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0)
                if (n < 0 && errno != EINTR)
                        r = -errno;
        bpf_link__destroy(link);
        return r;
}

struct nd_tcp_events *nd_tcp_events_free(struct nd_tcp_events *t)
{
        if (!t)
                return NULL;
        ring_buffer__free(t->rb);
        if (t->dump_link_fd >= 0)
                close(t->dump_link_fd);
        if (t->prog_fd >= 0)
                close(t->prog_fd);
        if (t->link_fd >= 0)
                close(t->link_fd);
        if (t->counters_fd >= 0)
                close(t->counters_fd);
        if (t->events_fd >= 0)
                close(t->events_fd);
        free(t);
        return NULL;
}

/* The loader, run in a child process (nd_forked_call()): opens the
 * skeleton, sizes the maps, loads (libbpf parses the kernel's whole BTF
 * for CO-RE here: megabytes that would otherwise stay in the agent's
 * high-water mark), attaches, seeds the listeners, adopts the connections
 * open if asked, and hands back the LOADED_FDS fds. Exiting frees the rest. */
static int load_programs(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why, size_t why_size)
{
        const struct load_params *p = userdata;
        DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, dump_opts);
        union bpf_iter_link_info dump_on = {};
        struct tcp_events_bpf *skel;
        struct bpf_link *dump;
        int r;

        if (max_fds < LOADED_FDS)
                return -EINVAL;
        libbpf_set_print(libbpf_print);
        skel = tcp_events_bpf__open();
        if (!skel)
                return load_failure(-errno, "opening", why, why_size);

        skel->rodata->filter_netns = p->netns;
        skel->rodata->filter_pid = p->pid;
        skel->rodata->filter_port = p->port;
        skel->rodata->event_kinds = p->event_kinds;
        r = bpf_map__set_max_entries(skel->maps.events, (uint32_t)p->ring_bytes);
        if (r >= 0)
                r = bpf_map__set_max_entries(skel->maps.socks, p->max_sockets);
        if (r >= 0)
                r = bpf_map__set_max_entries(skel->maps.listeners, p->max_listeners);
        if (r >= 0)
                r = bpf_map__set_max_entries(skel->maps.listen_socks, p->max_listeners);
        if (r < 0) {
                nd_why_set(why, why_size, "sizing the BPF maps failed: %s", strerror(-r));
                return r;
        }

        /* The walks run below, not as attachments. */
        bpf_program__set_autoattach(skel->progs.nd_seed_listeners, false);
        bpf_program__set_autoattach(skel->progs.nd_adopt_connections, false);
        bpf_program__set_autoattach(skel->progs.nd_dump_open, false);
        r = tcp_events_bpf__load(skel);
        if (r < 0)
                return load_failure(r, "loading", why, why_size);
        r = tcp_events_bpf__attach(skel);
        if (r < 0)
                return load_failure(r, "attaching", why, why_size);
        /* After attaching: a listener opened meanwhile is seen by both, and
         * counted once. */
        r = run_walk(skel->progs.nd_seed_listeners);
        /* After the listeners: each connection is classified by them. */
        if (r >= 0 && p->adopt_open)
                r = run_walk(skel->progs.nd_adopt_connections);
        if (r < 0)
                return load_failure(r, "running", why, why_size);
        dump_on.map.map_fd = (uint32_t)bpf_map__fd(skel->maps.socks);
        dump_opts.link_info = &dump_on;
        dump_opts.link_info_len = sizeof(dump_on);
        dump = bpf_program__attach_iter(skel->progs.nd_dump_open, &dump_opts);
        if (!dump)
                return load_failure(-errno, "attaching", why, why_size);

        fds[LOADED_EVENTS] = bpf_map__fd(skel->maps.events);
        fds[LOADED_COUNTERS] = bpf_map__fd(skel->maps.counters);
        fds[LOADED_LINK] = bpf_link__fd(skel->links.nd_inet_sock_set_state);
        fds[LOADED_PROG] = bpf_program__fd(skel->progs.nd_inet_sock_set_state);
        fds[LOADED_DUMP_LINK] = bpf_link__fd(dump);
        *n_fds = LOADED_FDS;
        return 0;
}

int nd_tcp_events_open(const struct nd_tcp_events_options *o, struct nd_tcp_events **ret, char *why,
                       size_t why_size)
{
        static const struct nd_tcp_events_options defaults = {};
        _cleanup_(nd_tcp_events_freep) struct nd_tcp_events *t = NULL;
        struct load_params p = {};
        struct timespec started, loaded;
        int fds[LOADED_FDS];
        size_t n_fds = 0;
        uint64_t netns = 0;
        int r;

        if (!o)
                o = &defaults;
        r = nd_tcp_events_check_switch(o->disabled, getenv("NETDEP_BPF"), why, why_size);
        if (r < 0)
                return r;
        if (o->ring_bytes > RING_BYTES_MAX) {
                nd_why_set(why, why_size, "ring buffer of %zu bytes is larger than 1 GiB", o->ring_bytes);
                return -EINVAL;
        }
        p.ring_bytes = ring_size(o->ring_bytes ? o->ring_bytes : ND_TCP_EVENTS_RING_BYTES_DEFAULT);
        p.max_sockets = o->max_sockets ? o->max_sockets : ND_TCP_EVENTS_MAX_SOCKETS_DEFAULT;
        p.max_listeners = o->max_listeners ? o->max_listeners : ND_TCP_EVENTS_MAX_LISTENERS_DEFAULT;
        p.pid = o->pid;
        p.port = o->port;
        p.event_kinds = o->event_kinds ? o->event_kinds : ~0u;
        p.adopt_open = o->adopt_open;

        /* CO-RE needs the running kernel's BTF: say so plainly rather than
         * through libbpf's error. */
        if (access(KERNEL_BTF, R_OK) < 0) {
                r = -errno;
                if (r == -EACCES || r == -EPERM)
                        return load_failure(r, "loading", why, why_size);
                nd_why_set(why, why_size, "the kernel has no BTF (%s: %s; needs CONFIG_DEBUG_INFO_BTF)", KERNEL_BTF,
                        strerror(-r));
                return -EOPNOTSUPP;
        }
        if (!o->all_netns) {
                r = nd_netns_current(&netns);
                if (r < 0) {
                        nd_why_set(why, why_size, "cannot tell the current network namespace: %s", strerror(-r));
                        return r;
                }
                p.netns = (uint32_t)netns;
        }

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->events_fd = t->counters_fd = t->link_fd = t->prog_fd = t->dump_link_fd = -EBADF;
        clock_gettime(CLOCK_MONOTONIC, &started);
        /* In a child: a loader that crashes on an odd kernel takes only the
         * child down (the agent polls instead), and libbpf's megabytes of
         * BTF are gone when it exits rather than left in our heap. */
        r = nd_forked_call(load_programs, &p, fds, LOADED_FDS, &n_fds, why, why_size);
        if (r < 0)
                return r;
        clock_gettime(CLOCK_MONOTONIC, &loaded);
        if (n_fds != LOADED_FDS) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                nd_why_set(why, why_size, "the BPF loader handed back %zu of %d objects", n_fds, LOADED_FDS);
                return -EBADMSG;
        }
        t->events_fd = fds[LOADED_EVENTS];
        t->counters_fd = fds[LOADED_COUNTERS];
        t->link_fd = fds[LOADED_LINK];
        t->prog_fd = fds[LOADED_PROG];
        t->dump_link_fd = fds[LOADED_DUMP_LINK];

        t->rb = ring_buffer__new(t->events_fd, on_record, t, NULL);
        if (!t->rb) {
                r = -errno;
                nd_why_set(why, why_size, "opening the ring buffer failed: %s", strerror(-r));
                return r;
        }
        log_debug("eBPF TCP events: loaded in %.0f ms by a child process%s; ring buffer %zu bytes, up to %u "
                  "sockets, netns %s",
                  (double)(loaded.tv_sec - started.tv_sec) * 1e3 + (double)(loaded.tv_nsec - started.tv_nsec) / 1e6,
                  p.adopt_open ? ", connections open adopted" : "", p.ring_bytes, p.max_sockets,
                  o->all_netns ? "all" : "current");
        *ret = TAKE_PTR(t);
        return 0;
}

int nd_tcp_events_poll(struct nd_tcp_events *t, int timeout_ms, nd_tcp_event_fn fn, void *userdata)
{
        int r;

        t->fn = fn;
        t->userdata = userdata;
        t->realtime_offset_ns = nd_tcp_event_realtime_offset();
        r = ring_buffer__poll(t->rb, timeout_ms);
        t->fn = NULL;
        t->userdata = NULL;
        return r;
}

/* Reads the nd_dump_open walk: whole records, however read() splits them. */
int nd_tcp_events_list_open(struct nd_tcp_events *t, nd_tcp_event_fn fn, void *userdata)
{
        const size_t record = sizeof(struct nd_tcp_event_raw);
        _cleanup_close_ int fd = -EBADF;
        int64_t offset = nd_tcp_event_realtime_offset();
        char buf[512 * sizeof(struct nd_tcp_event_raw)]; /* 64 KiB: each read() restarts the walk */
        size_t have = 0;
        int n_listed = 0;

        fd = bpf_iter_create(t->dump_link_fd);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(fd, buf + have, sizeof(buf) - have);
                size_t at = 0;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                have += (size_t)n;
                for (; have - at >= record; at += record) {
                        struct nd_tcp_event ev;
                        int r;

                        if (nd_tcp_event_decode(buf + at, record, offset, &ev) < 0) {
                                t->n_malformed++;
                                continue;
                        }
                        r = fn(&ev, userdata);
                        if (r < 0)
                                return r;
                        n_listed++;
                }
                memmove(buf, buf + at, have - at);
                have -= at;
        }
        if (have > 0)
                t->n_malformed++;
        return n_listed;
}

int nd_tcp_events_fd(const struct nd_tcp_events *t)
{
        return ring_buffer__epoll_fd(t->rb);
}

int nd_tcp_events_consume(struct nd_tcp_events *t, nd_tcp_event_fn fn, void *userdata)
{
        int r;

        t->fn = fn;
        t->userdata = userdata;
        t->realtime_offset_ns = nd_tcp_event_realtime_offset();
        r = ring_buffer__consume(t->rb);
        t->fn = NULL;
        t->userdata = NULL;
        return r;
}

static int read_counter(const struct nd_tcp_events *t, uint32_t index, uint64_t *ret)
{
        int n_cpus = libbpf_num_possible_cpus();
        _cleanup_free_ uint64_t *values = NULL;
        uint64_t sum = 0;

        if (n_cpus <= 0)
                return n_cpus < 0 ? n_cpus : -EINVAL;
        values = calloc((size_t)n_cpus, sizeof(*values));
        if (!values)
                return -ENOMEM;
        if (bpf_map_lookup_elem(t->counters_fd, &index, values) < 0)
                return -errno;
        for (int i = 0; i < n_cpus; i++)
                sum += values[i];
        *ret = sum;
        return 0;
}

/* Runs of the program the kernel skipped since load because a BPF program
 * already ran on that CPU (a state change inside another program's run):
 * each is a state change we never saw. */
static int read_skipped(const struct nd_tcp_events *t, uint64_t *ret)
{
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);

        if (bpf_obj_get_info_by_fd(t->prog_fd, &info, &len) < 0)
                return -errno;
        *ret = info.recursion_misses;
        return 0;
}

int nd_tcp_events_stats(const struct nd_tcp_events *t, struct nd_tcp_events_stats *ret)
{
        struct nd_tcp_events_stats s = { .events = t->n_events, .malformed = t->n_malformed };
        int r;

        r = read_counter(t, ND_TCP_COUNTER_LOST, &s.lost);
        if (r < 0)
                return r;
        r = read_counter(t, ND_TCP_COUNTER_UNTRACKED, &s.untracked);
        if (r < 0)
                return r;
        r = read_counter(t, ND_TCP_COUNTER_CLOSED, &s.closed);
        if (r < 0)
                return r;
        r = read_skipped(t, &s.skipped);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

