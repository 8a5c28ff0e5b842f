/* The graph question on a stored scenario (scenario-store.h): the whole
 * store in one pass, one node per endpoint, the server's process-less view
 * of an edge hidden by the client's own; a neighbourhood hop by hop. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/graph_view.h"
#include "scenario-store.h"

#define STORE_PATH "test-graph-view.db"

static struct nd_store *store;

static int setup(void **state)
{
        store = scenario_open(STORE_PATH);
        return 0;
}

static int teardown(void **state)
{
        nd_store_close(store);
        return 0;
}

static struct nd_graph_view_options options(const char *host, int depth)
{
        return (struct nd_graph_view_options){
                .host = host, .depth = depth, .range = { INT64_MIN, INT64_MAX }, .now = SCENARIO_NOW,
        };
}

static size_t view(const struct nd_graph_view_options *o, enum nd_graph_grouping grouping, size_t *links)
{
        struct nd_endpoint_graph out;
        struct nd_graph g;
        size_t nodes;

        assert_int_equal(nd_graph_init(&g, store, false), 0);
        nd_endpoint_graph_init(&out, grouping);
        assert_int_equal(nd_graph_view(&g, o, &out), 0);
        nodes = out.n_nodes;
        *links = out.n_links;
        nd_endpoint_graph_done(&out);
        nd_graph_done(&g);
        return nodes;
}

static void test_whole_store(void **state)
{
        /* lb1 curl, lb1 nc, app1:8080; app1 psql, db1:5432; app1 nc, mon:9100. */
        struct nd_graph_view_options o = options(NULL, 1);
        struct nd_endpoint_graph out;
        struct nd_graph g;

        assert_int_equal(nd_graph_init(&g, store, false), 0);
        nd_endpoint_graph_init(&out, ND_GROUP_BY_PROCESS);
        assert_int_equal(nd_graph_view(&g, &o, &out), 0);
        assert_int_equal(out.n_nodes, 7);
        assert_int_equal(out.n_links, 4);
        for (size_t i = 0; i < out.n_nodes; i++)
                if (out.nodes[i].kind == ND_NODE_CLIENT)
                        assert_string_not_equal(out.nodes[i].process, ""); /* every "?" view was shadowed */
        nd_endpoint_graph_done(&out);
        nd_graph_done(&g);

        nd_endpoint_graph_init(&out, ND_GROUP_BY_HOST);
        assert_int_equal(nd_graph_init(&g, store, false), 0);
        assert_int_equal(nd_graph_view(&g, &o, &out), 0);
        assert_int_equal(out.n_nodes, 4);
        assert_int_equal(out.n_links, 3);
        nd_endpoint_graph_done(&out);
        nd_graph_done(&g);
}

static void test_neighbourhood(void **state)
{
        struct nd_graph_view_options o = options("db1", 1);
        size_t links;

        assert_int_equal(view(&o, ND_GROUP_BY_HOST, &links), 2);
        assert_int_equal(links, 1);
        o.depth = 2; /* and app1's other edges: lb1's, and to mon */
        assert_int_equal(view(&o, ND_GROUP_BY_HOST, &links), 4);
        assert_int_equal(links, 3);
}

static void test_errors(void **state)
{
        struct nd_graph_view_options o = options("nosuchhost", 1);
        struct nd_endpoint_graph out;
        struct nd_graph g;

        assert_int_equal(nd_graph_init(&g, store, false), 0);
        nd_endpoint_graph_init(&out, ND_GROUP_BY_PROCESS);
        assert_int_equal(nd_graph_view(&g, &o, &out), -ENOENT);
        o = options("10.77.0.99", 1);
        assert_int_equal(nd_graph_view(&g, &o, &out), -ENODATA);
        o = options(NULL, 1);
        o.range = (struct nd_time_range){ 0, 1000 }; /* long before anything */
        assert_int_equal(nd_graph_view(&g, &o, &out), -ENODATA);
        nd_endpoint_graph_done(&out);
        nd_graph_done(&g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_whole_store),
                cmocka_unit_test(test_neighbourhood),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
