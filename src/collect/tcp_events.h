/* The eBPF TCP event collector: every connection of the host as it opens
 * and closes, even those too short for any sock_diag poll to see, and
 * every failed connect. See docs/bpf.md.
 *
 * A build without BPF (meson -Dbpf=disabled, or clang, bpftool, libbpf or
 * BTF missing at build time) links a stub whose functions return
 * -EOPNOTSUPP. Not thread-safe: one thread opens, polls and frees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect/tcp_event.h"
#include "shared/cleanup.h"

struct nd_tcp_events;

#define ND_TCP_EVENTS_RING_BYTES_DEFAULT (1u << 20)
#define ND_TCP_EVENTS_MAX_SOCKETS_DEFAULT 65536u
#define ND_TCP_EVENTS_MAX_LISTENERS_DEFAULT 16384u

struct nd_tcp_events_options {
        /* Ring buffer size, rounded up to a power of two of at least a page
         * (at most 1 GiB); 0 for ND_TCP_EVENTS_RING_BYTES_DEFAULT. */
        size_t ring_bytes;
        /* Connections followed at once from open to close (a hash, about
         * 130 bytes of kernel memory each, taken as used); 0 for
         * ND_TCP_EVENTS_MAX_SOCKETS_DEFAULT. Connections beyond it are
         * counted as untracked, are not listed as open, and give no close
         * event (and an active one no connect event either). */
        uint32_t max_sockets;
        /* Listening (netns, address, port)s remembered with their owner, to
         * credit passive connections; 0 for ND_TCP_EVENTS_MAX_LISTENERS_DEFAULT. */
        uint32_t max_listeners;
        /* Every network namespace; otherwise only that of the thread
         * calling nd_tcp_events_open(). */
        bool all_netns;
        uint32_t pid; /* only events of this process (tgid); 0 for any */
        uint16_t port; /* only events with this local or remote port; 0 for any */
        /* The kinds of event wanted (ND_TCP_EVENT_BIT()s); 0 for all. The
         * others cost no ring buffer space and no time in the kernel. The
         * listing (nd_tcp_events_list_open()) and the closed count do not
         * depend on it. */
        uint32_t event_kinds;
        /* Also follow the connections already open at load (hybrid mode):
         * a walk over every open file credits each to the process holding
         * it. Otherwise only connections opened later are followed. */
        bool adopt_open;
        /* Load the listing of the connections followed
         * (nd_tcp_events_list_open()). */
        bool list_open;
        /* The settings' off switch: open then fails with -EOPNOTSUPP. */
        bool disabled;
};

/* The optional parts of the collector. The core, the program that sees
 * every state change (opens, accepts, closes, failed connects, LISTEN),
 * loads or the collector fails; each of these is switched off alone when
 * the kernel refuses its program (nd_tcp_events_features_off()). */
enum nd_tcp_events_feature {
        /* A walk at load credits listeners opened before us to their processes. */
        ND_TCP_EVENTS_SEED_LISTENERS = 1u << 0,
        /* A walk at load follows the connections already open (adopt_open). */
        ND_TCP_EVENTS_ADOPTION = 1u << 1,
        /* nd_tcp_events_list_open() (list_open). */
        ND_TCP_EVENTS_LISTING = 1u << 2,
};

/* Called once per event, in the polling thread; ev is valid only during
 * the call. A negative return stops the poll and is passed back. */
typedef int (*nd_tcp_event_fn)(const struct nd_tcp_event *ev, void *userdata);

/* Loads and attaches the BPF programs, then walks every open file of the
 * host once (in the kernel) to credit listeners opened before us to their
 * processes (and, with o->adopt_open, once more to follow the connections
 * open). A feature the kernel refuses is switched off, the rest loads:
 * ask nd_tcp_events_features_off(). All of that runs in a short-lived child process, which hands
 * back the maps and the link (docs/bpf.md, "Loading in a child process"):
 * call it before starting threads. o may be NULL for the defaults. Returns 0, or:
 *   -EOPNOTSUPP  switched off (o->disabled, NETDEP_BPF=off), built without
 *                eBPF, or the kernel lacks BTF or a hook we need;
 *   -EINVAL      a bad NETDEP_BPF value or option;
 *   -EPERM       not allowed (needs root, or CAP_BPF + CAP_PERFMON);
 *   other -errno from loading.
 * On error a one-line reason goes into why (if not NULL), fit for "eBPF
 * unavailable: %s"; nothing is logged but libbpf's own messages, at info
 * (warnings) and debug level. Caller owns *ret; free with
 * nd_tcp_events_free(). */
