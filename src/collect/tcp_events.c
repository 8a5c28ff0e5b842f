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

#include "collect/bpf_load_log.h"
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
        int events_fd, counters_fd, link_fd, prog_fd, nested_link_fd, dump_link_fd;
        unsigned features_off; /* ND_TCP_EVENTS_* asked for but off */
        unsigned programs_loaded, programs_wanted;
        char *features_why; /* why they are off, one line; NULL if none */
        const char *listing; /* the program that lists; NULL without the listing */
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
        unsigned features; /* ND_TCP_EVENTS_* wanted */
};

/* The fds the loader hands back; the last only with the listing on. */
enum {
        LOADED_EVENTS,
        LOADED_COUNTERS,
        LOADED_LINK,
        LOADED_PROG,
        LOADED_NESTED_LINK,
        LOADED_DUMP_LINK,
        LOADED_FDS,
};

/* The program that failed to load, and the verifier's last word on it,
 * as libbpf printed them: libbpf's print callback takes no user pointer,
 * so this is file-scope, and written only in the loader's child process. */
static struct nd_bpf_load_failure load_failed;

/* libbpf talks a lot while loading: keep it for -v (warnings) and -vv,
 * whole (a verifier log comes as one message of any length), and note
 * which program failed and why. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
        enum log_level ours = level == LIBBPF_WARN ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG;
        _cleanup_free_ char *msg = NULL;
        char *line, *next;

        if (vasprintf(&msg, fmt, ap) < 0)
                return 0;
        /* A refused program is reported by the loader in one line, with the
         * verifier's last word: libbpf's account of it (and of the object
         * that then failed) is for -vv. */
        if (level == LIBBPF_WARN && (nd_bpf_load_failure_note(&load_failed, msg) || strstr(msg, "failed to load") ||
                                     strstr(msg, "permission error while running as root")))
                ours = LOG_LEVEL_DEBUG;
        if (ours > log_get_max_level())
                return 0;
        /* libbpf's messages start with "libbpf: " already. */
        for (line = msg; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (ours == LOG_LEVEL_INFO)
                        log_info("%s", line);
                else
                        log_debug("%s", line);
        }
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
        free(t->features_why);
        if (t->dump_link_fd >= 0)
                close(t->dump_link_fd);
        if (t->prog_fd >= 0)
                close(t->prog_fd);
        if (t->nested_link_fd >= 0)
                close(t->nested_link_fd);
        if (t->link_fd >= 0)
                close(t->link_fd);
        if (t->counters_fd >= 0)
                close(t->counters_fd);
        if (t->events_fd >= 0)
                close(t->events_fd);
        free(t);
        return NULL;
}

/* The optional features, each a program (and, for the listing, its
 * fallback where bpf_rdonly_cast is missing). */
static const struct {
        unsigned feature;
        const char *name;
} features[] = {
        { ND_TCP_EVENTS_SEED_LISTENERS, "listener seeding" },
        { ND_TCP_EVENTS_ADOPTION, "adoption" },
        { ND_TCP_EVENTS_LISTING, "listing" },
};

/* "listener seeding", "adoption", "listing". */
static const char *feature_name(unsigned feature)
{
        for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
                if (features[i].feature == feature)
                        return features[i].name;
        return NULL;
}

/* The ways to list the connections followed, best first: a walk of the
 * followed sockets reading each in place (bpf_rdonly_cast, 6.2+), the
 * same walk copying each socket, and a walk of the kernel's TCP table,
 * for kernels that refuse map element iterators (it sees only the
 * reader's network namespace). */
enum listing_way { LIST_IN_PLACE, LIST_BY_COPY, LIST_TCP_TABLE, LISTING_WAYS };
/* The loader's result: the features off in the low bits, the listing's way above. */
#define LISTING_SHIFT 8

static const char *const listing_names[LISTING_WAYS] = {
        [LIST_IN_PLACE] = "nd_dump_open",
        [LIST_BY_COPY] = "nd_dump_open_copy",
        [LIST_TCP_TABLE] = "nd_list_tcp",
};

static struct bpf_program *listing_program(const struct tcp_events_bpf *skel, enum listing_way way)
{
        switch (way) {
        case LIST_IN_PLACE:
                return skel->progs.nd_dump_open;
        case LIST_BY_COPY:
                return skel->progs.nd_dump_open_copy;
        default:
                return skel->progs.nd_list_tcp;
        }
}

