/* The prober on loopback, no root needed: answers, refusals and ICMP
 * echoes counted right; probes spread over the round at a phase of each
 * target's own; the rate cap holds; a stop from another thread ends a
 * round at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "probe/percentile.h"
#include "probe/prober.h"
#include "probe/schedule.h"
#include "probe/token_bucket.h"
#include "shared/cleanup.h"

static uint64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct nd_probe_target target(const char *addr, uint16_t port, enum nd_probe_kind kind)
{
        struct nd_probe_target t = { .port = port, .kind = kind };

        assert_int_equal(nd_addr_parse(addr, &t.addr), 0);
        return t;
}

/* A TCP socket on 127.0.0.1, listening or not; its port in *ret_port. */
static int loopback_socket(bool listening, uint16_t *ret_port)
{
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
        if (listening)
                assert_int_equal(listen(fd, 128), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
        *ret_port = ntohs(sin.sin_port);
        return fd;
}

static struct nd_prober *prober(unsigned probes, uint64_t interval_ms, uint64_t timeout_ms, unsigned cap)
{
        struct nd_prober_options o = {
                .probes_per_round = probes,
                .interval_ms = interval_ms,
                .timeout_ms = timeout_ms,
                .max_probes_per_s = cap,
                .phase_key = 42,
        };
        struct nd_prober *p = NULL;

        assert_int_equal(nd_prober_new(&o, &p), 0);
        assert_non_null(p);
        return p;
}

static void test_percentile(void **state)
{
        int64_t one[] = { 7 }, five[] = { 50, 10, 40, 20, 30 }, hundred[100];

        assert_int_equal(nd_percentile(one, 0, 50), -1);
        assert_int_equal(nd_percentile(one, 1, 50), 7);
        assert_int_equal(nd_percentile(one, 1, 99), 7);
        assert_int_equal(nd_percentile(five, 5, 50), 30);
        assert_int_equal(nd_percentile(five, 5, 99), 50);
        for (int i = 0; i < 100; i++)
                hundred[i] = 100 - i;
        assert_int_equal(nd_percentile(hundred, 100, 50), 50);
        assert_int_equal(nd_percentile(hundred, 100, 99), 99);
}

static void test_token_bucket(void **state)
{
        struct nd_token_bucket b;

        nd_token_bucket_init(&b, 100, 1000);
        assert_true(nd_token_bucket_take(&b, 1000));
        assert_false(nd_token_bucket_take(&b, 1000));
        assert_int_equal(nd_token_bucket_ready_us(&b), 11000);
        assert_false(nd_token_bucket_take(&b, 10999));
        assert_int_equal(nd_token_bucket_ready_us(&b), 11000);
        assert_true(nd_token_bucket_take(&b, 11000));
        /* Taken on the bucket's clock, late: the next is 10 ms after it. */
        assert_true(nd_token_bucket_take(&b, 21000));
        assert_int_equal(nd_token_bucket_ready_us(&b), 31000);
        /* Never more than one token: a long pause buys no burst. */
        assert_true(nd_token_bucket_take(&b, 5000000));
        assert_false(nd_token_bucket_take(&b, 5000000));
}

/* Interval 1 s, 5 probes: one slot of 200 ms each, not bunched at the start. */
static void test_schedule(void **state)
{
        struct nd_probe_target a = target("10.0.0.1", 80, ND_PROBE_TCP), b = target("10.0.0.2", 80, ND_PROBE_TCP);
        uint64_t ha = nd_probe_target_hash(1, &a), hb = nd_probe_target_hash(1, &b);
        uint64_t span = 1000000, slot = span / 5, prev = 0;
        unsigned distinct = 0;

        for (unsigned j = 0; j < 5; j++) {
                uint64_t at = nd_probe_offset(ha, 0, j, 5, span), base = nd_probe_phase(ha, slot) + j * slot;

                assert_true(at < span);
                assert_true(at + slot / 10 >= base && at <= base + slot / 10);
                if (j > 0)
                        assert_true(at - prev >= slot - 2 * slot / 10);
                prev = at;
        }
        assert_true(nd_probe_offset(ha, 0, 4, 5, span) >= 700000);
        /* The phase is the target's and the key's. */
        assert_int_not_equal(nd_probe_phase(ha, slot), nd_probe_phase(hb, slot));
        assert_int_not_equal(nd_probe_phase(ha, slot), nd_probe_phase(nd_probe_target_hash(2, &a), slot));
        for (unsigned i = 1; i < 20; i++) {
                struct nd_probe_target t = a;

                t.port = (uint16_t)(80 + i);
                distinct += nd_probe_phase(nd_probe_target_hash(1, &t), slot) != nd_probe_phase(ha, slot);
        }
        assert_true(distinct >= 18);
        /* The jitter moves from round to round. */
        distinct = 0;
        for (uint64_t round = 1; round < 10; round++)
                distinct += nd_probe_offset(ha, round, 2, 5, span) != nd_probe_offset(ha, 0, 2, 5, span);
        assert_true(distinct >= 7);
}

struct acceptor {
        int fd;
        volatile int done;
        uint64_t at_ms[16];
        unsigned n;
};

static void *accept_loop(void *arg)
{
        struct acceptor *a = arg;

        while (!a->done) {
                struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
                int c;

                if (poll(&pfd, 1, 5) <= 0)
                        continue;
                c = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                if (a->n < 16)
                        a->at_ms[a->n++] = now_ms();
                close(c);
        }
        return NULL;
}

/* A listener answers every probe; its accept times show the spread. */
static void test_tcp_answered(void **state)
{
        struct acceptor a = {};
        struct nd_prober *p = prober(5, 1000, 100, 0);
        struct nd_probe_result *res = NULL;
        struct nd_probe_target t;
        pthread_t thread;
        uint16_t port;
        size_t n = 0;
        uint64_t start;

        a.fd = loopback_socket(true, &port);
        t = target("127.0.0.1", port, ND_PROBE_TCP);
        assert_int_equal(pthread_create(&thread, NULL, accept_loop, &a), 0);
        assert_int_equal(nd_prober_set_targets(p, &t, 1), 0);
        start = now_ms();
        assert_int_equal(nd_prober_run_round(p, &res, &n), 0);
        assert_true(now_ms() - start >= 990);
        a.done = 1;
        pthread_join(thread, NULL);
        assert_int_equal(n, 1);
        assert_int_equal(res[0].sent, 5);
        assert_int_equal(res[0].lost, 0);
        assert_int_equal(res[0].refused, 0);
        assert_true(res[0].rtt_p50_us >= 0);
        assert_true(res[0].rtt_p99_us >= res[0].rtt_p50_us);
        assert_int_equal(res[0].target.port, port);
        /* Spread over the round, not all in its first 100 ms. */
        assert_int_equal(a.n, 5);
        assert_true(a.at_ms[4] - start > 500);
        assert_true(a.at_ms[4] - a.at_ms[0] >= 400);
        free(res);
        nd_prober_free(p);
        close(a.fd);
}

static void test_tcp_refused(void **state)
{
        struct nd_prober *p = prober(5, 300, 100, 0);
        struct nd_probe_result *res = NULL;
        struct nd_probe_target t;
        uint16_t port;
        size_t n = 0;

        close(loopback_socket(false, &port));
        t = target("127.0.0.1", port, ND_PROBE_TCP);
        assert_int_equal(nd_prober_set_targets(p, &t, 1), 0);
        assert_int_equal(nd_prober_run_round(p, &res, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(res[0].sent, 5);
        assert_int_equal(res[0].refused, 5);
        assert_int_equal(res[0].lost, 0);
        assert_int_equal(res[0].rtt_p50_us, -1);
        assert_int_equal(res[0].rtt_p99_us, -1);
        free(res);
        nd_prober_free(p);
}

static void test_icmp(void **state)
{
        struct nd_probe_target t[] = { target("127.0.0.1", 0, ND_PROBE_ICMP), target("::1", 0, ND_PROBE_ICMP) };
        struct nd_prober *p = prober(5, 300, 100, 0);
        struct nd_probe_result *res = NULL;
        size_t n = 0;
        int r;

        r = nd_prober_set_targets(p, t, ELEMENTSOF(t));
        if (r == -EPERM || r == -EACCES) {
                nd_prober_free(p);
                skip(); /* neither ping sockets nor raw ones permitted */
        }
        assert_int_equal(r, 0);
        /* Twice: sequence numbers move on between rounds. */
        for (int round = 0; round < 2; round++) {
                assert_int_equal(nd_prober_run_round(p, &res, &n), 0);
                assert_int_equal(n, 2);
                for (size_t i = 0; i < n; i++) {
                        assert_int_equal(res[i].sent, 5);
                        assert_int_equal(res[i].lost, 0);
                        assert_int_equal(res[i].refused, 0);
                        assert_true(res[i].rtt_p50_us >= 0);
                        assert_true(res[i].rtt_p99_us >= res[i].rtt_p50_us);
                        assert_int_equal(res[i].target.kind, ND_PROBE_ICMP);
                }
                free(res);
        }
        nd_prober_free(p);
}

/* 50 targets x 5 probes under a cap of 100/s in a round of 1 s: the round
 * keeps its length and sends fewer (at most 100 in its 900 ms window),
 * shared out in due order rather than to the first targets only. */
static void test_rate_cap(void **state)
{
        struct nd_prober *p = prober(5, 1000, 100, 100);
        struct nd_probe_target t[50];
        struct nd_probe_result *res = NULL;
        unsigned sent = 0, reached = 0;
        size_t n = 0;
        uint64_t start, took;

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                uint16_t port;

                close(loopback_socket(false, &port));
                t[i] = target("127.0.0.1", port, ND_PROBE_TCP);
        }
        assert_int_equal(nd_prober_set_targets(p, t, ELEMENTSOF(t)), 0);
        start = now_ms();
        assert_int_equal(nd_prober_run_round(p, &res, &n), 0);
        took = now_ms() - start;
        assert_true(took >= 990 && took < 1500);
        assert_int_equal(n, 50);
        for (size_t i = 0; i < n; i++) {
                assert_true(res[i].sent <= 5);
                assert_int_equal(res[i].refused + res[i].lost, res[i].sent);
                assert_int_equal(res[i].lost, 0);
                sent += res[i].sent;
                reached += res[i].sent > 0;
        }
        assert_true(sent >= 80 && sent <= 92);
        assert_true(reached >= 40);
        free(res);
        nd_prober_free(p);
}

struct stopper {
        struct nd_prober *p;
        unsigned after_ms;
};

static void *stop_later(void *arg)
{
        struct stopper *s = arg;

        usleep(s->after_ms * 1000);
        nd_prober_stop(s->p);
        return NULL;
}

static void test_stop(void **state)
{
        struct nd_prober *p = prober(5, 10000, 1000, 0);
        struct nd_probe_target t = target("127.0.0.1", 0, ND_PROBE_TCP);
        struct nd_probe_result *res = NULL;
        struct stopper s = { .p = p, .after_ms = 200 };
        pthread_t thread;
        uint16_t port;
        size_t n = 0;
        uint64_t start;

        close(loopback_socket(false, &port));
        t.port = port;
        assert_int_equal(nd_prober_set_targets(p, &t, 1), 0);
        assert_int_equal(pthread_create(&thread, NULL, stop_later, &s), 0);
        start = now_ms();
        assert_int_equal(nd_prober_run_round(p, &res, &n), -ECANCELED);
        assert_true(now_ms() - start < 1000);
        pthread_join(thread, NULL);
        assert_null(res);
        /* Stopped stays stopped. */
        start = now_ms();
        assert_int_equal(nd_prober_run_round(p, &res, &n), -ECANCELED);
        assert_true(now_ms() - start < 100);
        nd_prober_free(p);
}

static void test_bad_targets(void **state)
{
        struct nd_prober *p = prober(5, 1000, 100, 0);
        struct nd_probe_target t = target("127.0.0.1", 0, ND_PROBE_TCP);
        struct nd_probe_result *res = NULL;
        size_t n = 7;

        assert_int_equal(nd_prober_set_targets(p, &t, 1), -EINVAL); /* TCP without a port */
        t.port = 1;
        t.kind = 3;
        assert_int_equal(nd_prober_set_targets(p, &t, 1), -EINVAL);
        t.kind = ND_PROBE_TCP;
        t.addr.family = AF_UNIX;
        assert_int_equal(nd_prober_set_targets(p, &t, 1), -EINVAL);
        assert_int_equal(nd_prober_set_targets(p, &t, 65535 / 5 + 1), -E2BIG);
        nd_prober_free(p);

        /* Options past their bounds. */
        assert_int_equal(nd_prober_new(&(struct nd_prober_options){ .interval_ms = 8ULL * 24 * 3600 * 1000 }, &p),
                         -EINVAL);
        assert_int_equal(nd_prober_new(&(struct nd_prober_options){ .probes_per_round = 65536 }, &p), -EINVAL);

        /* No targets: a round of nothing, still interval_ms long. */
        p = prober(5, 50, 10, 0);
        assert_int_equal(nd_prober_run_round(p, &res, &n), 0);
        assert_int_equal(n, 0);
        free(res);
        nd_prober_free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_percentile),
                cmocka_unit_test(test_token_bucket),
                cmocka_unit_test(test_schedule),
                cmocka_unit_test(test_tcp_answered),
                cmocka_unit_test(test_tcp_refused),
                cmocka_unit_test(test_icmp),
                cmocka_unit_test(test_rate_cap),
                cmocka_unit_test(test_stop),
                cmocka_unit_test(test_bad_targets),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
