/* A flush as JSON and gzip: what goes over the wire comes back the same,
 * and what a server must refuse is refused with a reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/flush_json.h"
#include "shared/gzip.h"

static char *dup_strv(const char *s)
{
        char *d = strdup(s);
        assert_non_null(d);
        return d;
}

static struct nd_flush *sample(size_t n_rows)
{
        struct nd_flush *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->hostname = dup_strv("app1.example");
        f->ts = 1765000060;
        f->first_ts = 1765000000;
        f->addrs.n_addrs = 2;
        f->addrs.addrs = calloc(2, sizeof(char *));
        f->addrs.addrs[0] = dup_strv("10.0.0.21");
        f->addrs.addrs[1] = dup_strv("fd00::21");
        f->addrs.n_named = 1;
        f->addrs.named = calloc(1, sizeof(*f->addrs.named));
        f->addrs.named[0].name = dup_strv("vm1");
        f->addrs.named[0].n_addrs = 1;
        f->addrs.named[0].addrs = calloc(1, sizeof(char *));
        f->addrs.named[0].addrs[0] = dup_strv("10.1.0.2");
        f->rows = calloc(n_rows ? n_rows : 1, sizeof(*f->rows));
        f->n_rows = n_rows;
        for (size_t i = 0; i < n_rows; i++) {
                struct nd_edge_observation *o = &f->rows[i];
                snprintf(o->client.addr, sizeof(o->client.addr), "10.0.0.21");
                snprintf(o->client.process, sizeof(o->client.process), i % 2 ? "" : "psql");
                o->client.pgid = i % 2 ? -1 : 4242;
                snprintf(o->server.addr, sizeof(o->server.addr), "10.0.%zu.%zu", i / 250, i % 250);
                o->server.port = (uint16_t)(1 + i % 65535);
                snprintf(o->server.process, sizeof(o->server.process), "postgres");
                o->server.pgid = 77;
                o->side = i % 3 ? ND_SIDE_CLIENT : ND_SIDE_SERVER;
                o->connections = (uint32_t)i;
                o->opened = UINT32_MAX;
                o->failed = 3;
                o->rtt_us = 250;
                o->retrans = 1;
                o->bytes_sent = (uint64_t)INT64_MAX;
                o->bytes_received = 0;
                o->processes = 2;
        }
        return f;
}

static void assert_same(const struct nd_flush *a, const struct nd_flush *b)
{
        assert_string_equal(a->hostname, b->hostname);
        assert_int_equal(a->ts, b->ts);
        assert_int_equal(a->first_ts, b->first_ts);
        assert_int_equal(a->addrs.n_addrs, b->addrs.n_addrs);
        for (size_t i = 0; i < a->addrs.n_addrs; i++)
                assert_string_equal(a->addrs.addrs[i], b->addrs.addrs[i]);
        assert_int_equal(a->addrs.n_named, b->addrs.n_named);
        for (size_t i = 0; i < a->addrs.n_named; i++) {
                assert_string_equal(a->addrs.named[i].name, b->addrs.named[i].name);
                assert_int_equal(a->addrs.named[i].n_addrs, b->addrs.named[i].n_addrs);
                for (size_t k = 0; k < a->addrs.named[i].n_addrs; k++)
                        assert_string_equal(a->addrs.named[i].addrs[k], b->addrs.named[i].addrs[k]);
        }
        assert_int_equal(a->n_rows, b->n_rows);
        for (size_t i = 0; i < a->n_rows; i++)
                assert_memory_equal(&a->rows[i], &b->rows[i], sizeof(a->rows[i]));
}

static void test_round_trip(void **state)
{
        struct nd_flush *f = sample(500), *g = NULL;
        char *text, *back, why[200];
        uint8_t *gz;
        size_t size, gz_size, back_size;

        assert_int_equal(nd_flush_to_json(f, &text, &size), 0);
        assert_int_equal(nd_gzip(text, size, &gz, &gz_size), 0);
        assert_true(gz_size < size / 4);
        assert_int_equal(nd_gunzip(gz, gz_size, size, &back, &back_size), 0);
        assert_int_equal(back_size, size);
        assert_memory_equal(back, text, size);
        assert_int_equal(nd_flush_from_json(back, back_size, &g, why, sizeof(why)), 0);
        assert_same(f, g);

        /* One byte less room than it needs: refused, not truncated. */
        free(back);
        assert_int_equal(nd_gunzip(gz, gz_size, size - 1, &back, &back_size), -EFBIG);
        /* Cut short, or damaged: refused. */
        assert_int_equal(nd_gunzip(gz, gz_size - 9, size, &back, &back_size), -EBADMSG);
        assert_int_equal(nd_gunzip(gz, gz_size / 2, size, &back, &back_size), -EBADMSG);
        assert_int_equal(nd_gunzip(text, size, size, &back, &back_size), -EBADMSG);

        nd_flush_free(f);
        nd_flush_free(g);
        free(text);
        free(gz);
}

