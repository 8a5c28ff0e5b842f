/* The look question on a stored scenario (scenario-store.h): which
 * endpoint each line stands for, which process makes each call, names,
 * ages, cycles, and the tree as one picture. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/look.h"
#include "scenario-store.h"

#define STORE_PATH "test-look.db"

struct fixture {
        struct nd_store *store;
        struct nd_graph graph;
};

static int setup(void **state)
{
        static struct fixture f;

        f.store = scenario_open(STORE_PATH);
        assert_int_equal(nd_graph_init(&f.graph, f.store, false), 0);
        *state = &f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        nd_graph_done(&f->graph);
        nd_store_close(f->store);
        return 0;
}

static struct nd_look_options options(const char *host, enum nd_look_direction d, int depth)
{
        return (struct nd_look_options){
                .host = host, .direction = d, .depth = depth, .range = { INT64_MIN, INT64_MAX },
                .now = SCENARIO_NOW + 5,
        };
}

static const struct nd_look_node *child(const struct nd_look_node *n, const char *label, const char *process)
{
        for (size_t i = 0; i < n->n_children; i++)
                if (strcmp(n->children[i].label, label) == 0 && strcmp(n->children[i].process, process) == 0)
                        return &n->children[i];
        fail_msg("%s has no child %s (%s)", n->label, label, process);
        return NULL;
}

/* Who uses db1, three levels up: each client is its own process, and a
 * level further up says which port and process of app1 it uses. */
static void test_in_names_processes(void **state)
{
        struct fixture *f = *state;
        struct nd_look_options o = options("db1", ND_LOOK_IN, 3);
        struct nd_look_result r;

        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        assert_int_equal(r.n_in, 1);
        assert_string_equal(r.in_roots[0].label, "10.77.0.10");
        assert_int_equal(r.in_roots[0].port, 5432);
        assert_string_equal(r.in_roots[0].process, "postgres");
        assert_int_equal(r.in_roots[0].pgid, 100);
        assert_string_equal(r.in_roots[0].name, "db1");

        const struct nd_look_node *psql = child(&r.in_roots[0], "10.77.0.21", "psql");
        assert_int_equal(psql->pgid, 210);
        assert_string_equal(psql->name, "app1");
        assert_int_equal(psql->n_children, 2);
        const struct nd_look_node *curl = child(psql, "10.77.0.30", "curl");
        const struct nd_look_node *nc = child(psql, "10.77.0.30", "nc");
        assert_int_equal(curl->pgid, 300);
        assert_int_equal(nc->pgid, 310);
        assert_int_equal(curl->to_port, 8080);
        assert_string_equal(curl->peer_process, "python3");
        assert_string_equal(nc->peer_process, "python3");
        assert_int_equal(curl->last_seen, SCENARIO_NOW);
        assert_int_equal(curl->first_seen, SCENARIO_NOW - 130); /* the first flush's first snapshot */
        nd_look_result_done(&r);
}

/* What lb1 uses: below app1's server, each call names the app1 process
 * that makes it, never the server process. */
static void test_out_caller_is_named(void **state)
{
        struct fixture *f = *state;
        struct nd_look_options o = options("10.77.0.30", ND_LOOK_OUT, 3);
        struct nd_look_result r;

        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        assert_int_equal(r.n_out, 2); /* curl and nc: two client endpoints */
        assert_string_equal(r.out_roots[0].name, "lb1");
        for (size_t i = 0; i < r.n_out; i++) {
                const struct nd_look_node *app = child(&r.out_roots[i], "10.77.0.21", "python3");
                assert_int_equal(app->port, 8080);
                assert_string_equal(app->peer_process, r.out_roots[i].process);
                if (app->seen) /* expanded under the other root */
                        continue;
                assert_int_equal(app->n_children, 2);
                assert_string_equal(child(app, "10.77.0.10", "postgres")->peer_process, "psql");
                assert_string_equal(child(app, "10.77.0.40", "")->peer_process, "nc");
        }
        nd_look_result_done(&r);
}

static size_t find_root(size_t *parent, size_t i)
{
        while (parent[i] != i)
                i = parent[i] = parent[parent[i]];
        return i;
}

/* Whether the picture is one piece, once each host's endpoints are drawn
 * together (as DOT's clusters do). */
static bool connected(const struct nd_endpoint_graph *g)
{
        size_t parent[64];

        assert_true(g->n_nodes <= 64);
        for (size_t i = 0; i < g->n_nodes; i++)
                parent[i] = i;
        for (size_t i = 0; i < g->n_links; i++)
                parent[find_root(parent, g->links[i].client)] = find_root(parent, g->links[i].server);
        for (size_t i = 0; i < g->n_nodes; i++)
                for (size_t k = 0; k < i; k++)
                        if (strcmp(g->nodes[i].label, g->nodes[k].label) == 0)
                                parent[find_root(parent, i)] = find_root(parent, k);
        for (size_t i = 1; i < g->n_nodes; i++)
                if (find_root(parent, i) != find_root(parent, 0))
                        return false;
        return true;
}

