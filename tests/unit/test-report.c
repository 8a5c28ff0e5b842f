/* A probe report as JSON: what an agent posts comes back the same, and
 * what serve must refuse is refused with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "live/report.h"

static void test_round_trip(void **state)
{
        struct nd_link_result links[] = {
                { "10.0.0.5", 5432, ND_LINK_TCP, 5, 1, 0, 250, 900 },
                { "fd00::5", 0, ND_LINK_ICMP, 5, 5, 0, -1, -1 },
        };
        char addrs[1][ND_ADDR_TEXT_MAX] = { "10.0.0.21" };
        struct nd_report in = {
                .hostname = "app1", .ts = 1765000000, .interval_s = 30, .addrs = addrs, .n_addrs = 1,
                .indicators = { .has_load = true, .load = { 0.5, 0.25, 0.125 }, .has_cpu = true, .cpu = 0.5,
                                .has_nginx = true, .nginx_requests_per_s = 120.5, .nginx_active = 3, .n_errors = 2,
                                .errors = { { 404, 0.5 }, { 502, 0.25 } } },
                .links = links, .n_links = 2,
        };
        struct nd_report *out = NULL;
        char *json, why[256];
        size_t size;

        assert_int_equal(nd_report_to_json(&in, &json, &size), 0);
        assert_int_equal(nd_report_from_json(json, size, &out, why, sizeof(why)), 0);
        assert_string_equal(out->hostname, "app1");
        assert_int_equal(out->ts, 1765000000);
        assert_int_equal(out->interval_s, 30);
        assert_int_equal(out->n_addrs, 1);
        assert_string_equal(out->addrs[0], "10.0.0.21");
        assert_int_equal(out->n_links, 2);
        assert_memory_equal(&out->links[0], &links[0], sizeof(links[0]));
        assert_memory_equal(&out->links[1], &links[1], sizeof(links[1]));
        assert_true(out->indicators.has_load && out->indicators.has_cpu && out->indicators.has_nginx);
        assert_true(out->indicators.load[2] == 0.125);
        assert_int_equal(out->indicators.nginx_active, 3);
        assert_int_equal(out->indicators.n_errors, 2);
        /* 404s are not the service's errors; 502s are. */
        assert_true(nd_report_error_rate(&out->indicators) == 0.25);
        nd_report_free(out);
        free(json);
}

static void refused(const char *json, const char *reason)
{
        struct nd_report *r = NULL;
        char why[256];

        assert_int_equal(nd_report_from_json(json, strlen(json), &r, why, sizeof(why)), -EBADMSG);
        assert_null(r);
        if (!strstr(why, reason))
                fail_msg("'%s': want a reason with '%s', got '%s'", json, reason, why);
}

#define HEAD "{\"netdep_report\":1,\"hostname\":\"a\",\"ts\":1765000000,\"interval_s\":30,\"addrs\":[],"

static void test_refusals(void **state)
{
        refused("{", "invalid JSON");
        refused("[]", "want a JSON object");
        refused("{\"netdep_flush\":1}", "unknown field");
        refused("{\"hostname\":\"a\"}", "not a netdep probe report");
        refused(HEAD "\"links\":[], \"x\":1}", "unknown field 'x'");
        refused("{\"netdep_report\":1,\"hostname\":\"a\",\"ts\":1765000000,\"addrs\":[],\"links\":[]}",
                "missing field 'interval_s'");
        refused(HEAD "\"links\":[[\"10.0.0.5\",70000,\"tcp\",5,0,0,1,2]]}", "out of range 0..65535");
        refused(HEAD "\"links\":[[\"10.0.0.5\",80,\"udp\",5,0,0,1,2]]}", "want \"tcp\" or \"icmp\"");
        refused(HEAD "\"links\":[[\"10.0.0.5\",80,\"icmp\",5,0,0,1,2]]}", "icmp link port 0");
        refused(HEAD "\"links\":[[\"10.0.0.5\",80,\"tcp\",5,4,2,1,2]]}", "lost 4 and refused 2 of 5 sent");
        refused(HEAD "\"links\":[[\"10.0.0.5\",80,\"tcp\",5,0,0,9,2]]}", "above p99");
        refused(HEAD "\"links\":[[\"10.00.0.5\",80,\"tcp\",5,0,0,1,2]]}", "not an IP address");
        refused(HEAD "\"links\":[[\"::FFFF:10.0.0.5\",80,\"tcp\",5,0,0,1,2]]}", "canonical form");
        refused(HEAD "\"links\":[], \"indicators\":{\"cpu\":2}}", "indicators.cpu");
        refused(HEAD "\"links\":[], \"indicators\":{\"load\":[1,2]}}", "indicators.load");
        refused(HEAD "\"links\":[], \"indicators\":{\"nginx\":{\"errors_per_s\":{\"200\":1}}}}", "HTTP status");
        refused(HEAD "\"links\":[], \"indicators\":{\"nginx\":{\"requests_per_s\":-1}}}", "out of range");
        refused(HEAD "\"links\":[], \"indicators\":{\"nginx\":{\"errors_per_s\":{\"0404\":1}}}}", "HTTP status");
        refused("{\"netdep_report\":2,\"hostname\":\"a\"}", "netdep_report");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