static void test_empty_flush(void **state)
{
        struct nd_flush *f = sample(0), *g = NULL;
        char *text, why[200];
        size_t size;

        assert_int_equal(nd_flush_to_json(f, &text, &size), 0);
        assert_int_equal(nd_flush_from_json(text, size, &g, why, sizeof(why)), 0);
        assert_same(f, g);
        nd_flush_free(f);
        nd_flush_free(g);
        free(text);
}

/* The text with the first occurrence of from replaced by to. */
static char *replaced(const char *text, const char *from, const char *to)
{
        const char *at = strstr(text, from);
        char *out;

        assert_non_null(at);
        out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
        assert_non_null(out);
        sprintf(out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
        return out;
}

static void assert_refused(const char *text, const char *reason)
{
        struct nd_flush *g = NULL;
        char why[300];

        assert_int_equal(nd_flush_from_json(text, strlen(text), &g, why, sizeof(why)), -EBADMSG);
        assert_null(g);
        if (!strstr(why, reason))
                fail_msg("refused with '%s', want '%s'", why, reason);
        assert_null(strchr(why, '\n'));
}

static void test_refusals(void **state)
{
        static const struct {
                const char *from, *to, *reason;
        } cases[] = {
                { "\"netdep_flush\":1", "\"netdep_flush\":2", "netdep_flush: 2 out of range" },
                { "\"netdep_flush\":1,", "", "missing field 'netdep_flush'" },
                { "\"hostname\":\"app1.example\"", "\"hostname\":\"\"", "hostname: want 1 to 255 bytes" },
                { "\"hostname\":\"app1.example\"", "\"hostname\":\"a\\nb\"", "hostname: want 1 to 255" },
                { "\"hostname\":\"app1.example\"", "\"hostname\":7", "hostname: want a string" },
                { "\"ts\":1765000060", "\"ts\":\"now\"", "ts: want an integer" },
                { "\"first_ts\":1765000000", "\"first_ts\":1765000061", "first_ts: 1765000061 out of range" },
                { "\"10.0.0.21\"", "\"10.0.0.256\"", "addrs[0]: '10.0.0.256' is not an IP address" },
                { "\"fd00::21\"", "\"FD00:0::21\"", "not in canonical form" },
                { "\"vm1\"", "\"\"", "namespaces[0].name" },
                { "\"edges\":[[", "\"extra\":1,\"edges\":[[", "unknown field 'extra'" },
                { "\"edges\":[[", "\"edges\":[[1,", "edges[0]: want an array of 16 fields" },
                { ",1,\"postgres\"", ",70000,\"postgres\"", "edges[0] server port: 70000 out of range 1..65535" },
                { ",1,\"postgres\"", ",0,\"postgres\"", "edges[0] server port: 0 out of range" },
                { "\"server\",0,", "\"both\",0,", "edges[0] side: want \"client\" or \"server\"" },
                { "\"server\",0,", "\"server\",-1,", "edges[0] connections: -1 out of range" },
                { "\"server\",0,", "\"server\",4294967296,", "edges[0] connections: 4294967296 out of range" },
                { "\"server\",0,", "\"server\",1.5,", "edges[0] connections: want an integer" },
                { "\"psql\",4242", "\"psql-with-a-long-name\",4242", "edges[0] client process: want 0 to 15" },
                { "\"psql\",4242", "\"psql\",-2", "edges[0] client pgid: -2 out of range" },
                { "{", "[", "invalid JSON" },
                { "\"hostname\":\"app1.example\"", "\"hostname\":\"app1.example\",\"hostname\":\"x\"",
                  "invalid JSON" },
        };
        struct nd_flush *f = sample(1);
        char *text;
        size_t size;

        assert_int_equal(nd_flush_to_json(f, &text, &size), 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *bad = replaced(text, cases[i].from, cases[i].to);
                assert_refused(bad, cases[i].reason);
                free(bad);
        }
        assert_refused("", "invalid JSON");
        assert_refused("[]", "want a JSON object");
        assert_refused("{\"netdep_flush\":1}", "missing field 'hostname'");
        nd_flush_free(f);
        free(text);
}

static void test_split(void **state)
{
        struct nd_flush *f = sample(10), **parts = NULL, *whole = sample(10);
        size_t n = 0;

        assert_int_equal(nd_flush_split(f, 4, &parts, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(parts[0]->n_rows, 4);
        assert_int_equal(parts[1]->n_rows, 4);
        assert_int_equal(parts[2]->n_rows, 2);
        assert_int_equal(parts[0]->addrs.n_addrs, 2);
        assert_int_equal(parts[1]->addrs.n_addrs, 0);
        assert_int_equal(parts[2]->addrs.n_named, 0);
        for (size_t i = 0; i < 10; i++)
                assert_memory_equal(&parts[i / 4]->rows[i % 4], &whole->rows[i], sizeof(whole->rows[i]));
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(parts[i]->hostname, "app1.example");
                assert_int_equal(parts[i]->ts, whole->ts);
                nd_flush_free(parts[i]);
        }
        free(parts);
        nd_flush_free(whole);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_empty_flush),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_split),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
