/* The agent's event side, on hand-made events: opened and failed counts per
 * flow, the live connection table (streaming mode) against a naive model
 * under random opens and closes, and the memory of stopped listeners. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/event_fold.h"
#include "collect/listen_memory.h"

static struct nd_tcp_event event(enum nd_tcp_event_kind kind, uint64_t cookie, const char *local, uint16_t lport,
                                 const char *peer, uint16_t pport, uint32_t pid, const char *comm)
{
        struct nd_tcp_event ev = {
                .kind = kind, .cookie = cookie, .netns = 7, .pid = pid, .pgid = pid,
                .local_port = lport, .peer_port = pport, .passive = kind == ND_TCP_EVENT_ACCEPT,
        };

        assert_int_equal(nd_addr_parse(local, &ev.local), 0);
        assert_int_equal(nd_addr_parse(peer, &ev.peer), 0);
        snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
        return ev;
}

static const struct nd_flow *find(const struct nd_flow_set *set, enum nd_direction d, uint16_t port)
{
        for (size_t i = 0; i < set->n; i++) {
                const struct nd_flow *f = &set->flows[i];
                if (f->direction == d && (d == ND_DIRECTION_ACTIVE ? f->peer_port : f->local_port) == port)
                        return f;
        }
        return NULL;
}

static void test_counts(void **state)
{
        struct nd_event_fold fold;
        struct nd_flow_set flows;
        const struct nd_flow *f;

        nd_event_fold_init(&fold, false, 0, NULL);
        for (uint64_t i = 1; i <= 2000; i++) {
                /* Each from a new ephemeral port: one flow all the same. */
                struct nd_tcp_event ev = event(ND_TCP_EVENT_CONNECT, i, "10.0.0.2", (uint16_t)(30000 + i),
                                               "10.0.0.1", 80, 42, "curl");
                assert_int_equal(nd_event_fold_event(&ev, &fold), 0);
                ev.kind = ND_TCP_EVENT_CLOSE;
                assert_int_equal(nd_event_fold_event(&ev, &fold), 0);
        }
        for (uint64_t i = 1; i <= 100; i++) {
                struct nd_tcp_event ev = event(ND_TCP_EVENT_FAILED, 5000 + i, "10.0.0.2", (uint16_t)(40000 + i),
                                               "10.0.0.1", 81, 42, "curl");
                assert_int_equal(nd_event_fold_event(&ev, &fold), 0);
        }
        struct nd_tcp_event acc = event(ND_TCP_EVENT_ACCEPT, 9000, "10.0.0.2", 22, "10.0.0.9", 50000, 7, "sshd");
        assert_int_equal(nd_event_fold_event(&acc, &fold), 0);

        /* A scan found one connection on the port-80 flow already. */
        nd_flow_set_init(&flows);
        struct nd_process curl = { .pid = 42, .pgid = 42, .name = "curl" };
        struct nd_connection live = { .direction = ND_DIRECTION_ACTIVE, .netns = 7, .peer_port = 80,
                                      .local_port = 31000, .process = &curl };
        assert_int_equal(nd_addr_parse("10.0.0.2", &live.local), 0);
        assert_int_equal(nd_addr_parse("10.0.0.1", &live.peer), 0);
        assert_int_equal(nd_flow_set_add(&flows, &live), 0);

        assert_int_equal(nd_event_fold_into(&fold, &flows), 0);
        assert_int_equal(flows.n, 3);
        f = find(&flows, ND_DIRECTION_ACTIVE, 80);
        assert_non_null(f);
        assert_int_equal(f->connections, 1);
        assert_int_equal(f->opened, 2000);
        assert_int_equal(f->failed, 0);
        assert_string_equal(f->process.name, "curl");
        f = find(&flows, ND_DIRECTION_ACTIVE, 81);
        assert_non_null(f);
        assert_int_equal(f->connections, 0);
        assert_int_equal(f->failed, 100);
        f = find(&flows, ND_DIRECTION_PASSIVE, 22);
        assert_non_null(f);
        assert_int_equal(f->opened, 1);
        assert_int_equal(f->process.pid, 7);
        nd_flow_set_done(&flows);

        /* Counted once: the next snapshot starts from zero. */
        nd_flow_set_init(&flows);
        assert_int_equal(nd_event_fold_into(&fold, &flows), 0);
        assert_int_equal(flows.n, 0);
        nd_flow_set_done(&flows);
        assert_int_equal(fold.opened, 2001);
        assert_int_equal(fold.failed, 100);
        assert_int_equal(fold.closed, 2000);
        nd_event_fold_done(&fold);
}

/* Random opens and closes against a plain array: the table must hold
 * exactly the connections open, through growth and backward-shift deletes. */
