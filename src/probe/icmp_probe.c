#include "probe/icmp_probe.h"

#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/log.h"

/* From <linux/icmp.h>, which clashes with <netinet/ip_icmp.h>. */
#ifndef ICMP_FILTER
#define ICMP_FILTER 1
#endif

/* An echo header and the token: what every request carries. */
struct echo {
        uint8_t type, code;
        uint16_t checksum, id, seq;
        uint64_t token;
} __attribute__((packed));

static uint16_t checksum(const void *data, size_t len)
{
        const uint8_t *p = data;
        uint32_t sum = 0;

        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)(p[i] << 8 | p[i + 1]);
        if (len & 1)
                sum += (uint32_t)p[len - 1] << 8;
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return htons((uint16_t)~sum);
}

/* A raw socket sees every ICMP message the host gets: let only echo
 * replies through. */
static int filter_echo_replies(int fd, int family)
{
        if (family == AF_INET) {
                uint32_t blocked = ~(1U << ICMP_ECHOREPLY);

                return setsockopt(fd, SOL_RAW, ICMP_FILTER, &blocked, sizeof(blocked)) < 0 ? -errno : 0;
        }
        struct icmp6_filter f;

        ICMP6_FILTER_SETBLOCKALL(&f);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
        return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof(f)) < 0 ? -errno : 0;
}

int nd_icmp_socket_open(int family, uint64_t token, struct nd_icmp_socket *ret)
{
        int proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6, r;
        _cleanup_close_ int fd = -EBADF;
        bool raw = false;

        fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        if (fd < 0) {
                log_debug_errno(-errno, "No ping socket (net.ipv4.ping_group_range?), trying a raw one: %m");
                fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
                if (fd < 0)
                        return log_debug_errno(-errno, "No raw ICMP socket either: %m");
                raw = true;
                r = filter_echo_replies(fd, family);
                if (r < 0)
                        return log_debug_errno(r, "Failed to filter ICMP on a raw socket: %m");
        }
        *ret = (struct nd_icmp_socket){
                .fd = TAKE_FD(fd),
                .family = family,
                .raw = raw,
                .id = htons((uint16_t)(token ^ token >> 16 ^ token >> 32 ^ token >> 48)),
                .token = token,
        };
        return 0;
}

void nd_icmp_socket_close(struct nd_icmp_socket *s)
{
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -EBADF;
}

int nd_icmp_send(const struct nd_icmp_socket *s, const struct nd_addr *to, uint16_t seq)
{
        struct sockaddr_storage ss;
        socklen_t len = nd_probe_sockaddr(to, 0, &ss);
        struct echo e = {
                .type = s->family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST,
                .id = s->id, /* a ping socket puts its own there */
                .seq = htons(seq),
                .token = s->token,
        };

        /* The kernel sums ICMPv6 itself, and ICMPv4 on ping sockets. */
        if (s->family == AF_INET)
                e.checksum = checksum(&e, sizeof(e));
        if (sendto(s->fd, &e, sizeof(e), MSG_NOSIGNAL, (struct sockaddr *)&ss, len) < 0)
                return -errno;
        return 0;
}

int nd_icmp_receive(const struct nd_icmp_socket *s, uint16_t *ret_seq, struct nd_addr *ret_from)
{
        uint8_t buf[512];
        struct sockaddr_storage ss;
        socklen_t ss_len = sizeof(ss);
        const uint8_t *p = buf;
        struct echo e;
        ssize_t n;

        n = recvfrom(s->fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &ss_len);
        if (n < 0)
                return -errno;
        /* Raw IPv4 sockets get the IP header too. */
        if (s->raw && s->family == AF_INET) {
                size_t ihl;

                if (n < (ssize_t)sizeof(struct iphdr))
                        return 0;
                ihl = (size_t)(buf[0] & 0x0f) * 4;
                if (ihl < sizeof(struct iphdr) || (size_t)n < ihl)
                        return 0;
                p += ihl;
                n -= (ssize_t)ihl;
        }
        if (n < (ssize_t)sizeof(e))
                return 0;
        memcpy(&e, p, sizeof(e));
        if (e.type != (s->family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY) || e.code != 0)
                return 0;
        /* A ping socket gets only its own identifier's replies. */
        if (s->raw && e.id != s->id)
                return 0;
        if (e.token != s->token)
                return 0;
        if (ss.ss_family == AF_INET && ss_len >= sizeof(struct sockaddr_in))
                nd_addr_from_ipv4(ret_from, &((struct sockaddr_in *)&ss)->sin_addr);
        else if (ss.ss_family == AF_INET6 && ss_len >= sizeof(struct sockaddr_in6))
                nd_addr_from_ipv6(ret_from, &((struct sockaddr_in6 *)&ss)->sin6_addr);
        else
                return 0;
        *ret_seq = ntohs(e.seq);
        return 1;
}
