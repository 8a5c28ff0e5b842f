/* Folding connections into host flows. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/flow.h"

static struct nd_connection conn(enum nd_direction d, const char *local, uint16_t lport, const char *peer,
                                 uint16_t pport, const struct nd_process *p, uint32_t rtt)
{
        struct nd_connection c = {
                .direction = d, .netns = 1, .local_port = lport, .peer_port = pport, .process = p,
                .has_tcp_info = true, .rtt_us = rtt, .retrans = 1, .bytes_sent = 100, .bytes_received = 10,
        };
        assert_int_equal(nd_addr_parse(local, &c.local), 0);
        assert_int_equal(nd_addr_parse(peer, &c.peer), 0);
        return c;
}

static void add(struct nd_flow_set *set, struct nd_connection c)
{
        assert_int_equal(nd_flow_set_add(set, &c), 0);
}

static void test_folding(void **state)
{
        struct nd_process nginx = { .pid = 77, .pgid = 77, .name = "nginx", .cgroup = (char *)"/web" };
        struct nd_process app = { .pid = 812, .pgid = 800, .name = "app" };
        struct nd_process app2 = { .pid = 813, .pgid = 800, .name = "app" };
        struct nd_flow_set set;

        nd_flow_set_init(&set);
        /* Passive: peer ports fold away; distinct peer addresses do not. */
        add(&set, conn(ND_DIRECTION_PASSIVE, "10.0.1.9", 80, "10.0.2.13", 50000, &nginx, 100));
        add(&set, conn(ND_DIRECTION_PASSIVE, "10.0.1.9", 80, "10.0.2.13", 50001, &nginx, 300));
        add(&set, conn(ND_DIRECTION_PASSIVE, "10.0.1.9", 80, "10.0.2.14", 50001, &nginx, 200));
        /* Active: local ports fold away; split by process. */
        add(&set, conn(ND_DIRECTION_ACTIVE, "10.0.1.9", 40000, "10.0.1.10", 3306, &app, 50));
        add(&set, conn(ND_DIRECTION_ACTIVE, "10.0.1.9", 40001, "10.0.1.10", 3306, &app, 70));
        add(&set, conn(ND_DIRECTION_ACTIVE, "10.0.1.9", 40002, "10.0.1.10", 3306, &app2, 60));
        add(&set, conn(ND_DIRECTION_ACTIVE, "10.0.1.9", 40003, "10.0.1.10", 3306, NULL, 60));

        assert_int_equal(set.n, 5);
        nd_flow_set_sort(&set);
        /* Sorted: local 10.0.1.9:0 (active) before 10.0.1.9:80 (passive). */
        const struct nd_flow *f = &set.flows[0];
        assert_int_equal(f->direction, ND_DIRECTION_ACTIVE);
        assert_false(f->has_process); /* pid 0 sorts first */
        f = &set.flows[1];
        assert_int_equal(f->process.pid, 812);
        assert_int_equal(f->connections, 2);
        assert_int_equal(f->local_port, 0);
        assert_int_equal(f->peer_port, 3306);
        assert_int_equal(f->tcp.rtt_us_min, 50);
        assert_int_equal(f->tcp.rtt_us_max, 70);
        assert_int_equal(nd_flow_rtt_us_avg(f), 60);
        assert_int_equal(f->tcp.retrans, 2);
        assert_int_equal(f->tcp.bytes_sent, 200);
        assert_int_equal(f->tcp.bytes_received, 20);
        assert_int_equal(set.flows[2].process.pid, 813);

        f = &set.flows[3];
        assert_int_equal(f->direction, ND_DIRECTION_PASSIVE);
        assert_int_equal(f->connections, 2);
        assert_int_equal(f->local_port, 80);
        assert_int_equal(f->peer_port, 0);
        assert_string_equal(f->process.name, "nginx");
        assert_string_equal(f->process.cgroup, "/web");
        assert_int_equal(nd_flow_rtt_us_avg(f), 200);
        assert_int_equal(set.flows[4].connections, 1);

        /* Adding after sorting still finds the existing flow. */
        add(&set, conn(ND_DIRECTION_PASSIVE, "10.0.1.9", 80, "10.0.2.14", 50009, &nginx, 200));
        assert_int_equal(set.n, 5);
        nd_flow_set_done(&set);
}