static void test_live_table(void **state)
{
        enum { N = 3000 };
        static bool open[N];
        struct nd_event_fold fold;
        struct nd_flow_set flows;
        size_t expected = 0;

        memset(open, 0, sizeof(open));
        srand(1);
        nd_event_fold_init(&fold, true, 100000, NULL);
        for (int step = 0; step < 40000; step++) {
                uint64_t cookie = (uint64_t)(rand() % N);
                /* Cookies that collide in the low bits, as kernel cookies do not. */
                struct nd_tcp_event ev = event(open[cookie] ? ND_TCP_EVENT_CLOSE : ND_TCP_EVENT_CONNECT,
                                               (cookie + 1) << 12, "10.0.0.2", 1000, "10.0.0.1",
                                               (uint16_t)(1 + cookie % 7), 42, "app");
                assert_int_equal(nd_event_fold_event(&ev, &fold), 0);
                expected += open[cookie] ? (size_t)-1 : 1;
                open[cookie] = !open[cookie];
                assert_int_equal(fold.live.n, expected);
        }
        nd_flow_set_init(&flows);
        assert_int_equal(nd_event_fold_into(&fold, &flows), 0);
        for (uint16_t port = 1; port <= 7; port++) {
                uint32_t want = 0;
                for (int c = 0; c < N; c++)
                        want += open[c] && 1 + c % 7 == port;
                const struct nd_flow *f = find(&flows, ND_DIRECTION_ACTIVE, port);
                assert_non_null(f);
                assert_int_equal(f->connections, want);
        }
        nd_flow_set_done(&flows);
        /* Closing what was never seen open changes nothing. */
        struct nd_tcp_event stray = event(ND_TCP_EVENT_CLOSE, 999999999, "10.0.0.2", 1, "10.0.0.1", 1, 1, "x");
        assert_int_equal(nd_event_fold_event(&stray, &fold), 0);
        assert_int_equal(fold.live.n, expected);
        nd_event_fold_done(&fold);
}

static void test_live_table_bounded(void **state)
{
        struct nd_event_fold fold;

        nd_event_fold_init(&fold, true, 10, NULL);
        for (uint64_t i = 1; i <= 15; i++) {
                struct nd_tcp_event ev = event(ND_TCP_EVENT_CONNECT, i, "10.0.0.2", 1000, "10.0.0.1", 80, 42, "app");
                assert_int_equal(nd_event_fold_event(&ev, &fold), 0);
        }
        assert_int_equal(fold.live.n, 10);
        assert_int_equal(fold.live.untracked, 5);
        nd_event_fold_done(&fold);
}

static void test_listen_memory(void **state)
{
        struct nd_listen_memory m;
        struct nd_event_fold fold;
        struct nd_listen_set set;
        struct nd_addr a, client;

        assert_int_equal(nd_addr_parse("10.0.0.1", &a), 0);
        assert_int_equal(nd_addr_parse("10.0.0.2", &client), 0);
        nd_listen_memory_init(&m, 2);
        nd_event_fold_init(&fold, false, 0, &m);
        nd_listen_set_init(&set);

        struct nd_tcp_event stop = event(ND_TCP_EVENT_LISTEN_STOP, 1, "10.0.0.1", 8080, "0.0.0.0", 0, 5, "srv");
        assert_int_equal(nd_event_fold_event(&stop, &fold), 0);
        assert_int_equal(m.n, 1);

        /* Scan 1: a connection on 8080 is passive, thanks to the memory. */
        assert_int_equal(nd_listen_memory_add_to(&m, 7, &set), 0);
        assert_int_equal(nd_listen_memory_add_to(&m, 8, &set), 0); /* other netns: nothing */
        assert_int_equal(set.n, 1);
        struct nd_listener *l = nd_listen_set_find(&set, &a, 8080);
        assert_non_null(l);
        assert_true(l->remembered);
        l->covered++;
        nd_listen_memory_note_covered(&m, 7, &set);
        nd_listen_memory_end_scan(&m);
        assert_int_equal(m.n, 1);

        /* Scan 2: nothing on it any more: forgotten. */
        nd_listen_set_clear(&set);
        assert_int_equal(nd_listen_memory_add_to(&m, 7, &set), 0);
        nd_listen_memory_note_covered(&m, 7, &set);
        nd_listen_memory_end_scan(&m);
        assert_int_equal(m.n, 0);

        /* Listening again forgets it at once; the memory is bounded. */
        assert_int_equal(nd_event_fold_event(&stop, &fold), 0);
        struct nd_tcp_event again = stop;
        again.kind = ND_TCP_EVENT_LISTEN;
        assert_int_equal(nd_event_fold_event(&again, &fold), 0);
        assert_int_equal(m.n, 0);
        for (uint16_t p = 1; p <= 3; p++)
                assert_int_equal(nd_listen_memory_stopped(&m, 7, &a, p), 0);
        assert_int_equal(m.n, 2);
        assert_int_equal(m.forgotten_full, 1);
        assert_int_equal(m.items[0].port, 2);

        nd_listen_set_done(&set);
        nd_event_fold_done(&fold);
        nd_listen_memory_done(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counts),
                cmocka_unit_test(test_live_table),
                cmocka_unit_test(test_live_table_bounded),
                cmocka_unit_test(test_listen_memory),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