static const struct nd_endpoint_node *node(const struct nd_endpoint_graph *g, enum nd_node_kind kind,
                                           const char *label, uint16_t port, const char *process)
{
        for (size_t i = 0; i < g->n_nodes; i++) {
                const struct nd_endpoint_node *n = &g->nodes[i];
                if (n->kind == kind && strcmp(n->label, label) == 0 && n->port == port &&
                    (kind == ND_NODE_SERVER || strcmp(n->process, process) == 0))
                        return n;
        }
        fail_msg("no node %s:%u (%s)", label, port, process ? process : "-");
        return NULL;
}

/* The picture of app1, both ways, two levels: one node per endpoint, each
 * with its own process, in one piece (a host's endpoints together). */
static void test_picture_one_node_per_endpoint(void **state)
{
        struct fixture *f = *state;
        struct nd_look_options o = options("app1", ND_LOOK_BOTH, 2);
        struct nd_endpoint_graph g;
        struct nd_look_result r;

        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        assert_int_equal(nd_look_picture(&r, &g), 0);
        assert_string_equal(node(&g, ND_NODE_SERVER, "10.77.0.21", 8080, NULL)->process, "python3");
        assert_int_equal(node(&g, ND_NODE_SERVER, "10.77.0.21", 8080, NULL)->pgid, 200);
        assert_int_equal(node(&g, ND_NODE_CLIENT, "10.77.0.30", 0, "curl")->pgid, 300);
        assert_int_equal(node(&g, ND_NODE_CLIENT, "10.77.0.30", 0, "nc")->pgid, 310);
        assert_int_equal(node(&g, ND_NODE_CLIENT, "10.77.0.21", 0, "psql")->pgid, 210);
        assert_int_equal(node(&g, ND_NODE_CLIENT, "10.77.0.21", 0, "nc")->pgid, 220);
        assert_string_equal(node(&g, ND_NODE_SERVER, "10.77.0.10", 5432, NULL)->process, "postgres");
        assert_int_equal(g.n_nodes, 7); /* and mon1:9100 */
        assert_int_equal(g.n_links, 4);
        assert_true(connected(&g));
        nd_endpoint_graph_done(&g);
        nd_look_result_done(&r);

}

/* A client whose own agent stopped reporting long ago does not hide what
 * the server sees now; --active leaves the stale edge out. */
static void test_stale_view_does_not_shadow(void **state)
{
        struct fixture *f = *state;
        const struct nd_edge_observation old[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.50", "java", 500, "10.77.0.10", 5432, "", -1, 3),
        };
        const struct nd_edge_observation now[] = {
                scenario_obs(ND_SIDE_SERVER, "10.77.0.50", "", -1, "10.77.0.10", 5432, "postgres", 100, 1),
        };
        struct nd_look_options o = options("db1", ND_LOOK_IN, 1);
        struct nd_look_result r;

        scenario_ingest(f->store, SCENARIO_NOW - 3600, "app2", "10.77.0.50", old, 1);
        scenario_ingest(f->store, SCENARIO_NOW, "db1", "10.77.0.10", now, 1);
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        assert_int_equal(child(&r.in_roots[0], "10.77.0.50", "java")->last_seen, SCENARIO_NOW - 3600);
        assert_int_equal(child(&r.in_roots[0], "10.77.0.50", "")->last_seen, SCENARIO_NOW);
        nd_look_result_done(&r);

        o.active_s = 120;
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        assert_int_equal(r.in_roots[0].n_children, 2); /* psql and the unknown one */
        child(&r.in_roots[0], "10.77.0.50", "");
        nd_look_result_done(&r);
}

/* app1 -> db1 -> app1: the second app1 is a cycle, not expanded. */
static void test_cycle(void **state)
{
        struct fixture *f = *state;
        const struct nd_edge_observation back[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.10", "pg_cron", 130, "10.77.0.21", 8080, "", -1, 1),
        };
        struct nd_look_options o = options("10.77.0.21", ND_LOOK_OUT, 4);
        struct nd_look_result r;

        scenario_ingest(f->store, SCENARIO_NOW, "db1", "10.77.0.10", back, 1);
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        const struct nd_look_node *root = NULL;
        for (size_t i = 0; i < r.n_out; i++)
                if (strcmp(r.out_roots[i].process, "psql") == 0)
                        root = &r.out_roots[i];
        assert_non_null(root);
        const struct nd_look_node *db = child(root, "10.77.0.10", "postgres");
        const struct nd_look_node *again = child(db, "10.77.0.21", "python3");
        assert_string_equal(again->peer_process, "pg_cron");
        assert_true(again->cycle);
        assert_int_equal(again->n_children, 0);
        nd_look_result_done(&r);

        /* Both ways: app1 psql -> db1 and db1 pg_cron -> app1 are each in
         * the out tree and the in tree; the picture draws and counts each
         * once. */
        struct nd_endpoint_graph g;
        o = options("10.77.0.21", ND_LOOK_BOTH, 2);
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        assert_int_equal(nd_look_picture(&r, &g), 0);
        size_t checked = 0;
        for (size_t i = 0; i < g.n_links; i++) {
                const struct nd_endpoint_node *c = &g.nodes[g.links[i].client];
                if ((strcmp(c->label, "10.77.0.21") == 0 && strcmp(c->process, "psql") == 0) ||
                    (strcmp(c->label, "10.77.0.10") == 0 && strcmp(c->process, "pg_cron") == 0)) {
                        assert_int_equal(g.links[i].counts.connections, 1);
                        checked++;
                }
        }
        assert_int_equal(checked, 2);
        nd_endpoint_graph_done(&g);
        nd_look_result_done(&r);
}

