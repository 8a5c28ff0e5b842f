#include "collect/procnet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "shared/cleanup.h"

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Reads exactly n hex digits into *ret; returns the position after them. */
static const char *parse_hex(const char *p, int n, uint32_t *ret)
{
        uint32_t v = 0;

        for (int i = 0; i < n; i++) {
                int d = hex_value(p[i]);
                if (d < 0)
                        return NULL;
                v = (v << 4) | (uint32_t)d;
        }
        *ret = v;
        return p + n;
}

/* "ADDR:PORT" where ADDR is the address as 32-bit words printed in host byte
 * order ("%08X" of each __be32), as the kernel's tcp4/tcp6 seq_show do. */
static const char *parse_endpoint(const char *p, int family, struct nd_addr *addr, uint16_t *port)
{
        int words = family == AF_INET ? 1 : 4;
        uint8_t bytes[16];
        uint32_t v;

        for (int i = 0; i < words; i++) {
                p = parse_hex(p, 8, &v);
                if (!p)
                        return NULL;
                memcpy(bytes + 4 * i, &v, 4);
        }
        if (*p++ != ':')
                return NULL;
        /* The port is "%04X", possibly more digits on odd kernels: take 4. */
        p = parse_hex(p, 4, &v);
        if (!p)
                return NULL;
        *port = (uint16_t)v;
        if (family == AF_INET)
                nd_addr_from_ipv4(addr, bytes);
        else
                nd_addr_from_ipv6(addr, bytes);
        return p;
}

static const char *skip_spaces(const char *p)
{
        while (*p == ' ')
                p++;
        return p;
}

int nd_procnet_parse_line(const char *line, int family, struct nd_sock *ret)
{
        struct nd_sock s = { .v6only = -1 };
        const char *p = skip_spaces(line);
        unsigned long uid, inode;
        uint32_t state;
        char *end;

        /* "sl:" */
        while (*p >= '0' && *p <= '9')
                p++;
        if (p == skip_spaces(line) || *p++ != ':')
                return -EINVAL;
        p = skip_spaces(p);
        if (!(p = parse_endpoint(p, family, &s.local, &s.local_port)) || *p != ' ')
                return -EINVAL;
        p = skip_spaces(p);
        if (!(p = parse_endpoint(p, family, &s.peer, &s.peer_port)) || *p != ' ')
                return -EINVAL;
        p = skip_spaces(p);
        if (!(p = parse_hex(p, 2, &state)) || *p != ' ')
                return -EINVAL;

        /* tx_queue:rx_queue tr:tm->when retrnsmt, then uid timeout inode. */
        for (int i = 0; i < 3; i++) {
                p = skip_spaces(p);
                p = strchr(p, ' ');
                if (!p)
                        return -EINVAL;
        }
        errno = 0;
        uid = strtoul(p, &end, 10);
        if (end == p || errno)
                return -EINVAL;
        p = end;
        (void)strtoul(p, &end, 10); /* timeout */
        if (end == p)
                return -EINVAL;
        p = end;
        inode = strtoul(p, &end, 10);
        if (end == p || errno || inode > UINT32_MAX)
                return -EINVAL;

        s.state = (uint8_t)state;
        s.uid = (uint32_t)uid;
        s.inode = (uint32_t)inode;
        *ret = s;
        return 0;
}

int nd_procnet_read(FILE *f, int family, uint32_t states, nd_sock_fn fn, void *userdata)
{
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        bool header = true;
        int r;

        while (getline(&line, &size, f) >= 0) {
                struct nd_sock s;

                if (header) { /* "  sl  local_address rem_address ..." */
                        header = false;
                        continue;
                }
                r = nd_procnet_parse_line(line, family, &s);
                if (r < 0)
                        return -EBADMSG;
                if (s.state >= 32 || !(states & ND_TCPF(s.state)))
                        continue;
                r = fn(&s, userdata);
                if (r < 0)
                        return r;
        }
        if (ferror(f))
                return -EIO;
        return 0;
}
