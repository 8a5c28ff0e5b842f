/* sockdiag-record: writes the raw bytes of a sock_diag dump of this network
 * namespace to a file, for the decoder's unit tests to replay.
 *
 *   sockdiag-record FILE inet|inet6 listen|flows
 *
 * The file is the concatenation of the buffers as received: a stream of
 * netlink messages ending with NLMSG_DONE. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "collect/sockdiag.h"

static int count(const struct nd_sock *s, void *userdata)
{
        (void)s;
        (*(unsigned *)userdata)++;
        return 0;
}

static int write_buffer(const void *buf, size_t len, void *userdata)
{
        return fwrite(buf, 1, len, userdata) == len ? 0 : -EIO;
}

int main(int argc, char **argv)
{
        struct nd_sockdiag *sd = NULL;
        unsigned n = 0;
        FILE *f;
        int r;

        if (argc != 4) {
                fprintf(stderr, "usage: sockdiag-record FILE inet|inet6 listen|flows\n");
                return 2;
        }
        int family = strcmp(argv[2], "inet6") == 0 ? AF_INET6 : AF_INET;
        uint32_t states = strcmp(argv[3], "listen") == 0 ? ND_TCPF(ND_TCP_LISTEN) : ND_TCPF_FLOW_STATES;

        f = fopen(argv[1], "we");
        if (!f) {
                perror(argv[1]);
                return 1;
        }
        r = nd_sockdiag_open(&sd);
        if (r >= 0)
                r = nd_sockdiag_dump_recorded(sd, family, states, true, count, &n, write_buffer, f);
        nd_sockdiag_free(sd);
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r < 0) {
                fprintf(stderr, "sockdiag-record: %s\n", strerror(-r));
                return 1;
        }
        fprintf(stderr, "recorded %u sockets\n", n);
        return 0;
}
