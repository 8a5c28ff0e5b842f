/* The sock_diag decoder on recorded dumps: good, truncated and malformed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collect/sockdiag.h"
#include "shared/cleanup.h"
#include "test-util.h"

#define MAX_SOCKS 64

struct collected {
        struct nd_sock socks[MAX_SOCKS];
        size_t n;
};

static int collect(const struct nd_sock *s, void *userdata)
{
        struct collected *c = userdata;

        if (c->n < MAX_SOCKS)
                c->socks[c->n] = *s;
        c->n++;
        return 0;
}

static const struct nd_sock *find_local(const struct collected *c, const char *addr, uint16_t port)
{
        struct nd_addr a;

        assert_int_equal(nd_addr_parse(addr, &a), 0);
        for (size_t i = 0; i < c->n; i++)
                if (nd_addr_equal(&c->socks[i].local, &a) && c->socks[i].local_port == port)
                        return &c->socks[i];
        return NULL;
}

static void test_listen_dumps(void **state)
{
        struct collected c = {};
        size_t len;
        void *buf = test_read_data("inet-listen.bin", &len);
        const struct nd_sock *s;

        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), 0);
        assert_int_equal(c.n, 2);
        s = find_local(&c, "0.0.0.0", 8080);
        assert_non_null(s);
        assert_int_equal(s->state, ND_TCP_LISTEN);
        assert_int_not_equal(s->inode, 0);
        assert_non_null(find_local(&c, "127.0.0.1", 5432));
        free(buf);

        c = (struct collected){};
        buf = test_read_data("inet6-listen.bin", &len);
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), 0);
        assert_int_equal(c.n, 2);
        s = find_local(&c, "::", 9090);
        assert_non_null(s);
        assert_int_equal(s->v6only, 0); /* dual stack */
        s = find_local(&c, "fd09::1", 5432);
        assert_non_null(s);
        assert_int_equal(s->v6only, 1);
        free(buf);
}

static void test_flow_dumps(void **state)
{
        struct collected c = {};
        size_t len;
        void *buf = test_read_data("inet-flows.bin", &len);
        const struct nd_sock *s;

        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), 0);
        /* 3 x 8080 and 2 x 5432, both ends each, plus one client end of the
         * IPv4 connection to the dual-stack 9090. */
        assert_int_equal(c.n, 11);
        for (size_t i = 0; i < c.n; i++) {
                assert_int_equal(c.socks[i].state, ND_TCP_ESTABLISHED);
                assert_true(c.socks[i].has_tcp_info);
                assert_int_not_equal(c.socks[i].inode, 0);
        }
        s = find_local(&c, "127.0.0.1", 5432);
        assert_non_null(s);
        assert_int_equal(s->peer.family, AF_INET);
        free(buf);

        c = (struct collected){};
        buf = test_read_data("inet6-flows.bin", &len);
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), 0);
        assert_int_equal(c.n, 7);
        /* The server end of the IPv4 connection to [::]:9090 is reported as
         * AF_INET6 with ::ffff:10.9.0.1, and decodes as plain IPv4. */
        s = find_local(&c, "10.9.0.1", 9090);
        assert_non_null(s);
        assert_int_equal(s->local.family, AF_INET);
        assert_int_equal(s->peer.family, AF_INET);
        free(buf);
}

/* The answer to a dump of both families (AF_UNSPEC) comes as
 * TCPDIAG_GETSOCK messages, with the same payload. */
static void test_both_families_answer(void **state)
{
        struct collected c = {};
        size_t len;
        void *buf = test_read_data("inet6-flows.bin", &len);
        int remaining = (int)len;

        for (struct nlmsghdr *h = buf; NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining))
                if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
                        h->nlmsg_type = TCPDIAG_GETSOCK;
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), 0);
        assert_int_equal(c.n, 7);
        assert_non_null(find_local(&c, "10.9.0.1", 9090));
        free(buf);
}

static int listen_on(int family, uint16_t *ret_port)
{
        struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
        socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        if (family == AF_INET)
                ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else
                ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
        assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
        assert_int_equal(listen(fd, 1), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
        *ret_port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
        return fd;
}

struct own_listeners {
        uint16_t port4, port6;
        unsigned found4, found6;
};

static int find_own(const struct nd_sock *s, void *userdata)
{
        struct own_listeners *o = userdata;

        if (s->local_port == o->port4 && s->local.family == AF_INET)
                o->found4++;
        if (s->local_port == o->port6 && s->local.family == AF_INET6)
                o->found6++;
        return 0;
}

/* Live: one AF_UNSPEC dump reports the sockets of both families, each
 * once, as the two per-family dumps do. Skipped where the kernel or
 * the sandbox has no sock_diag or no IPv6. */
static void test_both_families_live(void **state)
{
        _cleanup_(nd_sockdiag_freep) struct nd_sockdiag *sd = NULL;
        _cleanup_close_ int fd4 = -EBADF, fd6 = -EBADF;
        struct own_listeners both = {}, per_family = {};
        int r;

        if (nd_sockdiag_open(&sd) < 0)
                skip();
        fd6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd6 < 0)
                skip();
        close(TAKE_FD(fd6));
        fd4 = listen_on(AF_INET, &both.port4);
        fd6 = listen_on(AF_INET6, &both.port6);
        per_family.port4 = both.port4;
        per_family.port6 = both.port6;

        r = nd_sockdiag_dump(sd, AF_UNSPEC, ND_TCPF(ND_TCP_LISTEN), false, find_own, &both);
        assert_int_equal(r, 0);
        assert_int_equal(nd_sockdiag_dump(sd, AF_INET, ND_TCPF(ND_TCP_LISTEN), false, find_own, &per_family), 0);
        assert_int_equal(nd_sockdiag_dump(sd, AF_INET6, ND_TCPF(ND_TCP_LISTEN), false, find_own, &per_family), 0);
        assert_int_equal(per_family.found4, 1);
        assert_int_equal(per_family.found6, 1);
        assert_int_equal(both.found4, 1);
        assert_int_equal(both.found6, 1);
}

