/* Host flows of a flush's snapshots turned into edge observations, on
 * hand-made flows: how many client processes an edge stands for, and which
 * process serves a port. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/edge_batch.h"

static struct nd_process process(pid_t pid, pid_t pgid, const char *name)
{
        struct nd_process p = { .pid = pid, .pgid = pgid };

        snprintf(p.name, sizeof(p.name), "%s", name);
        return p;
}

/* One live connection. p, listener_owner: NULL when unknown. */
static void add(struct nd_flow_set *set, enum nd_direction d, const char *local, uint16_t port, const char *peer,
                const struct nd_process *p, const struct nd_process *listener_owner)
{
        struct nd_connection c = {
                .count = ND_COUNT_LIVE, .direction = d, .netns = 1,
                .local_port = d == ND_DIRECTION_PASSIVE ? port : 40000,
                .peer_port = d == ND_DIRECTION_ACTIVE ? port : 40000,
                .process = p, .listener_owner = listener_owner,
        };

        assert_int_equal(nd_addr_parse(local, &c.local), 0);
        assert_int_equal(nd_addr_parse(peer, &c.peer), 0);
        assert_int_equal(nd_flow_set_add(set, &c), 0);
}

/* nc connections from 10.0.0.2 to 10.0.0.1:80, one per process given. */
static void add_snapshot_of(struct nd_edge_batch *b, const struct nd_process *ps, size_t n, int64_t ts)
{
        struct nd_flow_set flows;

        nd_flow_set_init(&flows);
        for (size_t i = 0; i < n; i++)
                add(&flows, ND_DIRECTION_ACTIVE, "10.0.0.2", 80, "10.0.0.1", &ps[i], NULL);
        assert_int_equal(nd_edge_batch_add_snapshot(b, &flows, ts, false), 0);
        nd_flow_set_done(&flows);
}

static void test_two_pids_one_group(void **state)
{
        struct nd_edge_batch b;
        /* A program that forked a worker: one process group. */
        const struct nd_process ps[] = { process(10, 10, "nc"), process(11, 10, "nc") };

        nd_edge_batch_init(&b);
        add_snapshot_of(&b, ps, 2, 100);
        assert_int_equal(b.n, 1);
        assert_int_equal(b.rows[0].side, ND_SIDE_CLIENT);
        assert_string_equal(b.rows[0].client.process, "nc");
        assert_int_equal(b.rows[0].connections, 2);
        assert_int_equal(b.rows[0].processes, 1);
        nd_edge_batch_done(&b);
}

static void test_two_groups(void **state)
{
        struct nd_edge_batch b;
        /* Two nc started from a shell: a process group each. */
        const struct nd_process ps[] = { process(10, 10, "nc"), process(20, 20, "nc"), process(21, 20, "nc") };

        nd_edge_batch_init(&b);
        add_snapshot_of(&b, ps, 3, 100);
        assert_int_equal(b.n, 1);
        assert_int_equal(b.rows[0].connections, 3);
        assert_int_equal(b.rows[0].processes, 2);
        nd_edge_batch_done(&b);
}

static void test_most_over_snapshots(void **state)
{
        struct nd_edge_batch b;
        const struct nd_process ps[] = { process(10, 10, "nc"), process(20, 20, "nc"), process(30, 30, "nc") };

        nd_edge_batch_init(&b);
        add_snapshot_of(&b, ps, 1, 100);
        assert_int_equal(b.rows[0].processes, 1);
        add_snapshot_of(&b, ps, 3, 110);
        assert_int_equal(b.rows[0].processes, 3);
        /* The same process groups again count once each, not again. */
        add_snapshot_of(&b, &ps[1], 2, 120);
        add_snapshot_of(&b, ps, 1, 130);
        assert_int_equal(b.n, 1);
        assert_int_equal(b.rows[0].processes, 3);
        assert_int_equal(b.rows[0].connections, 3);

        /* The next flush starts from nothing. */
        nd_edge_batch_clear(&b);
        add_snapshot_of(&b, &ps[2], 1, 140);
        assert_int_equal(b.n, 1);
        assert_int_equal(b.rows[0].processes, 1);
        nd_edge_batch_done(&b);
}

static void test_unknown_process_and_server_side(void **state)
{
        struct nd_edge_batch b;
        struct nd_flow_set flows;
        const struct nd_process web = process(50, 50, "nginx");

        nd_edge_batch_init(&b);
        nd_flow_set_init(&flows);
        add(&flows, ND_DIRECTION_ACTIVE, "10.0.0.2", 80, "10.0.0.1", NULL, NULL);
        add(&flows, ND_DIRECTION_PASSIVE, "10.0.0.2", 8080, "10.0.0.3", &web, NULL);
        assert_int_equal(nd_edge_batch_add_snapshot(&b, &flows, 100, false), 0);
        nd_flow_set_done(&flows);
        assert_int_equal(b.n, 2);
        for (size_t i = 0; i < b.n; i++) {
                assert_int_equal(b.rows[i].processes, 0);
                if (b.rows[i].side == ND_SIDE_CLIENT) {
                        assert_string_equal(b.rows[i].client.process, "");
                        assert_int_equal(b.rows[i].client.pgid, -1);
                }
        }
        nd_edge_batch_done(&b);
}

/* PostgreSQL: each backend holds its accepted socket and calls setsid();
 * the server endpoint is the postmaster's, which owns the listener. */
static void test_server_is_the_listener_owner(void **state)
{
        struct nd_edge_batch b;
        struct nd_flow_set flows;
        const struct nd_process postmaster = process(100, 100, "postgres");
        const struct nd_process backends[] = { process(101, 101, "postgres"), process(102, 102, "postgres") };
        const struct nd_process sshd = process(200, 200, "sshd");

        nd_edge_batch_init(&b);
        nd_flow_set_init(&flows);
        add(&flows, ND_DIRECTION_PASSIVE, "10.0.0.1", 5432, "10.0.0.2", &backends[0], &postmaster);
        add(&flows, ND_DIRECTION_PASSIVE, "10.0.0.1", 5432, "10.0.0.2", &backends[1], &postmaster);
        /* The flows keep their own processes, as `netdep flows` shows them. */
        assert_int_equal(flows.n, 2);
        assert_int_equal(flows.flows[1].process.pid, 102);
        assert_true(flows.flows[1].has_listener_owner);
        assert_int_equal(flows.flows[1].listener_owner.pid, 100);
        /* A listener whose owner is unknown: the flow's process serves it. */
        add(&flows, ND_DIRECTION_PASSIVE, "10.0.0.1", 22, "10.0.0.2", &sshd, NULL);
        assert_int_equal(nd_edge_batch_add_snapshot(&b, &flows, 100, false), 0);
        nd_flow_set_done(&flows);

        assert_int_equal(b.n, 2);
        for (size_t i = 0; i < b.n; i++) {
                const struct nd_edge_observation *o = &b.rows[i];

                assert_int_equal(o->side, ND_SIDE_SERVER);
                if (o->server.port == 5432) {
                        assert_string_equal(o->server.process, "postgres");
                        assert_int_equal(o->server.pgid, 100);
                        assert_int_equal(o->connections, 2);
                } else {
                        assert_string_equal(o->server.process, "sshd");
                        assert_int_equal(o->server.pgid, 200);
                }
        }
        nd_edge_batch_done(&b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_pids_one_group),
                cmocka_unit_test(test_two_groups),
                cmocka_unit_test(test_most_over_snapshots),
                cmocka_unit_test(test_unknown_process_and_server_side),
                cmocka_unit_test(test_server_is_the_listener_owner),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
