/* The live state: reports folded in, hosts turning broken only when 2
 * peers cannot reach them, alerts as edges, stale hosts, the source
 * design's three queries, and queries that may only read. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "live/live_db.h"

#define T0 1765000000

struct host {
        const char *name, *addr;
        double load, requests, errors_502;
};

static const struct host web1 = { "web1", "10.0.1.1", 1.0, 100, 2 };
static const struct host web2 = { "web2", "10.0.1.2", 2.0, 50, 1 };
static const struct host web3 = { "web3", "10.0.1.3", 0.5, 10, 0 };
static const struct host db1 = { "db1", "10.0.2.1", 0.1, -1, 0 };

static struct nd_live *live_with_roles(void)
{
        static const char roles_text[] = "10.0.1.0/24 blog:web dc=tokyo1\n"
                                         "10.0.2.0/24 blog:db dc=osaka1\n";
        struct nd_link_policy p = ND_LINK_POLICY_DEFAULT;
        struct nd_role_rules roles = {};
        struct nd_live *live = NULL;
        char why[256];
        FILE *f = fmemopen((void *)roles_text, strlen(roles_text), "r");

        assert_int_equal(nd_role_rules_parse(f, &roles, why, sizeof(why)), 0);
        fclose(f);
        assert_int_equal(nd_live_new(&p, &live), 0);
        assert_int_equal(nd_live_set_roles(live, &roles), 0);
        nd_role_rules_done(&roles);
        return live;
}

/* A report from h: its probes of db1 (tcp 5432 and icmp) lost `lost` of 5. */
static void report(struct nd_live *live, const struct host *h, unsigned lost, unsigned refused, int64_t now)
{
        char addrs[1][ND_ADDR_TEXT_MAX];
        struct nd_link_result links[2] = {
                { "10.0.2.1", 5432, ND_LINK_TCP, 5, lost, refused, lost + refused < 5 ? 300 : -1,
                  lost + refused < 5 ? 800 : -1 },
                { "10.0.2.1", 0, ND_LINK_ICMP, 5, refused ? 0 : lost, 0, 100, 200 },
        };
        struct nd_report r = { .ts = now, .interval_s = 10, .addrs = addrs, .n_addrs = 1, .links = links,
                               .n_links = h == &db1 ? 0 : 2 };
        char why[256];

        snprintf(r.hostname, sizeof(r.hostname), "%s", h->name);
        snprintf(addrs[0], sizeof(addrs[0]), "%s", h->addr);
        r.indicators = (struct nd_report_indicators){ .has_load = true, .load = { h->load, h->load, h->load },
                                                      .nginx_requests_per_s = -1, .nginx_active = -1 };
        if (h->requests >= 0) {
                r.indicators.has_nginx = true;
                r.indicators.nginx_requests_per_s = h->requests;
                r.indicators.n_errors = 2;
                r.indicators.errors[0] = (struct nd_status_rate){ 404, 7 };
                r.indicators.errors[1] = (struct nd_status_rate){ 502, h->errors_502 };
        }
        if (r.links[1].lost == 5)
                r.links[1].rtt_p50_us = r.links[1].rtt_p99_us = -1;
        assert_int_equal(nd_live_apply(live, &r, now, why, sizeof(why)), 0);
}

static char *query(struct nd_live *live, const char *sql)
{
        struct nd_query_limits limits = ND_QUERY_LIMITS_DEFAULT;
        json_t *res = NULL;
        char why[256], *text;

        if (nd_live_query(live, sql, &limits, &res, why, sizeof(why)) < 0)
                fail_msg("%s: %s", sql, why);
        text = json_dumps(json_object_get(res, "rows"), JSON_COMPACT);
        json_decref(res);
        return text;
}

static void assert_query(struct nd_live *live, const char *sql, const char *rows)
{
        char *got = query(live, sql);
        if (strcmp(got, rows) != 0)
                fail_msg("%s\n  want %s\n  got  %s", sql, rows, got);
        free(got);
}

static void round_all(struct nd_live *live, unsigned lost_web1, unsigned lost_web2, int64_t now)
{
        report(live, &web1, lost_web1, 0, now);
        report(live, &web2, lost_web2, 0, now);
        report(live, &web3, 0, 0, now);
        report(live, &db1, 0, 0, now);
}

