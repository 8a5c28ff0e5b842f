/* The diff question on a stored scenario (scenario-store.h): new and gone
 * edges, and the edges a range missed only because they come and go. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/diff.h"
#include "scenario-store.h"

#define STORE_PATH "test-diff.db"
#define T SCENARIO_NOW

static struct nd_store *store;

static int setup(void **state)
{
        store = scenario_open(STORE_PATH);
        /* A poller seen now and then by polling: at T-1800 and T-600 only. */
        const struct nd_edge_observation poll[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.30", "poller", 330, "10.77.0.10", 5432, "", -1, 1),
        };
        /* A cron job seen at T-1500, then never again. */
        const struct nd_edge_observation cron[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.21", "cron", 250, "10.77.0.10", 5432, "", -1, 1),
        };
        scenario_ingest(store, T - 1800, "lb1", "10.77.0.30", poll, 1);
        scenario_ingest(store, T - 1500, "app1", "10.77.0.21", cron, 1);
        scenario_ingest(store, T - 600, "lb1", "10.77.0.30", poll, 1);
        return 0;
}

static int teardown(void **state)
{
        nd_store_close(store);
        return 0;
}

static bool has(const struct nd_labeled_edges *l, const char *client, const char *process)
{
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->items[i].client, client) == 0 && strcmp(l->items[i].client_process, process) == 0)
                        return true;
        return false;
}

/* before: [T-1700, T-1000]; after: [T-900, T]. The scenario's edges are
 * all in after only, first seen at T-130: new. The poller, in after only,
 * was seen at T-1800: a gap of the before range, not new. The cron job,
 * in before only and never seen since: gone. */
static void test_new_gone_and_gaps(void **state)
{
        struct nd_diff_options o = {
                .host = "db1", .before = { T - 1700, T - 1000 }, .after = { T - 900, T },
        };
        struct nd_diff_result r;
        struct nd_graph g;

        assert_int_equal(nd_graph_init(&g, store, false), 0);
        assert_int_equal(nd_diff(&g, &o, &r), 0);
        assert_true(has(&r.appeared, "10.77.0.21", "psql"));
        assert_false(has(&r.appeared, "10.77.0.30", "poller"));
        assert_true(has(&r.missed_before, "10.77.0.30", "poller"));
        assert_true(has(&r.vanished, "10.77.0.21", "cron"));
        assert_int_equal(r.missed_after.n, 0);
        for (size_t i = 0; i < r.appeared.n; i++)
                assert_true(r.appeared.items[i].buckets >= 1);
        nd_diff_result_done(&r);

        /* The poller missed by the after range, seen before and after it. */
        o.before = (struct nd_time_range){ T - 1900, T - 1700 };
        o.after = (struct nd_time_range){ T - 1200, T - 700 };
        assert_int_equal(nd_diff(&g, &o, &r), 0);
        assert_true(has(&r.missed_after, "10.77.0.30", "poller"));
        assert_false(has(&r.vanished, "10.77.0.30", "poller"));
        nd_diff_result_done(&r);

        /* Never seen: no edges in either range, as look says. */
        o.host = "10.77.0.99";
        assert_int_equal(nd_diff(&g, &o, &r), -ENODATA);
        nd_graph_done(&g);
}

/* By role: the edges of several hosts of a role fold into one line, their
 * connections added, not one host's kept. */
static void test_roles_fold(void **state)
{
        const struct nd_edge_observation lb2[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.31", "curl", 340, "10.77.0.21", 8080, "", -1, 2),
        };
        struct nd_role_rules rules = {};
        struct nd_role_rule rule;
        char why[128];
        struct nd_diff_options o = {
                .role = "shop:app", .by_role = true, .before = { T - 1700, T - 1000 }, .after = { T - 900, T },
        };
        struct nd_diff_result r;
        struct nd_graph g;
        bool found = false;

        scenario_ingest(store, T, "lb2", "10.77.0.31", lb2, 1);
        assert_int_equal(nd_role_rule_make("10.77.0.21", "shop:app", "", "", &rule, why, sizeof(why)), 0);
        assert_int_equal(nd_role_rules_push(&rules, &rule), 0);
        assert_int_equal(nd_role_rule_make("10.77.0.30/31", "shop:lb", "", "", &rule, why, sizeof(why)), 0);
        assert_int_equal(nd_role_rules_push(&rules, &rule), 0);
        assert_int_equal(nd_store_roles_replace(store, &rules), 0);
        nd_role_rules_done(&rules);

        assert_int_equal(nd_graph_init(&g, store, true), 0);
        assert_int_equal(nd_diff(&g, &o, &r), 0);
        for (size_t i = 0; i < r.appeared.n; i++)
                if (strcmp(r.appeared.items[i].client, "shop:lb") == 0 &&
                    strcmp(r.appeared.items[i].client_process, "curl") == 0) {
                        assert_int_equal(r.appeared.items[i].connections, 3);
                        found = true;
                }
        assert_true(found);
        nd_diff_result_done(&r);
        nd_graph_done(&g);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_new_gone_and_gaps),
                cmocka_unit_test(test_roles_fold), /* adds edges and roles: last */
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