int nd_tcp_events_open(const struct nd_tcp_events_options *o, struct nd_tcp_events **ret, char *why,
                       size_t why_size);

struct nd_tcp_events *nd_tcp_events_free(struct nd_tcp_events *t);

/* Waits up to timeout_ms (-1: forever, 0: not at all) for events and hands
 * every available one to fn. Returns the number of events handled, -EINTR
 * when a signal interrupted the wait, or fn's negative return. */
int nd_tcp_events_poll(struct nd_tcp_events *t, int timeout_ms, nd_tcp_event_fn fn, void *userdata);

/* For callers with their own poll loop: an fd that turns readable (POLLIN)
 * when events are waiting. Owned by t: do not close it. */
int nd_tcp_events_fd(const struct nd_tcp_events *t);
/* Hands every available event to fn without waiting; returns as _poll(). */
int nd_tcp_events_consume(struct nd_tcp_events *t, nd_tcp_event_fn fn, void *userdata);

/* The features asked for in the options but off on this kernel
 * (ND_TCP_EVENTS_*), and in *ret_why (if not NULL; owned by t) which and
 * why, one line, e.g. "adoption: the kernel refuses nd_adopt_connections
 * (...)"; "" when none is off. */
unsigned nd_tcp_events_features_off(const struct nd_tcp_events *t, const char **ret_why);

/* The program that lists the connections open on this kernel
 * ("nd_dump_open", "nd_dump_open_copy" or "nd_list_tcp", docs/bpf.md),
 * or NULL when the listing is off. */
const char *nd_tcp_events_listing(const struct nd_tcp_events *t);

/* How many of the BPF programs asked for are loaded. */
void nd_tcp_events_programs(const struct nd_tcp_events *t, unsigned *ret_loaded, unsigned *ret_wanted);

/* A count that grows whenever what nd_tcp_events_list_open() would list
 * changes: a followed connection established, adopted, closed by its
 * process, or closed. Equal to an earlier reading, the listing then still
 * holds (bytes, RTT and retransmits aside, which move without it).
 * Returns 0 or -errno. */
int nd_tcp_events_changes(const struct nd_tcp_events *t, uint64_t *ret);

/* Hands every followed connection open now to fn, as an ND_TCP_EVENT_OPEN
 * (endpoints, process, direction; bytes, RTT and retransmits so far): the
 * polling snapshot's answer without its cost. The kernel walks only the
 * sockets it follows; a sock_diag dump walks its whole socket hash table,
 * which is sized by RAM and shared by every namespace. Connections in the
 * teardown that their process has closed are left out, as polling leaves
 * them out. Returns the number handed to fn, -EOPNOTSUPP when the listing
 * is off (not asked for, or refused by the kernel), another negative
 * errno, or fn's negative return. */
int nd_tcp_events_list_open(struct nd_tcp_events *t, nd_tcp_event_fn fn, void *userdata);

struct nd_tcp_events_stats {
        uint64_t events; /* handed to fn */
        uint64_t lost; /* dropped in the kernel: the ring buffer was full */
        uint64_t untracked; /* connections or listeners not followed: their table was full */
        uint64_t closed; /* followed connections that closed after being established, sent or not */
        uint64_t malformed; /* records that did not decode (version skew: a bug) */
        /* State changes never seen: the kernel skipped the program because
         * it was already running on that CPU, and its nested twin missed
         * them too (kernel 5.12 or later; 0 before). */
        uint64_t skipped;
};

/* Counters since open. */
int nd_tcp_events_stats(const struct nd_tcp_events *t, struct nd_tcp_events_stats *ret);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_tcp_events *, nd_tcp_events_free);