static void test_source_queries(void **state)
{
        struct nd_live *live = live_with_roles();

        round_all(live, 0, 0, T0);
        assert_query(live, "SELECT name, dc, role, links, state FROM hosts ORDER BY name",
                     "[[\"db1\",\"osaka1\",\"db\",0,\"ok\"],[\"web1\",\"tokyo1\",\"web\",2,\"ok\"],"
                     "[\"web2\",\"tokyo1\",\"web\",2,\"ok\"],[\"web3\",\"tokyo1\",\"web\",2,\"ok\"]]");
        /* Hosts by disconnects, after web1 lost db1 for three rounds. */
        for (int i = 1; i <= 3; i++)
                round_all(live, 5, 0, T0 + 10 * i);
        assert_query(live, "SELECT name, disconnects FROM hosts ORDER BY disconnects DESC, name LIMIT 2",
                     "[[\"web1\",1],[\"db1\",0]]");
        /* Request and error rates per datacenter; 404s are not errors. */
        assert_query(live,
                     "SELECT dc, sum(nginx_request_rate), sum(nginx_error_rate) FROM hosts GROUP BY dc ORDER BY dc",
                     "[[\"osaka1\",null,null],[\"tokyo1\",160.0,3.0]]");
        /* Load against error rate for one role. */
        assert_query(live, "SELECT name, load, nginx_error_rate FROM hosts WHERE role = 'web' ORDER BY load",
                     "[[\"web3\",0.5,0.0],[\"web1\",1.0,2.0],[\"web2\",2.0,1.0]]");
        assert_query(live, "SELECT status, rate FROM nginx_errors WHERE host = 'web1' ORDER BY status",
                     "[[404,7.0],[502,2.0]]");
        nd_live_free(live);
}

static void test_broken_needs_two_peers(void **state)
{
        struct nd_live *live = live_with_roles();
        struct nd_live_counts c;
        json_t *alerts = NULL;

        round_all(live, 0, 0, T0);
        /* web1 alone loses db1: its links are down, nobody is broken. */
        for (int i = 1; i <= 3; i++)
                round_all(live, 5, 0, T0 + 10 * i);
        assert_query(live, "SELECT src, kind, state, history FROM links WHERE state <> 'ok' ORDER BY src, kind",
                     "[[\"web1\",\"icmp\",\"down\",\".XXX\"],[\"web1\",\"tcp\",\"down\",\".XXX\"]]");
        nd_live_counts(live, &c);
        assert_int_equal(c.broken, 0);
        assert_int_equal(c.links_down, 2);
        /* web2 loses it too: db1 is broken, seen from two hosts. */
        for (int i = 4; i <= 6; i++)
                round_all(live, 5, 5, T0 + 10 * i);
        assert_query(live, "SELECT name, broken_peers FROM hosts WHERE broken = 1", "[[\"db1\",2]]");
        /* Back: five clean rounds, and db1 is ok again. */
        for (int i = 7; i <= 11; i++)
                round_all(live, 0, 0, T0 + 10 * i);
        nd_live_counts(live, &c);
        assert_int_equal(c.broken, 0);
        assert_int_equal(c.links_down, 0);

        assert_int_equal(nd_live_alerts(live, 0, 100, &alerts), 0);
        char *text = json_dumps(alerts, JSON_COMPACT);
        /* Edges only: each link down once and up once, db1 broken once. */
        assert_non_null(strstr(text, "\"subject\":\"web1 -> 10.0.2.1:5432 db1\",\"state\":\"down\""));
        assert_non_null(strstr(text, "\"kind\":\"host\",\"subject\":\"db1\",\"state\":\"broken\""));
        assert_non_null(strstr(text, "\"kind\":\"host\",\"subject\":\"db1\",\"state\":\"ok\""));
        assert_int_equal(json_array_size(json_object_get(alerts, "alerts")), 4 + 4 + 2);
        free(text);
        json_decref(alerts);
        nd_live_free(live);
}

