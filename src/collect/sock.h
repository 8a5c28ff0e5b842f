/* One TCP socket as the kernel reports it, decoded and normalised. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "model/addr.h"

/* TCP states as in the kernel's include/net/tcp_states.h. */
enum nd_tcp_state {
        ND_TCP_ESTABLISHED = 1,
        ND_TCP_SYN_SENT,
        ND_TCP_SYN_RECV,
        ND_TCP_FIN_WAIT1,
        ND_TCP_FIN_WAIT2,
        ND_TCP_TIME_WAIT,
        ND_TCP_CLOSE,
        ND_TCP_CLOSE_WAIT,
        ND_TCP_LAST_ACK,
        ND_TCP_LISTEN,
        ND_TCP_CLOSING,
        ND_TCP_NEW_SYN_RECV,
};

#define ND_TCPF(state) (1u << (state))
/* States whose sockets carry a connection and so fold into host flows:
 * not LISTEN, SYN_SENT, SYN_RECV, TIME_WAIT or CLOSE. */
#define ND_TCPF_FLOW_STATES                                                    \
        (ND_TCPF(ND_TCP_ESTABLISHED) | ND_TCPF(ND_TCP_FIN_WAIT1) |             \
         ND_TCPF(ND_TCP_FIN_WAIT2) | ND_TCPF(ND_TCP_CLOSE_WAIT) |              \
         ND_TCPF(ND_TCP_LAST_ACK) | ND_TCPF(ND_TCP_CLOSING))

struct nd_sock {
        uint8_t state; /* enum nd_tcp_state */
        int8_t v6only; /* 1, 0, or -1 when the source did not say */
        struct nd_addr local, peer;
        uint16_t local_port, peer_port; /* host order */
        uint32_t inode; /* 0 when the socket has no owner (e.g. TIME_WAIT) */
        uint32_t uid;
        bool has_tcp_info;
        uint32_t rtt_us; /* smoothed RTT */
        uint32_t retrans; /* total retransmits over the socket's life */
        uint64_t bytes_sent, bytes_received;
};

static inline bool nd_sock_is_flow_state(const struct nd_sock *s)
{
        return s->state < 32 && (ND_TCPF(s->state) & ND_TCPF_FLOW_STATES);
}

/* A socket its application has closed, now only finishing the TCP teardown
 * in the kernel (no inode: no file refers to it any more). It is no longer
 * anybody's connection and is not counted. */
static inline bool nd_sock_is_orphan(const struct nd_sock *s)
{
        return s->inode == 0 &&
               (s->state == ND_TCP_FIN_WAIT1 || s->state == ND_TCP_FIN_WAIT2 ||
                s->state == ND_TCP_CLOSING || s->state == ND_TCP_LAST_ACK);
}

/* Called once per decoded socket; a negative return stops the walk and is
 * passed back to the caller. */
typedef int (*nd_sock_fn)(const struct nd_sock *s, void *userdata);
