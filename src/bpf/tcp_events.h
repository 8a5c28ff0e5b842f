/* The event the tcp_events BPF programs hand to user space through the ring
 * buffer. Shared by the kernel side (tcp_events.bpf.c, which includes
 * vmlinux.h first) and the user side (collect/tcp_event.c): fixed-width
 * types only, no pointers, explicit padding, so both sides agree on the
 * layout. The user side decodes it with nd_tcp_event_decode(). */
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define ND_TCP_EVENT_COMM_LEN 16

enum nd_tcp_event_kind {
        ND_TCP_EVENT_CONNECT = 1, /* SYN_SENT -> ESTABLISHED: an active open completed */
        ND_TCP_EVENT_ACCEPT = 2, /* SYN_RECV -> ESTABLISHED: a passive open completed */
        ND_TCP_EVENT_CLOSE = 3, /* an established connection reached CLOSE */
        ND_TCP_EVENT_FAILED = 4, /* SYN_SENT -> CLOSE: refused, timed out, unreachable, aborted */
        ND_TCP_EVENT_LISTEN = 5, /* a socket entered LISTEN */
        ND_TCP_EVENT_LISTEN_STOP = 6, /* a socket left LISTEN (closed, or listen() failed) */
        /* Not an event: a connection open now, listed by the nd_dump_open
         * iterator (duration, bytes, RTT, retransmits so far). */
        ND_TCP_EVENT_OPEN = 7,
};
#define ND_TCP_EVENT_KIND_MAX ND_TCP_EVENT_OPEN
/* The bit of a kind in an event_kinds mask. */
#define ND_TCP_EVENT_BIT(kind) (1u << (kind))

/* flags */
#define ND_TCP_EVENT_F_PASSIVE (1u << 0) /* close: the connection was accepted, not connected */
/* close of a passive connection: pid is its listener's owner; nobody was
 * seen closing it (reset by the peer, or never accepted). */
#define ND_TCP_EVENT_F_OWNER_LISTENER (1u << 1)
/* close, open: the connection was open before the collector was loaded
 * (hybrid mode adopts them); duration counts from then. */
#define ND_TCP_EVENT_F_ADOPTED (1u << 2)

/* Indices of the counters array (one slot per CPU, user space sums). */
enum nd_tcp_event_counter {
        ND_TCP_COUNTER_LOST = 0, /* ring buffer full: event dropped */
        ND_TCP_COUNTER_UNTRACKED = 1, /* socket or listener table full: not followed */
        ND_TCP_COUNTER_CLOSED = 2, /* followed connections that reached CLOSE, whether sent or not */
        /* Changes to what the listing of open connections holds: a followed
         * connection established, adopted, closed by its process, or
         * closed. Unchanged, the listing is the same as last time. */
        ND_TCP_COUNTER_CHANGES = 3,
        /* State changes the kernel skipped for the main program (it was
         * already running on that CPU) that the nested one handled. */
        ND_TCP_COUNTER_NESTED = 4,
        ND_TCP_COUNTER_MAX = 5,
};

struct nd_tcp_event_raw {
        __u64 ts_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
        __u64 cookie; /* socket cookie, as sock_diag's idiag_cookie (0 if unknown) */
        __u64 duration_ns; /* close: ESTABLISHED -> CLOSE; failed: SYN_SENT -> CLOSE */
        __u64 bytes_acked; /* close: tcp_sock.bytes_acked (sent and acknowledged) */
        __u64 bytes_received; /* close: tcp_sock.bytes_received */
        __u32 netns; /* inode of the socket's network namespace */
        __u32 pid; /* tgid of the owning process; 0 when unknown */
        __u32 pgid; /* its process group; 0 when unknown */
        __u32 rtt_us; /* close: smoothed RTT */
        __u32 retrans; /* close: total retransmits */
        __s32 error; /* failed: the socket's error (ECONNREFUSED, ETIMEDOUT...), 0 if closed by the application */
        __u16 kind; /* enum nd_tcp_event_kind */
        __u16 family; /* AF_INET or AF_INET6 */
        __u16 sport; /* local port, host order */
        __u16 dport; /* remote port, host order */
        __u8 saddr[16]; /* local address, network order; IPv4 in the first 4 bytes */
        __u8 daddr[16]; /* remote address */
        __u8 flags; /* ND_TCP_EVENT_F_* */
        __u8 state; /* close: the TCP state the socket left for CLOSE */
        __u8 pad[6];
        char comm[ND_TCP_EVENT_COMM_LEN]; /* not always NUL-terminated */
};
