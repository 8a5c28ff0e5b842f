/* The agent's event side, on hand-made events: opened and failed counts per
 * flow, and the open connections the collector lists, folded as a polling
 * snapshot folds them. */
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

        nd_event_fold_init(&fold);
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
        nd_event_fold_done(&fold);

        /* A close adds nothing: the open connections come from the listing. */
        nd_event_fold_init(&fold);
        struct nd_tcp_event closed = event(ND_TCP_EVENT_CLOSE, 1, "10.0.0.2", 30001, "10.0.0.1", 80, 42, "curl");
        assert_int_equal(nd_event_fold_event(&closed, &fold), 0);
        nd_flow_set_init(&flows);
        assert_int_equal(nd_event_fold_into(&fold, &flows), 0);
        assert_int_equal(flows.n, 0);
        nd_flow_set_done(&flows);
        nd_event_fold_done(&fold);
}

/* Open connections as the collector lists them: one flow per key, with
 * their counts and TCP facts, as polling gives them. */
static void test_open_connections(void **state)
{
        struct nd_flow_set flows;
        const struct nd_flow *f;

        nd_flow_set_init(&flows);
        for (uint64_t i = 1; i <= 3; i++) {
                struct nd_tcp_event ev = event(ND_TCP_EVENT_OPEN, i, "10.0.0.2", (uint16_t)(30000 + i), "10.0.0.1",
                                               5432, 42, "app");
                ev.rtt_us = (uint32_t)(100 * i);
                ev.retrans = 1;
                ev.bytes_sent = 1000;
                ev.bytes_received = 10;
                assert_int_equal(nd_event_fold_open_connection(&ev, &flows), 0);
        }
        struct nd_tcp_event in = event(ND_TCP_EVENT_OPEN, 9, "10.0.0.2", 22, "10.0.0.9", 50000, 7, "sshd");
        in.passive = true;
        assert_int_equal(nd_event_fold_open_connection(&in, &flows), 0);
        /* Not an open connection: ignored. */
        struct nd_tcp_event other = event(ND_TCP_EVENT_CONNECT, 10, "10.0.0.2", 1, "10.0.0.1", 5432, 42, "app");
        assert_int_equal(nd_event_fold_open_connection(&other, &flows), 0);

        assert_int_equal(flows.n, 2);
        f = find(&flows, ND_DIRECTION_ACTIVE, 5432);
        assert_non_null(f);
        assert_int_equal(f->connections, 3);
        assert_int_equal(f->opened, 0);
        assert_true(f->tcp.known);
        assert_int_equal(f->tcp.rtt_us_min, 100);
        assert_int_equal(f->tcp.rtt_us_max, 300);
        assert_int_equal(nd_flow_rtt_us_avg(f), 200);
        assert_int_equal(f->tcp.retrans, 3);
        assert_int_equal(f->tcp.bytes_sent, 3000);
        assert_int_equal(f->tcp.bytes_received, 30);
        assert_string_equal(f->process.name, "app");
        f = find(&flows, ND_DIRECTION_PASSIVE, 22);
        assert_non_null(f);
        assert_int_equal(f->connections, 1);
        assert_int_equal(f->process.pid, 7);
        nd_flow_set_done(&flows);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counts),
                cmocka_unit_test(test_open_connections),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
