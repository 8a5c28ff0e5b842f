/* One TCP event from the kernel (connect, accept, close, failed connect,
 * listen), decoded from the ring buffer record of src/bpf/tcp_events.h; or
 * one connection open now, from the listing of the same records
 * (ND_TCP_EVENT_OPEN, nd_tcp_events_list_open()).
 *
 * Pure: decoding and naming touch no kernel state, so they are unit-tested
 * on hand-made records. The collector that loads the BPF programs is
 * collect/tcp_events.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/tcp_events.h"
#include "model/addr.h"

struct nd_tcp_event {
        enum nd_tcp_event_kind kind;
        uint64_t ts_ns; /* CLOCK_REALTIME, nanoseconds since the epoch */
        uint64_t mono_ns; /* CLOCK_MONOTONIC, as the kernel stamped it */
        uint64_t cookie; /* socket cookie (sock_diag's idiag_cookie); 0 if unknown */
        uint64_t netns; /* inode of the socket's network namespace */
        uint32_t pid, pgid; /* owning process; 0 when unknown */
        char comm[ND_TCP_EVENT_COMM_LEN + 1]; /* "" when unknown */
        struct nd_addr local, peer; /* IPv4-mapped IPv6 folded to IPv4 */
        uint16_t local_port, peer_port; /* host order */
        /* accept, and close of an accepted connection: the local side
         * listened. connect, failed, and close of a connected one: false. */
        bool passive;
        /* accept, and close of a passive connection nobody was seen closing
         * (reset by the peer, never accepted): pid is the owner of the
         * listener it came in on, or 0 if that listener predates us. */
        bool owner_from_listener;
        /* close, open: the connection was open before the collector was
         * loaded (hybrid mode adopted it); its duration counts from then. */
        bool adopted;
        /* close: ESTABLISHED -> CLOSE; failed: SYN_SENT -> CLOSE; open: so
         * far; else 0. */
        uint64_t duration_us;
        /* close, open: acknowledged payload bytes out, payload bytes in */
        uint64_t bytes_sent, bytes_received;
        uint32_t rtt_us, retrans; /* close, open: smoothed RTT, total retransmits */
        int error; /* failed: errno (positive); 0 when its application gave up */
        /* close: the TCP state left for CLOSE; open: the state it is in
         * (enum nd_tcp_state) */
        uint8_t prev_state;
};

/* Decodes one ring buffer record. realtime_offset_ns is CLOCK_REALTIME minus
 * CLOCK_MONOTONIC (nd_tcp_event_realtime_offset()), to date the event.
 * Returns 0, or -EBADMSG if the record is short, of an unknown kind or
 * family; *ret is written only on success. */
int nd_tcp_event_decode(const void *data, size_t len, int64_t realtime_offset_ns, struct nd_tcp_event *ret);

/* CLOCK_REALTIME - CLOCK_MONOTONIC now, in nanoseconds. */
int64_t nd_tcp_event_realtime_offset(void);

/* "connect", "accept", "close", "failed", "listen", "listen_stop", "open";
 * NULL if unknown. */
const char *nd_tcp_event_kind_name(enum nd_tcp_event_kind kind);

/* Why a connect failed, from its errno: "refused", "timeout",
 * "unreachable", "reset", "closed" (0: the application closed it first)
 * or "error". */
const char *nd_tcp_event_failure_name(int error);

/* The switch that turns the eBPF collector off. disabled comes from the
 * caller's settings, env_value from $NETDEP_BPF (may be NULL). Returns 0
 * when eBPF may be tried, -EOPNOTSUPP when it is switched off, -EINVAL for a
 * NETDEP_BPF value that is neither on nor off; on error a one-line reason
 * goes into why (if not NULL). */
int nd_tcp_events_check_switch(bool disabled, const char *env_value, char *why, size_t why_size);