/* The feature a program of the skeleton serves; 0 for the core. */
static unsigned feature_of(const struct tcp_events_bpf *skel, const char *prog)
{
        if (strcmp(prog, bpf_program__name(skel->progs.nd_seed_listeners)) == 0)
                return ND_TCP_EVENTS_SEED_LISTENERS;
        if (strcmp(prog, bpf_program__name(skel->progs.nd_adopt_connections)) == 0)
                return ND_TCP_EVENTS_ADOPTION;
        for (enum listing_way way = 0; way < LISTING_WAYS; way++)
                if (strcmp(prog, bpf_program__name(listing_program(skel, way))) == 0)
                        return ND_TCP_EVENTS_LISTING;
        return 0;
}

/* Notes in why that a feature is off, after those already noted. */
static void feature_off(unsigned *off, unsigned feature, char *why, size_t why_size, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));
static void feature_off(unsigned *off, unsigned feature, char *why, size_t why_size, const char *fmt, ...)
{
        size_t n = strlen(why);
        va_list ap;

        *off |= feature;
        if (n + 3 >= why_size)
                return;
        n += (size_t)snprintf(why + n, why_size - n, "%s%s: ", n ? "; " : "", feature_name(feature));
        if (n >= why_size)
                return;
        va_start(ap, fmt);
        vsnprintf(why + n, why_size - n, fmt, ap);
        va_end(ap);
}

/* Opens the skeleton and sets it up for one load: filters, map sizes,
 * and which programs load (the features wanted, not off). */
static int skeleton_open(const struct load_params *p, unsigned off, enum listing_way listing,
                         struct tcp_events_bpf **ret)
{
        unsigned on = p->features & ~off;
        struct tcp_events_bpf *skel = NULL;
        int r;

        skel = tcp_events_bpf__open();
        if (!skel)
                return -errno;
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
                tcp_events_bpf__destroy(skel);
                return r;
        }
        bpf_program__set_autoload(skel->progs.nd_seed_listeners, on & ND_TCP_EVENTS_SEED_LISTENERS);
        bpf_program__set_autoload(skel->progs.nd_adopt_connections, on & ND_TCP_EVENTS_ADOPTION);
        /* The walks run below, not as attachments. */
        bpf_program__set_autoattach(skel->progs.nd_seed_listeners, false);
        bpf_program__set_autoattach(skel->progs.nd_adopt_connections, false);
        for (enum listing_way way = 0; way < LISTING_WAYS; way++) {
                bpf_program__set_autoload(listing_program(skel, way), (on & ND_TCP_EVENTS_LISTING) && way == listing);
                bpf_program__set_autoattach(listing_program(skel, way), false);
        }
        *ret = skel;
        return 0;
}

/* Loads the programs wanted. An optional program the kernel refuses is
 * switched off (noted in why) and the rest loaded again; the listing
 * falls back to its copying form first. Each try is a fresh skeleton:
 * libbpf loads an object once. At most one try per program. */
static int skeleton_load(const struct load_params *p, unsigned *off, enum listing_way *ret_listing,
                         struct tcp_events_bpf **ret, char *why, size_t why_size)
{
        enum listing_way listing = LIST_IN_PLACE;
        int r;

        for (int attempt = 0; attempt < 6; attempt++) {
                struct tcp_events_bpf *skel = NULL;
                char next_name[64];
                const char *next;
                unsigned feature;

                r = skeleton_open(p, *off, listing, &skel);
                if (r < 0) {
                        nd_why_set(why, why_size, "opening the BPF programs failed: %s", error_text(r));
                        return r;
                }
                memset(&load_failed, 0, sizeof(load_failed));
                r = tcp_events_bpf__load(skel);
                if (r >= 0) {
                        *ret_listing = listing;
                        *ret = skel;
                        return 0;
                }
                feature = load_failed.prog[0] ? feature_of(skel, load_failed.prog) : 0;
                next = listing + 1 < LISTING_WAYS ? bpf_program__name(listing_program(skel, listing + 1)) : "";
                snprintf(next_name, sizeof(next_name), "%s", next);
                tcp_events_bpf__destroy(skel);
                if (!feature) { /* the core, or no program in particular */
                        if (!load_failed.reason[0] || ((r == -EPERM || r == -EACCES) && geteuid() != 0))
                                return load_failure(r, "loading", why, why_size);
                        nd_why_set(why, why_size, "the kernel refuses %s: %s (run with -vv for the verifier's log)",
                                   load_failed.prog, load_failed.reason);
                        return -EOPNOTSUPP;
                }
                /* The next way to list, if any: the TCP table's walk only
                 * where one network namespace is followed. */
                if (feature == ND_TCP_EVENTS_LISTING && listing + 1 < LISTING_WAYS &&
                    (listing + 1 != LIST_TCP_TABLE || p->netns != 0)) {
                        log_debug("eBPF: the kernel refuses %s (%s): trying %s", load_failed.prog,
                                  load_failed.reason[0] ? load_failed.reason : error_text(r), next_name);
                        listing++;
                        continue;
                }
                feature_off(off, feature, why, why_size, "the kernel refuses %s (%s)%s", load_failed.prog,
                            load_failed.reason[0] ? load_failed.reason : error_text(r),
                            feature == ND_TCP_EVENTS_LISTING && listing + 1 == LIST_TCP_TABLE
                                    ? ", and a walk of the TCP table would see one network namespace"
                                    : "");
        }
        return load_failure(r, "loading", why, why_size);
}

