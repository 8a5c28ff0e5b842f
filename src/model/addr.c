#include "model/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

void nd_addr_from_ipv4(struct nd_addr *ret, const void *be32)
{
        memset(ret, 0, sizeof(*ret));
        ret->family = AF_INET;
        memcpy(ret->bytes, be32, 4);
}

void nd_addr_from_ipv6(struct nd_addr *ret, const void *be128)
{
        const uint8_t *b = be128;

        if (memcmp(b, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
                nd_addr_from_ipv4(ret, b + 12);
                return;
        }
        memset(ret, 0, sizeof(*ret));
        ret->family = AF_INET6;
        memcpy(ret->bytes, b, 16);
}

int nd_addr_parse(const char *s, struct nd_addr *ret)
{
        uint8_t buf[16];

        if (inet_pton(AF_INET, s, buf) == 1) {
                nd_addr_from_ipv4(ret, buf);
                return 0;
        }
        if (inet_pton(AF_INET6, s, buf) == 1) {
                nd_addr_from_ipv6(ret, buf);
                return 0;
        }
        return -EINVAL;
}

static size_t addr_len(const struct nd_addr *a)
{
        return a->family == AF_INET ? 4 : 16;
}

bool nd_addr_is_any(const struct nd_addr *a)
{
        for (size_t i = 0; i < addr_len(a); i++)
                if (a->bytes[i])
                        return false;
        return true;
}

bool nd_addr_is_loopback(const struct nd_addr *a)
{
        static const uint8_t v6_loopback[16] = { [15] = 1 };

        if (a->family == AF_INET)
                return a->bytes[0] == 127;
        return memcmp(a->bytes, v6_loopback, 16) == 0;
}

bool nd_addr_is_private(const struct nd_addr *a)
{
        const uint8_t *b = a->bytes;

        if (nd_addr_is_loopback(a))
                return true;
        if (a->family == AF_INET)
                return b[0] == 10 ||
                       (b[0] == 172 && (b[1] & 0xf0) == 16) ||
                       (b[0] == 192 && b[1] == 168) ||
                       (b[0] == 169 && b[1] == 254) ||
                       (b[0] == 100 && (b[1] & 0xc0) == 64);
        return (b[0] & 0xfe) == 0xfc ||                 /* fc00::/7 */
               (b[0] == 0xfe && (b[1] & 0xc0) == 0x80); /* fe80::/10 */
}

bool nd_addr_equal(const struct nd_addr *a, const struct nd_addr *b)
{
        return a->family == b->family && memcmp(a->bytes, b->bytes, addr_len(a)) == 0;
}

int nd_addr_compare(const struct nd_addr *a, const struct nd_addr *b)
{
        if (a->family != b->family)
                return a->family == AF_INET ? -1 : 1;
        return memcmp(a->bytes, b->bytes, addr_len(a));
}

const char *nd_addr_format(const struct nd_addr *a, char *buf)
{
        if (!inet_ntop(a->family, a->bytes, buf, ND_ADDR_STRLEN))
                strcpy(buf, "?");
        return buf;
}

const char *nd_addr_format_endpoint(const struct nd_addr *a, int port, char *buf, size_t size)
{
        char addr[ND_ADDR_STRLEN], portbuf[16];

        nd_addr_format(a, addr);
        if (port < 0)
                strcpy(portbuf, "many");
        else
                snprintf(portbuf, sizeof(portbuf), "%d", port);
        snprintf(buf, size, a->family == AF_INET6 ? "[%s]:%s" : "%s:%s", addr, portbuf);
        return buf;
}