static void test_unknown_and_empty(void **state)
{
        struct fixture *f = *state;
        struct nd_look_options o = options("nosuchhost", ND_LOOK_BOTH, 1);
        struct nd_look_result r;

        assert_int_equal(nd_look(&f->graph, &o, &r), -ENOENT);
        o = options("10.77.0.99", ND_LOOK_BOTH, 1);
        assert_int_equal(nd_look(&f->graph, &o, &r), -ENODATA);
        o = options("APP1", ND_LOOK_BOTH, 1); /* hostnames have no case */
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        nd_look_result_done(&r);
}

/* --resolve: an address with no other name gets its reverse-DNS one
 * (127.0.0.1 is named by /etc/hosts, no DNS server needed); a name from an
 * agent is kept. */
static void test_resolve(void **state)
{
        struct fixture *f = *state;
        const struct nd_edge_observation rows[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.21", "redis-cli", 230, "127.0.0.1", 6379, "", -1, 1),
        };
        struct nd_look_options o = options("app1", ND_LOOK_OUT, 1);
        struct nd_look_result r;

        scenario_ingest(f->store, SCENARIO_NOW, "app1", "10.77.0.21", rows, 1);
        o.resolve_ms = 2000;
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        const struct nd_look_node *local = NULL;
        for (size_t i = 0; i < r.n_out; i++)
                if (strcmp(r.out_roots[i].process, "redis-cli") == 0)
                        local = child(&r.out_roots[i], "127.0.0.1", "");
        assert_non_null(local);
        assert_non_null(local->name);
        assert_string_equal(r.out_roots[0].name, "app1");
        nd_look_result_done(&r);
}

/* A host of two addresses: a node of one of them under the other's root
 * points at its root (seen), and nothing is fetched or counted twice. */
static void test_host_of_two_addresses(void **state)
{
        struct fixture *f = *state;
        const struct nd_edge_observation replica[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.2.2", "replica", 600, "10.77.2.1", 5432, "", -1, 1),
        };
        const struct nd_edge_observation primary[] = {
                scenario_obs(ND_SIDE_SERVER, "10.77.2.2", "", -1, "10.77.2.1", 5432, "postgres", 610, 1),
        };
        const struct nd_edge_observation curl[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.2.9", "curl", 620, "10.77.2.2", 6432, "", -1, 3),
        };
        struct nd_look_options o = options("dbx", ND_LOOK_IN, 3);
        struct nd_look_result r;

        scenario_ingest(f->store, SCENARIO_NOW, "dbx", "10.77.2.2", replica, 1);
        scenario_ingest(f->store, SCENARIO_NOW, "dbx", "10.77.2.1", primary, 1);
        scenario_ingest(f->store, SCENARIO_NOW, "lbx", "10.77.2.9", curl, 1);
        nd_graph_done(&f->graph); /* forget the hosts read before */
        assert_int_equal(nd_graph_init(&f->graph, f->store, false), 0);
        assert_int_equal(nd_look(&f->graph, &o, &r), 0);
        assert_int_equal(r.n_in, 2);
        for (size_t i = 0; i < r.n_in; i++) {
                const struct nd_look_node *root = &r.in_roots[i];
                if (root->port == 5432) {
                        const struct nd_look_node *rep = child(root, "10.77.2.2", "replica");
                        assert_true(rep->seen);
                        assert_int_equal(rep->n_children, 0);
                } else {
                        assert_int_equal(root->port, 6432);
                        assert_int_equal(root->n_children, 1);
                        assert_int_equal(child(root, "10.77.2.9", "curl")->connections, 3);
                }
        }
        nd_look_result_done(&r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_in_names_processes),
                cmocka_unit_test(test_out_caller_is_named),
                cmocka_unit_test(test_picture_one_node_per_endpoint),
                cmocka_unit_test(test_unknown_and_empty),
                /* These add edges: last. */
                cmocka_unit_test(test_stale_view_does_not_shadow),
                cmocka_unit_test(test_cycle),
                cmocka_unit_test(test_resolve),
                cmocka_unit_test(test_host_of_two_addresses),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