/* The loader, run in a child process (nd_forked_call()): loads what the
 * kernel takes (libbpf parses the kernel's whole BTF for CO-RE here:
 * megabytes that would otherwise stay in the agent's high-water mark),
 * attaches, seeds the listeners, adopts the connections open if asked, and
 * hands back the LOADED_* fds. Returns the mask of features wanted but
 * off, why holding the reasons. Exiting frees the rest. */
static int load_programs(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why, size_t why_size)
{
        const struct load_params *p = userdata;
        DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, dump_opts);
        union bpf_iter_link_info dump_on = {};
        struct tcp_events_bpf *skel = NULL;
        enum listing_way listing = LIST_IN_PLACE;
        struct bpf_link *dump = NULL;
        unsigned off = 0;
        int r;

        if (max_fds < LOADED_FDS)
                return -EINVAL;
        libbpf_set_print(libbpf_print);
        why[0] = 0;
        r = skeleton_load(p, &off, &listing, &skel, why, why_size);
        if (r < 0)
                return r;
        r = tcp_events_bpf__attach(skel);
        if (r < 0)
                return load_failure(r, "attaching", why, why_size);
        /* After attaching: a listener opened meanwhile is seen by both, and
         * counted once. */
        if ((p->features & ~off) & ND_TCP_EVENTS_SEED_LISTENERS) {
                r = run_walk(skel->progs.nd_seed_listeners);
                if (r < 0)
                        feature_off(&off, ND_TCP_EVENTS_SEED_LISTENERS, why, why_size, "its walk failed: %s",
                                    error_text(r));
        }
        /* After the listeners: each connection is classified by them. */
        if ((p->features & ~off) & ND_TCP_EVENTS_ADOPTION) {
                r = run_walk(skel->progs.nd_adopt_connections);
                if (r < 0)
                        feature_off(&off, ND_TCP_EVENTS_ADOPTION, why, why_size, "its walk failed: %s",
                                    error_text(r));
        }
        if ((p->features & ~off) & ND_TCP_EVENTS_LISTING) {
                struct bpf_program *lister = listing_program(skel, listing);

                if (listing != LIST_TCP_TABLE) { /* a walk of socks */
                        dump_on.map.map_fd = (uint32_t)bpf_map__fd(skel->maps.socks);
                        dump_opts.link_info = &dump_on;
                        dump_opts.link_info_len = sizeof(dump_on);
                }
                dump = bpf_program__attach_iter(lister, &dump_opts);
                if (!dump)
                        feature_off(&off, ND_TCP_EVENTS_LISTING, why, why_size, "attaching %s failed: %s",
                                    bpf_program__name(lister), error_text(-errno));
        }

        fds[LOADED_EVENTS] = bpf_map__fd(skel->maps.events);
        fds[LOADED_COUNTERS] = bpf_map__fd(skel->maps.counters);
        fds[LOADED_LINK] = bpf_link__fd(skel->links.nd_inet_sock_set_state);
        fds[LOADED_PROG] = bpf_program__fd(skel->progs.nd_inet_sock_set_state);
        fds[LOADED_NESTED_LINK] = bpf_link__fd(skel->links.nd_inet_sock_set_state_nested);
        *n_fds = LOADED_DUMP_LINK;
        if (dump)
                fds[(*n_fds)++] = bpf_link__fd(dump);
        return (int)(off | (unsigned)listing << LISTING_SHIFT);
}