static void test_unknown_tcp_info(void **state)
{
        struct nd_flow_set set;
        struct nd_connection c = conn(ND_DIRECTION_ACTIVE, "10.0.0.1", 1, "10.0.0.2", 2, NULL, 0);

        c.has_tcp_info = false;
        nd_flow_set_init(&set);
        assert_int_equal(nd_flow_set_add(&set, &c), 0);
        assert_false(set.flows[0].tcp.known);
        assert_int_equal(set.flows[0].connections, 1);
        nd_flow_set_done(&set);
}

/* A passive flow keeps the listener's owner it learned, through folding,
 * copying (the agent's reused listing) and the event counts added to it;
 * its own process stays the accepted socket's. */
static void test_listener_owner_kept(void **state)
{
        struct nd_process postmaster = { .pid = 100, .pgid = 100, .name = "postgres", .cgroup = (char *)"/pg" };
        struct nd_process backend = { .pid = 101, .pgid = 101, .name = "postgres" };
        struct nd_flow_set set, copy;
        struct nd_connection c = conn(ND_DIRECTION_PASSIVE, "10.0.0.1", 5432, "10.0.0.2", 50000, &backend, 10);

        nd_flow_set_init(&set);
        nd_flow_set_init(&copy);
        /* The first connection's listener owner is unknown, the next's known. */
        add(&set, c);
        assert_false(set.flows[0].has_listener_owner);
        c.peer_port = 50001;
        c.listener_owner = &postmaster;
        add(&set, c);
        assert_int_equal(set.n, 1);
        assert_true(set.flows[0].has_listener_owner);
        assert_int_equal(set.flows[0].listener_owner.pid, 100);
        assert_int_equal(set.flows[0].listener_owner.pgid, 100);
        assert_null(set.flows[0].listener_owner.cgroup); /* not copied: nobody frees it */
        assert_int_equal(set.flows[0].process.pid, 101);

        assert_int_equal(nd_flow_set_copy(&copy, &set), 0);
        assert_true(copy.flows[0].has_listener_owner);
        assert_int_equal(copy.flows[0].listener_owner.pid, 100);
        assert_string_equal(copy.flows[0].listener_owner.name, "postgres");

        /* Counts of a flow that knows no listener do not make it forget. */
        struct nd_flow counts = copy.flows[0];
        counts.has_listener_owner = false;
        counts.opened = 3;
        assert_int_equal(nd_flow_set_add_counts(&copy, &counts), 0);
        assert_int_equal(copy.n, 1);
        assert_int_equal(copy.flows[0].opened, 3);
        assert_true(copy.flows[0].has_listener_owner);
        nd_flow_set_done(&set);
        nd_flow_set_done(&copy);
}

static bool only_passive(const struct nd_flow *f, void *userdata)
{
        return f->direction == ND_DIRECTION_PASSIVE;
}

static void test_many_flows_and_filter(void **state)
{
        struct nd_process p = { .pid = 5, .name = "x", .cgroup = (char *)"/c" };
        struct nd_flow_set set;
        char peer[32];

        nd_flow_set_init(&set);
        for (int i = 0; i < 5000; i++) {
                snprintf(peer, sizeof(peer), "10.%d.%d.1", i / 256, i % 256);
                add(&set, conn(i % 2 ? ND_DIRECTION_PASSIVE : ND_DIRECTION_ACTIVE, "10.255.0.1", 80, peer, 443, &p, 1));
                add(&set, conn(i % 2 ? ND_DIRECTION_PASSIVE : ND_DIRECTION_ACTIVE, "10.255.0.1", 81, peer, 443, &p, 1));
        }
        /* Passive: (local, 80/81, peer) -> 2 flows a peer; active: (local,
         * peer, 443) -> 1 flow a peer. */
        assert_int_equal(set.n, 2500 * 2 + 2500);
        nd_flow_set_filter(&set, only_passive, NULL);
        assert_int_equal(set.n, 5000);
        nd_flow_set_done(&set);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_folding),
                cmocka_unit_test(test_unknown_tcp_info),
                cmocka_unit_test(test_listener_owner_kept),
                cmocka_unit_test(test_many_flows_and_filter),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
