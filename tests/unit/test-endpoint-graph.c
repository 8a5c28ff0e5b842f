/* The graph as one picture: endpoints once each, and what folding two
 * reports of one endpoint or edge keeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/endpoint_graph.h"

static struct nd_endpoint_ref client(const char *label, const char *process, int32_t pgid)
{
        return (struct nd_endpoint_ref){ .label = label, .process = process, .pgid = pgid, .processes = 1 };
}

static struct nd_endpoint_ref server(const char *label, uint16_t port, const char *process, int32_t pgid)
{
        return (struct nd_endpoint_ref){ .label = label, .port = port, .process = process, .pgid = pgid };
}

static struct nd_edge_counts counts(uint32_t connections, int64_t first, int64_t last)
{
        return (struct nd_edge_counts){ .connections = connections, .first_seen = first, .last_seen = last };
}

/* Two nc processes on one host: one client node that says there are two;
 * curl beside them is a node of its own. */
static void test_processes_of_one_name(void **state)
{
        struct nd_endpoint_graph g;
        struct nd_endpoint_ref nc1 = client("10.0.0.1", "nc", 11), nc2 = client("10.0.0.1", "nc", 12);
        struct nd_endpoint_ref curl = client("10.0.0.1", "curl", 13);
        struct nd_endpoint_ref web = server("10.0.0.2", 80, "nginx", 20), db = server("10.0.0.3", 5432, "", -1);
        struct nd_edge_counts c = counts(1, 100, 200);

        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        assert_int_equal(nd_endpoint_graph_add(&g, &nc1, &web, &c), 0);
        assert_int_equal(nd_endpoint_graph_add(&g, &nc2, &db, &c), 0);
        assert_int_equal(nd_endpoint_graph_add(&g, &curl, &web, &c), 0);
        assert_int_equal(g.n_nodes, 4);
        assert_int_equal(g.n_links, 3);
        assert_int_equal(nd_endpoint_graph_sort(&g), 0);
        /* Sorted by label, then kind (server, client), then process. */
        assert_string_equal(g.nodes[0].process, "curl");
        assert_int_equal(g.nodes[0].pgid, 13);
        assert_string_equal(g.nodes[1].process, "nc");
        assert_int_equal(g.nodes[1].processes, 2);
        assert_int_equal(g.nodes[1].pgid, -1);
        /* An unknown pgid later does not make it known again. */
        struct nd_endpoint_ref nc_unknown = client("10.0.0.1", "nc", -1);
        assert_int_equal(nd_endpoint_graph_add(&g, &nc_unknown, &web, &c), 0);
        assert_int_equal(g.nodes[1].pgid, -1);
        nd_endpoint_graph_done(&g);
}

/* Four nc processes are nc ×4, not ×2; past what is kept, "at least". */
static void test_counts_processes(void **state)
{
        struct nd_endpoint_graph g;
        struct nd_endpoint_ref web = server("10.0.0.2", 80, "nginx", 20);
        struct nd_edge_counts c = counts(1, 100, 200);

        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        for (int32_t pgid = 1; pgid <= 4; pgid++) {
                struct nd_endpoint_ref nc = client("10.0.0.1", "nc", pgid);
                assert_int_equal(nd_endpoint_graph_add(&g, &nc, &web, &c), 0);
        }
        assert_int_equal(g.nodes[0].processes, 4);
        assert_false(g.nodes[0].at_least);
        for (int32_t pgid = 5; pgid <= 20; pgid++) {
                struct nd_endpoint_ref nc = client("10.0.0.1", "nc", pgid);
                assert_int_equal(nd_endpoint_graph_add(&g, &nc, &web, &c), 0);
        }
        assert_int_equal(g.nodes[0].processes, ND_PGIDS_KEPT + 1);
        assert_true(g.nodes[0].at_least);
        /* An agent that counted 30 at once says more than the pgids kept. */
        struct nd_endpoint_ref many = client("10.0.0.1", "nc", -1);
        many.processes = 30;
        assert_int_equal(nd_endpoint_graph_add(&g, &many, &web, &c), 0);
        assert_int_equal(g.nodes[0].processes, 30);
        nd_endpoint_graph_done(&g);
}