int nd_tcp_events_open(const struct nd_tcp_events_options *o, struct nd_tcp_events **ret, char *why,
                       size_t why_size)
{
        static const struct nd_tcp_events_options defaults = {};
        _cleanup_(nd_tcp_events_freep) struct nd_tcp_events *t = NULL;
        struct load_params p = {};
        struct timespec started, loaded;
        char note[512] = "";
        int fds[LOADED_FDS];
        size_t n_fds = 0, want_fds;
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
        p.features = ND_TCP_EVENTS_SEED_LISTENERS | (o->adopt_open ? ND_TCP_EVENTS_ADOPTION : 0) |
                     (o->list_open ? ND_TCP_EVENTS_LISTING : 0);

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
        t->events_fd = t->counters_fd = t->link_fd = t->prog_fd = t->nested_link_fd = t->dump_link_fd = -EBADF;
        clock_gettime(CLOCK_MONOTONIC, &started);
        /* In a child: a loader that crashes on an odd kernel takes only the
         * child down (the agent polls instead), and libbpf's megabytes of
         * BTF are gone when it exits rather than left in our heap. */
        r = nd_forked_call(load_programs, &p, fds, LOADED_FDS, &n_fds, note, sizeof(note));
        if (r < 0) {
                nd_why_set(why, why_size, "%s", note);
                return r;
        }
        clock_gettime(CLOCK_MONOTONIC, &loaded);
        t->features_off = (unsigned)r & p.features;
        if ((p.features & ~t->features_off) & ND_TCP_EVENTS_LISTING &&
            (unsigned)r >> LISTING_SHIFT < LISTING_WAYS)
                t->listing = listing_names[(unsigned)r >> LISTING_SHIFT];
        want_fds = (p.features & ~t->features_off) & ND_TCP_EVENTS_LISTING ? LOADED_FDS : LOADED_DUMP_LINK;
        if (n_fds != want_fds) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                nd_why_set(why, why_size, "the BPF loader handed back %zu of %zu objects", n_fds, want_fds);
                return -EBADMSG;
        }
        t->events_fd = fds[LOADED_EVENTS];
        t->counters_fd = fds[LOADED_COUNTERS];
        t->link_fd = fds[LOADED_LINK];
        t->prog_fd = fds[LOADED_PROG];
        t->nested_link_fd = fds[LOADED_NESTED_LINK];
        if (n_fds > LOADED_DUMP_LINK)
                t->dump_link_fd = fds[LOADED_DUMP_LINK];
        t->programs_wanted = 2 + (unsigned)__builtin_popcount(p.features); /* the core is two */
        t->programs_loaded = t->programs_wanted - (unsigned)__builtin_popcount(t->features_off);
        if (t->features_off) {
                t->features_why = strdup(note);
                if (!t->features_why)
                        return -ENOMEM;
        }

        t->rb = ring_buffer__new(t->events_fd, on_record, t, NULL);
        if (!t->rb) {
                r = -errno;
                nd_why_set(why, why_size, "opening the ring buffer failed: %s", strerror(-r));
                return r;
        }
        log_debug("eBPF TCP events: %u of %u programs loaded in %.0f ms by a child process; ring buffer %zu "
                  "bytes, up to %u sockets, netns %s",
                  t->programs_loaded, t->programs_wanted,
                  (double)(loaded.tv_sec - started.tv_sec) * 1e3 + (double)(loaded.tv_nsec - started.tv_nsec) / 1e6,
                  p.ring_bytes, p.max_sockets, o->all_netns ? "all" : "current");
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

        if (t->dump_link_fd < 0)
                return -EOPNOTSUPP; /* the listing is off */
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

/* State changes never seen since load: the kernel skipped the main
 * program because it was already running on that CPU (a state change in
 * the middle of its run), less those the nested program handled. */
static int read_skipped(const struct nd_tcp_events *t, uint64_t *ret)
{
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        uint64_t nested = 0;
        int r;

        if (bpf_obj_get_info_by_fd(t->prog_fd, &info, &len) < 0)
                return -errno;
        r = read_counter(t, ND_TCP_COUNTER_NESTED, &nested);
        if (r < 0)
                return r;
        *ret = info.recursion_misses > nested ? info.recursion_misses - nested : 0;
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


unsigned nd_tcp_events_features_off(const struct nd_tcp_events *t, const char **ret_why)
{
        if (ret_why)
                *ret_why = t->features_why ? t->features_why : "";
        return t->features_off;
}

void nd_tcp_events_programs(const struct nd_tcp_events *t, unsigned *ret_loaded, unsigned *ret_wanted)
{
        *ret_loaded = t->programs_loaded;
        *ret_wanted = t->programs_wanted;
}

int nd_tcp_events_changes(const struct nd_tcp_events *t, uint64_t *ret)
{
        return read_counter(t, ND_TCP_COUNTER_CHANGES, ret);
}

const char *nd_tcp_events_listing(const struct nd_tcp_events *t)
{
        return t->listing;
}