static void test_every_truncation_is_safe(void **state)
{
        static const char *const files[] = { "inet-listen.bin", "inet-flows.bin", "inet6-listen.bin",
                                             "inet6-flows.bin" };

        for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
                size_t len;
                uint8_t *buf = test_read_data(files[f], &len);

                for (size_t cut = 0; cut < len; cut++) {
                        /* A copy of exactly cut bytes, so ASan sees any overread. */
                        uint8_t *part = malloc(cut ? cut : 1);
                        struct collected c = {};
                        int r;

                        memcpy(part, buf, cut);
                        r = nd_sockdiag_decode(part, cut, collect, &c);
                        /* Cut on a message boundary: "more to come"; inside a
                         * message: malformed. Never DONE, never a crash. */
                        assert_true(r == 1 || r == -EBADMSG);
                        free(part);
                }
                free(buf);
        }
}

static void test_malformed_lengths(void **state)
{
        size_t len;
        uint8_t *buf = test_read_data("inet-flows.bin", &len);
        struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
        struct collected c = {};
        uint32_t saved = nlh->nlmsg_len;

        /* A message claiming more bytes than there are. */
        nlh->nlmsg_len = (uint32_t)len + 4;
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), -EBADMSG);
        /* Shorter than a netlink header. */
        nlh->nlmsg_len = 8;
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), -EBADMSG);
        /* Long enough for the header but not for inet_diag_msg. */
        nlh->nlmsg_len = NLMSG_HDRLEN + 8;
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), -EBADMSG);
        nlh->nlmsg_len = saved;

        /* An attribute whose length runs past its message. */
        struct nlattr *attr = (struct nlattr *)(buf + NLMSG_HDRLEN + NLMSG_ALIGN(72));
        uint16_t saved_attr = attr->nla_len;
        attr->nla_len = (uint16_t)(saved + 100);
        c = (struct collected){};
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), -EBADMSG);
        assert_int_equal(c.n, 0);
        attr->nla_len = 2; /* shorter than an attribute header */
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), -EBADMSG);
        attr->nla_len = saved_attr;

        c = (struct collected){};
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), 0);
        assert_int_equal(c.n, 11);
        free(buf);
}

static void test_error_and_interrupted(void **state)
{
        struct {
                struct nlmsghdr nlh;
                struct nlmsgerr err;
        } e = {
                .nlh = { .nlmsg_len = sizeof(e), .nlmsg_type = NLMSG_ERROR },
                .err = { .error = -EPERM },
        };
        struct collected c = {};
        size_t len;
        uint8_t *buf;

        assert_int_equal(nd_sockdiag_decode(&e, sizeof(e), collect, &c), -EPERM);
        /* An ERROR too short to hold nlmsgerr. */
        e.nlh.nlmsg_len = NLMSG_HDRLEN + 2;
        assert_int_equal(nd_sockdiag_decode(&e, NLMSG_HDRLEN + 2, collect, &c), -EBADMSG);

        buf = test_read_data("inet-listen.bin", &len);
        ((struct nlmsghdr *)buf)->nlmsg_flags |= NLM_F_DUMP_INTR;
        assert_int_equal(nd_sockdiag_decode(buf, len, collect, &c), -EINTR);
        free(buf);
}

static int stop_at_second(const struct nd_sock *s, void *userdata)
{
        return ++*(int *)userdata == 2 ? -ECANCELED : 0;
}

static void test_callback_error_stops(void **state)
{
        size_t len;
        void *buf = test_read_data("inet-flows.bin", &len);
        int calls = 0;

        assert_int_equal(nd_sockdiag_decode(buf, len, stop_at_second, &calls), -ECANCELED);
        assert_int_equal(calls, 2);
        free(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_listen_dumps),
                cmocka_unit_test(test_flow_dumps),
                cmocka_unit_test(test_both_families_answer),
                cmocka_unit_test(test_both_families_live),
                cmocka_unit_test(test_every_truncation_is_safe),
                cmocka_unit_test(test_malformed_lengths),
                cmocka_unit_test(test_error_and_interrupted),
                cmocka_unit_test(test_callback_error_stops),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
