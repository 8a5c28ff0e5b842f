/* ICMP echo probes, IPv4 and IPv6, on one socket per family.
 *
 * An unprivileged ping socket (SOCK_DGRAM, IPPROTO_ICMP or ICMPV6) when
 * net.ipv4.ping_group_range lets the process's group have one: the kernel
 * then chooses the echo identifier, fills in the checksum and delivers only
 * the replies to that identifier. Otherwise a raw socket (needs
 * CAP_NET_RAW), which sees every echo reply on the host: replies are
 * matched by identifier and by a token the prober puts in each request's
 * payload, then by sequence number. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "probe/probe_outcome.h"

struct nd_icmp_socket {
        int fd;
        int family; /* AF_INET or AF_INET6 */
        bool raw;
        uint16_t id; /* network order; the one raw requests carry */
        uint64_t token;
};

/* Opens a ping socket of family, else a raw one (SOCK_NONBLOCK |
 * SOCK_CLOEXEC both). token marks this prober's requests. Returns 0, or
 * the raw socket's -errno (-EPERM, -EACCES) when neither is permitted. */
int nd_icmp_socket_open(int family, uint64_t token, struct nd_icmp_socket *ret);

void nd_icmp_socket_close(struct nd_icmp_socket *s);

/* Sends one echo request with sequence number seq. Returns 0, or -errno
 * when it could not leave (e.g. -ENETUNREACH: the caller counts it lost). */
int nd_icmp_send(const struct nd_icmp_socket *s, const struct nd_addr *to, uint16_t seq);

/* Reads one datagram. Returns 1 with the sequence number and the sender
 * when it is an echo reply to one of this socket's requests, 0 for
 * anything else, -EAGAIN when nothing waits, or another -errno. */
int nd_icmp_receive(const struct nd_icmp_socket *s, uint16_t *ret_seq, struct nd_addr *ret_from);