/* The same pair twice folds: connections add, times widen; the server's
 * process comes from whichever report knows it. */
static void test_same_edge_folds(void **state)
{
        struct nd_endpoint_graph g;
        struct nd_endpoint_ref c = client("10.0.0.1", "psql", 5);
        struct nd_endpoint_ref unknown = server("10.0.0.3", 5432, "", -1);
        struct nd_endpoint_ref known = server("10.0.0.3", 5432, "postgres", 70);
        struct nd_edge_counts a = counts(2, 100, 200), b = counts(3, 50, 150);

        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        assert_int_equal(nd_endpoint_graph_add(&g, &c, &unknown, &a), 0);
        assert_int_equal(nd_endpoint_graph_add(&g, &c, &known, &b), 0);
        assert_int_equal(g.n_links, 1);
        assert_int_equal(g.links[0].counts.connections, 5);
        assert_int_equal(g.links[0].counts.first_seen, 50);
        assert_int_equal(g.links[0].counts.last_seen, 200);
        assert_string_equal(g.nodes[g.links[0].server].process, "postgres");
        assert_int_equal(g.nodes[g.links[0].server].pgid, 70);
        nd_endpoint_graph_done(&g);
}

/* By host: one node per label, an edge per pair of hosts with its ports. */
static void test_by_host(void **state)
{
        struct nd_endpoint_graph g;
        struct nd_endpoint_ref c1 = client("10.0.0.1", "nc", 1), c2 = client("10.0.0.1", "curl", 2);
        struct nd_endpoint_ref s1 = server("10.0.0.2", 80, "", -1), s2 = server("10.0.0.2", 443, "", -1);
        struct nd_edge_counts c = counts(1, 1, 2);

        nd_endpoint_graph_init(&g, ND_GROUP_BY_HOST);
        assert_int_equal(nd_endpoint_graph_add(&g, &c1, &s1, &c), 0);
        assert_int_equal(nd_endpoint_graph_add(&g, &c2, &s2, &c), 0);
        assert_int_equal(nd_endpoint_graph_add(&g, &c2, &s1, &c), 0);
        assert_int_equal(g.n_nodes, 2);
        assert_int_equal(g.n_links, 1);
        assert_int_equal(g.links[0].n_ports, 2);
        assert_int_equal(g.links[0].ports[0], 80);
        assert_int_equal(g.links[0].ports[1], 443);
        assert_int_equal(g.links[0].counts.connections, 3);
        nd_endpoint_graph_done(&g);
}

/* Many edges: the pair index grows and still finds each pair. */
static void test_many_edges(void **state)
{
        struct nd_endpoint_graph g;
        char labels[200][16];
        struct nd_edge_counts c = counts(1, 1, 2);

        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        for (int i = 0; i < 200; i++)
                snprintf(labels[i], sizeof(labels[i]), "10.1.%d.%d", i / 250, i % 250);
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < 200; i++)
                        for (int k = 0; k < 10; k++) {
                                struct nd_endpoint_ref a = client(labels[i], "p", 1);
                                struct nd_endpoint_ref b = server(labels[(i + k + 1) % 200], 80, "s", 2);
                                assert_int_equal(nd_endpoint_graph_add(&g, &a, &b, &c), 0);
                        }
        assert_int_equal(g.n_links, 2000);
        assert_int_equal(nd_endpoint_graph_sort(&g), 0);
        for (size_t i = 0; i < g.n_links; i++)
                assert_int_equal(g.links[i].counts.connections, 2);
        nd_endpoint_graph_done(&g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_processes_of_one_name),
                cmocka_unit_test(test_counts_processes),
                cmocka_unit_test(test_same_edge_folds),
                cmocka_unit_test(test_by_host),
                cmocka_unit_test(test_many_edges),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
