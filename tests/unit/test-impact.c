/* The impact question on a stored scenario (scenario-store.h): who depends
 * on a host, transitively, each once, with depth and path counts; and,
 * reversed, what it depends on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/impact.h"
#include "scenario-store.h"

#define STORE_PATH "test-impact.db"

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

static struct nd_impact_options options(const char *host, bool reverse)
{
        return (struct nd_impact_options){
                .host = host, .reverse = reverse, .depth = ND_IMPACT_MAX_DEPTH,
                .range = { INT64_MIN, INT64_MAX }, .now = SCENARIO_NOW,
        };
}

static const struct nd_impact_entry *entry(const struct nd_impact_result *r, const char *label)
{
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->items[i].label, label) == 0)
                        return &r->items[i];
        fail_msg("%s is not in the result", label);
        return NULL;
}

static void test_dependents(void **state)
{
        struct fixture *f = *state;
        struct nd_impact_options o = options("db1", false);
        struct nd_impact_result r;

        assert_int_equal(nd_impact(&f->graph, &o, &r), 0);
        assert_int_equal(r.n, 2);
        assert_int_equal(entry(&r, "10.77.0.21")->depth, 1);
        assert_string_equal(entry(&r, "10.77.0.21")->name, "app1");
        /* lb1 uses app1 through two processes: still one path. */
        assert_int_equal(entry(&r, "10.77.0.30")->depth, 2);
        assert_int_equal(entry(&r, "10.77.0.30")->paths, 1);
        assert_false(r.cut);
        nd_impact_result_done(&r);

        o.depth = 1;
        assert_int_equal(nd_impact(&f->graph, &o, &r), 0);
        assert_int_equal(r.n, 1);
        assert_true(r.cut);
        nd_impact_result_done(&r);
}

static void test_reverse(void **state)
{
        struct fixture *f = *state;
        struct nd_impact_options o = options("lb1", true);
        struct nd_impact_result r;

        assert_int_equal(nd_impact(&f->graph, &o, &r), 0);
        assert_int_equal(r.n, 3);
        assert_int_equal(entry(&r, "10.77.0.21")->depth, 1);
        assert_int_equal(entry(&r, "10.77.0.10")->depth, 2);
        assert_int_equal(entry(&r, "10.77.0.40")->depth, 2);
        nd_impact_result_done(&r);
}

static void test_unknown_and_none(void **state)
{
        struct fixture *f = *state;
        struct nd_impact_options o = options("nosuchhost", false);
        struct nd_impact_result r;

        assert_int_equal(nd_impact(&f->graph, &o, &r), -ENOENT);
        o = options("10.77.0.99", false);
        assert_int_equal(nd_impact(&f->graph, &o, &r), -ENODATA);
        o = options("lb1", false); /* nothing depends on lb1: an empty answer */
        assert_int_equal(nd_impact(&f->graph, &o, &r), 0);
        assert_int_equal(r.n, 0);
        nd_impact_result_done(&r);
}

/* A diamond (x uses a and b, both use db1) and a cycle (db1 uses x): x
 * has two shortest paths, and db1 is never listed under itself. */
static void test_paths_and_cycles(void **state)
{
        struct fixture *f = *state;
        const struct nd_edge_observation rows[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.1.1", "a", 1, "10.77.0.10", 5432, "", -1, 1),
                scenario_obs(ND_SIDE_CLIENT, "10.77.1.2", "b", 2, "10.77.0.10", 5432, "", -1, 1),
                scenario_obs(ND_SIDE_CLIENT, "10.77.1.9", "x", 9, "10.77.1.1", 80, "", -1, 1),
                scenario_obs(ND_SIDE_CLIENT, "10.77.1.9", "x", 9, "10.77.1.2", 80, "", -1, 1),
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.10", "cron", 7, "10.77.1.9", 443, "", -1, 1),
        };
        struct nd_impact_options o = options("db1", false);
        struct nd_impact_result r;

        scenario_ingest(f->store, SCENARIO_NOW, "mixed", "10.77.1.1", rows, 5);
        assert_int_equal(nd_impact(&f->graph, &o, &r), 0);
        assert_int_equal(entry(&r, "10.77.1.9")->depth, 2);
        assert_int_equal(entry(&r, "10.77.1.9")->paths, 2);
        for (size_t i = 0; i < r.n; i++)
                assert_string_not_equal(r.items[i].label, "10.77.0.10");
        assert_int_equal(r.n, 5); /* app1, a, b; lb1, x */
        nd_impact_result_done(&r);
}

/* A host grouped by role: what depends on it, as roles — not what depends
 * on the other hosts of its role. */
static void test_host_by_role(void **state)
{
        struct fixture *f = *state;
        const struct nd_edge_observation other[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.60", "batch", 660, "10.77.0.11", 5432, "", -1, 1),
        };
        struct nd_role_rules rules = {};
        struct nd_role_rule rule;
        struct nd_impact_options o = options("10.77.0.10", false);
        struct nd_impact_result r;
        char why[128];
        struct nd_graph g;

        scenario_ingest(f->store, SCENARIO_NOW, "batch1", "10.77.0.60", other, 1);
        assert_int_equal(nd_role_rule_make("10.77.0.10/31", "shop:db", "", "", &rule, why, sizeof(why)), 0);
        assert_int_equal(nd_role_rules_push(&rules, &rule), 0);
        assert_int_equal(nd_store_roles_replace(f->store, &rules), 0);
        nd_role_rules_done(&rules);

        assert_int_equal(nd_graph_init(&g, f->store, true), 0);
        assert_int_equal(nd_impact(&g, &o, &r), 0);
        for (size_t i = 0; i < r.n; i++)
                assert_string_not_equal(r.items[i].label, "10.77.0.60");
        assert_int_equal(entry(&r, "10.77.0.21")->depth, 1);
        nd_impact_result_done(&r);
        nd_graph_done(&g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dependents),
                cmocka_unit_test(test_reverse),
                cmocka_unit_test(test_unknown_and_none),
                cmocka_unit_test(test_paths_and_cycles), /* adds edges: last */
                cmocka_unit_test(test_host_by_role),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