static void test_refused_and_stale(void **state)
{
        struct nd_live *live = live_with_roles();
        json_t *alerts = NULL;
        int64_t last;

        for (int i = 0; i < 3; i++) {
                report(live, &web1, 0, 5, T0 + 10 * i);
                report(live, &db1, 0, 0, T0 + 10 * i);
        }
        assert_query(live, "SELECT kind, state, refused FROM links ORDER BY kind",
                     "[[\"icmp\",\"ok\",0],[\"tcp\",\"refused\",5]]");
        assert_int_equal(nd_live_alerts(live, 0, 100, &alerts), 0);
        last = json_integer_value(json_object_get(alerts, "last_seq"));
        json_decref(alerts);

        /* db1 keeps reporting; web1 goes quiet for 3 intervals. */
        assert_int_equal(nd_live_sweep(live, T0 + 20 + 25), 0);
        report(live, &db1, 0, 0, T0 + 50);
        assert_int_equal(nd_live_sweep(live, T0 + 20 + 31), 1);
        assert_query(live, "SELECT name, state FROM hosts WHERE stale = 1", "[[\"web1\",\"stale\"]]");
        assert_query(live, "SELECT DISTINCT state FROM links", "[[\"stale\"]]");
        assert_int_equal(nd_live_alerts(live, last, 100, &alerts), 0);
        assert_int_equal(json_array_size(json_object_get(alerts, "alerts")), 1);
        json_decref(alerts);
        /* It reports again: no longer stale. */
        report(live, &web1, 0, 0, T0 + 60);
        assert_query(live, "SELECT name, state FROM hosts WHERE name = 'web1'", "[[\"web1\",\"ok\"]]");
        /* Quiet for a day, db1 is forgotten; web1, which kept reporting, is not. */
        report(live, &web1, 0, 0, T0 + 60 + ND_LIVE_FORGET_S);
        assert_true(nd_live_sweep(live, T0 + 61 + ND_LIVE_FORGET_S) >= 0);
        assert_query(live, "SELECT name FROM hosts", "[[\"web1\"]]");
        assert_query(live, "SELECT count(*) FROM host_addrs WHERE host = 'db1'", "[[0]]");
        nd_live_free(live);
}

static void refused_query(struct nd_live *live, const char *sql, int want)
{
        struct nd_query_limits limits = ND_QUERY_LIMITS_DEFAULT;
        json_t *res = NULL;
        char why[256] = "";

        assert_int_equal(nd_live_query(live, sql, &limits, &res, why, sizeof(why)), want);
        assert_null(res);
        assert_true(why[0]);
}

static void test_read_only(void **state)
{
        struct nd_live *live = live_with_roles();
        struct nd_query_limits limits = { .time_ms = 1000, .max_rows = 2 };
        struct timespec t0, t1;
        json_t *res = NULL;
        char why[256];
        double s;

        round_all(live, 0, 0, T0);
        refused_query(live, "DROP TABLE hosts", -EPERM);
        refused_query(live, "DELETE FROM links", -EPERM);
        refused_query(live, "UPDATE hosts SET broken = 1", -EPERM);
        refused_query(live, "ATTACH DATABASE '/tmp/x.db' AS x", -EPERM);
        refused_query(live, "PRAGMA writable_schema = 1", -EPERM);
        refused_query(live, "PRAGMA table_info(hosts)", -EPERM);
        refused_query(live, "SELECT load_extension('/tmp/x.so')", -EPERM);
        refused_query(live, "CREATE TABLE t (x)", -EPERM);
        refused_query(live, "SELECT 1; DROP TABLE hosts", -EINVAL);
        refused_query(live, "SELEKT 1", -EINVAL);
        refused_query(live, "", -EINVAL);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        refused_query(live,
                      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
                      -ETIMEDOUT);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        assert_true(s >= 0.9 && s < 3.0);

        /* Nothing changed, and the row limit says it cut. */
        assert_int_equal(nd_live_query(live, "SELECT name FROM hosts", &limits, &res, why, sizeof(why)), 0);
        assert_int_equal(json_array_size(json_object_get(res, "rows")), 2);
        assert_true(json_is_true(json_object_get(res, "truncated")));
        json_decref(res);
        assert_query(live, "SELECT count(*) FROM hosts", "[[4]]");
        nd_live_free(live);
}

static void test_metrics_only_bad_links(void **state)
{
        struct nd_live *live = live_with_roles();
        char *text = NULL;
        size_t size = 0;
        FILE *out;

        for (int i = 0; i < 3; i++)
                round_all(live, 5, 0, T0 + 10 * i);
        out = open_memstream(&text, &size);
        assert_int_equal(nd_live_write_metrics(live, out), 0);
        fclose(out);
        assert_non_null(strstr(text, "netdep_live_host_links{host=\"web1\",state=\"down\"} 2\n"));
        assert_non_null(strstr(text, "netdep_live_host_loss_ratio{host=\"web1\"} 1\n"));
        assert_non_null(strstr(text, "netdep_live_host_rtt_seconds_count{host=\"web2\"} 2\n"));
        assert_non_null(strstr(text, "netdep_live_link_loss_ratio{src=\"web1\",dst=\"10.0.2.1\",port=\"5432\""));
        /* web2's links are ok: no series of their own. */
        assert_null(strstr(text, "netdep_live_link_loss_ratio{src=\"web2\""));
        free(text);
        nd_live_free(live);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_source_queries),
                cmocka_unit_test(test_broken_needs_two_peers),
                cmocka_unit_test(test_refused_and_stale),
                cmocka_unit_test(test_read_only),
                cmocka_unit_test(test_metrics_only_bad_links),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
