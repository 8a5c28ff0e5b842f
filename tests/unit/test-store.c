/* The store contract, run against whichever back end $ND_TEST_STORE names
 * (meson runs it once on SQLite and once on a real PostgreSQL): both must
 * behave the same. The store must be empty (no schema) at the start. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static const char *store_uri(void)
{
        const char *uri = getenv("ND_TEST_STORE");

        if (!uri)
                fail_msg("ND_TEST_STORE is not set");
        return uri;
}

static struct nd_store *open_store(unsigned flags)
{
        struct nd_store *s = NULL;
        char err[512];
        int r = nd_store_open(store_uri(), flags, &s, err, sizeof(err));

        if (r < 0)
                fail_msg("open %s: %s", store_uri(), err);
        return s;
}

static struct nd_edge_observation obs(enum nd_edge_side side, const char *caddr, const char *cproc,
                                      const char *saddr, uint16_t port, const char *sproc, uint32_t conns)
{
        struct nd_edge_observation o = { .side = side, .connections = conns, .rtt_us = 100 };

        snprintf(o.client.addr, sizeof(o.client.addr), "%s", caddr);
        snprintf(o.client.process, sizeof(o.client.process), "%s", cproc);
        o.client.pgid = 10;
        snprintf(o.server.addr, sizeof(o.server.addr), "%s", saddr);
        o.server.port = port;
        snprintf(o.server.process, sizeof(o.server.process), "%s", sproc);
        o.server.pgid = 20;
        return o;
}

static void ingest(struct nd_store *s, int64_t ts, const char *host, const char *addr,
                   const struct nd_edge_observation *rows, size_t n)
{
        const char *addrs[] = { addr };
        struct nd_ingest in = {
                .hostname = host, .host_addrs = addrs, .n_host_addrs = 1,
                .ts = ts, .first_ts = ts - 10, .rows = rows, .n_rows = n,
        };
        int r = nd_store_ingest(s, &in);

        if (r < 0)
                fail_msg("ingest: %s", nd_store_last_error(s));
}

static void query(struct nd_store *s, enum nd_edge_match m, const char *addr, int64_t since, int64_t until,
                  struct nd_edge_list *out)
{
        const char *addrs[] = { addr };
        struct nd_edge_query q = { .match = m, .addrs = addrs, .n_addrs = 1, .range = { since, until } };

        *out = (struct nd_edge_list){};
        if (nd_store_edges(s, &q, out) < 0)
                fail_msg("edges: %s", nd_store_last_error(s));
}

static const struct nd_edge *find(const struct nd_edge_list *l, const char *caddr, const char *cproc,
                                  const char *saddr, uint16_t port)
{
        for (size_t i = 0; i < l->n; i++)
                if (!strcmp(l->items[i].client.addr, caddr) && !strcmp(l->items[i].client.process, cproc) &&
                    !strcmp(l->items[i].server.addr, saddr) && l->items[i].server.port == port)
                        return &l->items[i];
        return NULL;
}

/* A back end's open that fails leaves *ret alone and says why in errbuf.
 * Needs no store: a missing SQLite file, a malformed PostgreSQL URI. */
static void test_open_failure(void **state)
{
        char dir[] = "/tmp/nd-store-XXXXXX", path[64], uri[80], err[512] = "", cmd[128];
        struct nd_store marker = {}, *s = &marker;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/missing.db", dir);
        snprintf(uri, sizeof(uri), "sqlite:%s", path);

        assert_int_equal(nd_store_sqlite_ops.open(uri, 0, &s, err, sizeof(err)), -ENOENT);
        assert_ptr_equal(s, &marker);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "netdep db migrate"));
        err[0] = 0;
        assert_int_equal(nd_store_open(uri, 0, &s, err, sizeof(err)), -ENOENT);
        assert_ptr_equal(s, &marker);
        assert_non_null(strstr(err, "cannot open"));
        assert_int_equal(access(path, F_OK), -1); /* not created */

        err[0] = 0;
        assert_int_equal(nd_store_sqlite_ops.open("sqlite:", 0, &s, err, sizeof(err)), -EINVAL);
        assert_ptr_equal(s, &marker);
        assert_string_equal(err, "empty SQLite path");

        /* libpq refuses the URI before any connection (or cannot be
         * loaded: then that is the text). */
        err[0] = 0;
        assert_true(nd_store_postgres_ops.open("postgresql://localhost/netdep?no_such_option=1", 0, &s, err,
                                               sizeof(err)) < 0);
        assert_ptr_equal(s, &marker);
        assert_true(strstr(err, "invalid PostgreSQL URI") || strstr(err, "libpq"));

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

/* Runs first: the empty store, then migrations. */
static void test_schema_lifecycle(void **state)
{
        struct nd_store *s = open_store(ND_STORE_CREATE);
        int version = -1;

        assert_int_equal(nd_store_schema_version(s, &version), 0);
        assert_int_equal(version, 0);
        assert_int_equal(nd_store_check_schema(s), -ENOMEDIUM);
        assert_non_null(strstr(nd_store_last_error(s), "netdep db migrate"));

        assert_int_equal(nd_store_migrate(s), 0);
        assert_int_equal(nd_store_migrate(s), 0); /* idempotent */
        assert_int_equal(nd_store_schema_version(s, &version), 0);
        assert_int_equal(version, ND_SCHEMA_VERSION);
        assert_int_equal(nd_store_check_schema(s), 0);
        nd_store_close(s);
}

static void test_ingest_and_merge(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_edge_list l;
        const struct nd_edge *e;
        const int64_t t = 1800000000;

        /* The client's agent: app on 10.0.0.2 uses 10.0.0.1:5432. */
        struct nd_edge_observation client_rows[] = {
                obs(ND_SIDE_CLIENT, "10.0.0.2", "app", "10.0.0.1", 5432, "", 4),
                obs(ND_SIDE_CLIENT, "10.0.0.2", "cron", "10.0.0.1", 5432, "", 1),
        };
        /* The server's agent: postgres on 10.0.0.1:5432, used by 10.0.0.2
         * (process unknown to it) and by 10.0.0.3, which runs no agent. */
        struct nd_edge_observation server_rows[] = {
                obs(ND_SIDE_SERVER, "10.0.0.2", "", "10.0.0.1", 5432, "postgres", 5),
                obs(ND_SIDE_SERVER, "10.0.0.3", "", "10.0.0.1", 5432, "postgres", 2),
        };
        ingest(s, t, "cli", "10.0.0.2", client_rows, 2);
        ingest(s, t, "db", "10.0.0.1", server_rows, 2);

        query(s, ND_MATCH_SERVER_ADDR, "10.0.0.1", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 4);
        e = find(&l, "10.0.0.2", "app", "10.0.0.1", 5432);
        assert_non_null(e);
        assert_int_equal(e->connections, 4);
        /* The server's process comes from the server's own agent. */
        assert_string_equal(e->server.process, "postgres");
        assert_int_equal(e->server.pgid, 20);
        assert_int_equal(e->client.pgid, 10);
        assert_int_equal(e->sides, ND_SIDE_CLIENT);
        assert_int_equal(e->first_seen, t - 10);
        assert_int_equal(e->last_seen, t);
        e = find(&l, "10.0.0.3", "", "10.0.0.1", 5432);
        assert_non_null(e);
        assert_int_equal(e->connections, 2);
        assert_int_equal(e->sides, ND_SIDE_SERVER);
        assert_non_null(find(&l, "10.0.0.2", "", "10.0.0.1", 5432));
        nd_edge_list_done(&l);

        /* The same edges from the client's point of view. */
        query(s, ND_MATCH_CLIENT_ADDR, "10.0.0.2", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 3);
        nd_edge_list_done(&l);

        /* A later flush updates counts and last_seen, keeps first_seen. */
        client_rows[0].connections = 7;
        ingest(s, t + 120, "cli", "10.0.0.2", client_rows, 1);
        query(s, ND_MATCH_CLIENT_ADDR, "10.0.0.2", INT64_MIN, INT64_MAX, &l);
        e = find(&l, "10.0.0.2", "app", "10.0.0.1", 5432);
        assert_non_null(e);
        assert_int_equal(e->connections, 7);
        assert_int_equal(e->first_seen, t - 10);
        assert_int_equal(e->last_seen, t + 120);
        nd_edge_list_done(&l);

        /* A late, older flush does not move last_seen or the count back. */
        client_rows[0].connections = 1;
        ingest(s, t + 60, "cli", "10.0.0.2", client_rows, 1);
        query(s, ND_MATCH_CLIENT_ADDR, "10.0.0.2", INT64_MIN, INT64_MAX, &l);
        e = find(&l, "10.0.0.2", "app", "10.0.0.1", 5432);
        assert_int_equal(e->connections, 7);
        assert_int_equal(e->last_seen, t + 120);
        nd_edge_list_done(&l);
        nd_store_close(s);
}

/* Streaming mode's counts: connections opened and failed connects add up
 * over flushes, in the edge's life and per bucket; where both agents report
 * one edge (the client's process unknown to its own agent) the same
 * connections are not counted twice. */
static void test_opened_and_failed(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_edge_list l;
        const struct nd_edge *e;
        const int64_t t = 1800003000; /* a bucket boundary */

        struct nd_edge_observation rows[] = {
                obs(ND_SIDE_CLIENT, "10.9.0.2", "curl", "10.9.0.1", 80, "", 0),
                obs(ND_SIDE_CLIENT, "10.9.0.2", "curl", "10.9.0.1", 81, "", 0),
                obs(ND_SIDE_CLIENT, "10.9.0.2", "", "10.9.0.1", 82, "", 1),
        };
        rows[0].opened = 1500;
        rows[1].failed = 60;
        rows[2].opened = 30;
        ingest(s, t + 10, "c", "10.9.0.2", rows, 3);
        rows[0].opened = 500;
        rows[1].failed = 40;
        rows[2].opened = 0;
        ingest(s, t + 20, "c", "10.9.0.2", rows, 3);
        struct nd_edge_observation server_row = obs(ND_SIDE_SERVER, "10.9.0.2", "", "10.9.0.1", 82, "nginx", 1);
        server_row.opened = 30;
        ingest(s, t + 20, "s", "10.9.0.1", &server_row, 1);
        /* A later bucket. */
        rows[0].opened = 7;
        rows[1].failed = 0;
        ingest(s, t + 130, "c", "10.9.0.2", rows, 2);

        query(s, ND_MATCH_CLIENT_ADDR, "10.9.0.2", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 3);
        e = find(&l, "10.9.0.2", "curl", "10.9.0.1", 80);
        assert_non_null(e);
        assert_int_equal(e->opened, 2007);
        assert_int_equal(e->failed, 0);
        assert_int_equal(e->connections, 0);
        e = find(&l, "10.9.0.2", "curl", "10.9.0.1", 81);
        assert_non_null(e);
        assert_int_equal(e->failed, 100);
        assert_int_equal(e->opened, 0);
        e = find(&l, "10.9.0.2", "", "10.9.0.1", 82);
        assert_non_null(e);
        assert_int_equal(e->opened, 30);
        assert_int_equal(e->sides, ND_SIDE_CLIENT | ND_SIDE_SERVER);
        nd_edge_list_done(&l);

        /* The first bucket only. */
        query(s, ND_MATCH_CLIENT_ADDR, "10.9.0.2", t, t + 59, &l);
        e = find(&l, "10.9.0.2", "curl", "10.9.0.1", 80);
        assert_non_null(e);
        assert_int_equal(e->opened, 2000);
        e = find(&l, "10.9.0.2", "curl", "10.9.0.1", 81);
        assert_non_null(e);
        assert_int_equal(e->failed, 100);
        e = find(&l, "10.9.0.2", "", "10.9.0.1", 82);
        assert_non_null(e);
        assert_int_equal(e->opened, 30);
        nd_edge_list_done(&l);
        nd_store_close(s);
}

static void test_time_ranges(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_edge_list l;
        const int64_t t = 1800100000; /* a multiple of 60 plus 40 */
        struct nd_edge_observation early = obs(ND_SIDE_CLIENT, "10.1.0.2", "old", "10.1.0.1", 80, "", 3);
        struct nd_edge_observation late = obs(ND_SIDE_CLIENT, "10.1.0.2", "new", "10.1.0.1", 80, "", 5);

        ingest(s, t, "h", "10.1.0.2", &early, 1);
        early.connections = 9;
        ingest(s, t + 30, "h", "10.1.0.2", &early, 1);
        ingest(s, t + 3600, "h", "10.1.0.2", &late, 1);

        /* Only the first hour: the edge that existed only then. */
        query(s, ND_MATCH_CLIENT_ADDR, "10.1.0.2", t - 60, t + 600, &l);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.items[0].client.process, "old");
        assert_int_equal(l.items[0].connections, 9); /* the most seen in range */
        nd_edge_list_done(&l);

        /* Only the later range. */
        query(s, ND_MATCH_CLIENT_ADDR, "10.1.0.2", t + 3000, t + 4000, &l);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.items[0].client.process, "new");
        nd_edge_list_done(&l);

        /* A range between them has nothing; a range covering both has both. */
        query(s, ND_MATCH_CLIENT_ADDR, "10.1.0.2", t + 600, t + 1200, &l);
        assert_int_equal(l.n, 0);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_CLIENT_ADDR, "10.1.0.2", t - 100, t + 5000, &l);
        assert_int_equal(l.n, 2);
        nd_edge_list_done(&l);

        /* Retention: drop what is older than t + 1800. */
        assert_true(nd_store_prune(s, t + 1800) >= 1);
        query(s, ND_MATCH_CLIENT_ADDR, "10.1.0.2", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.items[0].client.process, "new");
        nd_edge_list_done(&l);
        nd_store_close(s);
}

/* Observations are kept per bucket, but a range is exact: an edge first
 * seen after its end, or last seen before its start, is not in it even
 * where its bucket overlaps the range. */
static void test_time_range_is_exact(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_edge_list l;
        const int64_t t = 1800300000; /* a bucket boundary */
        struct nd_edge_observation row = obs(ND_SIDE_CLIENT, "10.5.0.2", "nc", "10.5.0.1", 80, "", 1);

        /* Seen from t + 39 (the flush's first snapshot) to t + 49. */
        ingest(s, t + 49, "h", "10.5.0.2", &row, 1);

        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.2", t, t + 30, &l);
        assert_int_equal(l.n, 0); /* first seen after the range */
        nd_edge_list_done(&l);
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.2", t + 50, t + 59, &l);
        assert_int_equal(l.n, 0); /* last seen before it */
        nd_edge_list_done(&l);
        query(s, ND_MATCH_SERVER_ADDR, "10.5.0.1", t + 55, t + 120, &l);
        assert_int_equal(l.n, 0);
        nd_edge_list_done(&l);

        /* Its ends are in. */
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.2", t, t + 39, &l);
        assert_int_equal(l.n, 1);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_SERVER_ADDR, "10.5.0.1", t + 49, t + 100, &l);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.items[0].connections, 1);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.2", INT64_MIN, t + 40, &l);
        assert_int_equal(l.n, 1);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.2", t + 45, INT64_MAX, &l);
        assert_int_equal(l.n, 1);
        nd_edge_list_done(&l);
        nd_store_close(s);
}

/* Two processes of one name on one host are one client endpoint; the
 * edge says how many it stood for, and each edge of the endpoint names the
 * pgid its own client reported, not the endpoint's latest. */
static void test_client_processes(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_edge_list l;
        const struct nd_edge *e;
        const int64_t t = 1800400000;
        struct nd_edge_observation rows[] = {
                obs(ND_SIDE_CLIENT, "10.6.0.2", "nc", "10.6.0.1", 80, "", 2),
                obs(ND_SIDE_CLIENT, "10.6.0.2", "nc", "10.6.0.3", 443, "", 1),
        };
        struct nd_edge_observation server_row = obs(ND_SIDE_SERVER, "10.6.0.2", "", "10.6.0.1", 80, "httpd", 2);

        rows[0].client.pgid = 100;
        rows[0].processes = 2;
        rows[1].client.pgid = 200;
        rows[1].processes = 1;
        ingest(s, t, "c", "10.6.0.2", rows, 2);
        ingest(s, t, "s", "10.6.0.1", &server_row, 1);

        query(s, ND_MATCH_CLIENT_ADDR, "10.6.0.2", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 3);
        e = find(&l, "10.6.0.2", "nc", "10.6.0.1", 80);
        assert_non_null(e);
        assert_int_equal(e->client.pgid, 100); /* the endpoint's is 200 */
        assert_int_equal(e->client_processes, 2);
        e = find(&l, "10.6.0.2", "nc", "10.6.0.3", 443);
        assert_non_null(e);
        assert_int_equal(e->client.pgid, 200);
        assert_int_equal(e->client_processes, 1);
        e = find(&l, "10.6.0.2", "", "10.6.0.1", 80); /* the server's view: nobody's */
        assert_non_null(e);
        assert_int_equal(e->client.pgid, -1);
        assert_int_equal(e->client_processes, 0);
        nd_edge_list_done(&l);

        /* Later flushes of edges known by now: the last report wins, a
         * flush of the other edge leaves it alone, a row of two processes
         * of one edge in one flush leaves the last one's. */
        rows[0].client.pgid = 300;
        rows[0].processes = 1;
        ingest(s, t + 60, "c", "10.6.0.2", rows, 1);
        rows[1].processes = 3;
        rows[1].client.pgid = 250;
        struct nd_edge_observation twice[] = { rows[1], rows[1] };
        twice[1].client.pgid = 260;
        ingest(s, t + 120, "c", "10.6.0.2", twice, 2);

        query(s, ND_MATCH_CLIENT_ADDR, "10.6.0.2", t + 30, t + 200, &l);
        assert_int_equal(l.n, 2);
        e = find(&l, "10.6.0.2", "nc", "10.6.0.1", 80);
        assert_non_null(e);
        assert_int_equal(e->client.pgid, 300);
        assert_int_equal(e->client_processes, 1);
        e = find(&l, "10.6.0.2", "nc", "10.6.0.3", 443);
        assert_non_null(e);
        assert_int_equal(e->client.pgid, 260);
        assert_int_equal(e->client_processes, 3);
        nd_edge_list_done(&l);

        /* Nothing of its endpoints changed: PostgreSQL updates the edge by
         * the id its connection knows. */
        twice[1].processes = 5;
        ingest(s, t + 150, "c", "10.6.0.2", &twice[1], 1);

        /* A new edge of the endpoint, from another handle (nothing known). */
        struct nd_store *other = open_store(0);
        struct nd_edge_observation fresh = obs(ND_SIDE_CLIENT, "10.6.0.2", "nc", "10.6.0.4", 22, "", 1);
        fresh.client.pgid = 400;
        fresh.processes = 4;
        ingest(other, t + 180, "c", "10.6.0.2", &fresh, 1);
        nd_store_close(other);
        query(s, ND_MATCH_SERVER_ADDR, "10.6.0.4", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.items[0].client.pgid, 400);
        assert_int_equal(l.items[0].client_processes, 4);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_SERVER_ADDR, "10.6.0.3", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.items[0].client.pgid, 260); /* the endpoint's is 400 now */
        assert_int_equal(l.items[0].client_processes, 5);
        nd_edge_list_done(&l);
        nd_store_close(s);
}

static void test_many_addresses_one_query(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_edge_observation rows[200];
        const char *addrs[200];
        char names[200][32];
        struct nd_edge_list l = {};

        for (int i = 0; i < 200; i++) {
                snprintf(names[i], sizeof(names[i]), "10.2.%d.%d", i / 100, i % 100);
                rows[i] = obs(ND_SIDE_SERVER, "10.3.0.1", "", names[i], 443, "nginx", 1);
                addrs[i] = names[i];
        }
        ingest(s, 1800200000, "lb", "10.3.0.1", rows, 200);
        struct nd_edge_query q = { ND_MATCH_SERVER_ADDR, addrs, 200, { INT64_MIN, INT64_MAX } };
        assert_int_equal(nd_store_edges(s, &q, &l), 0);
        assert_int_equal(l.n, 200);
        nd_edge_list_done(&l);
        nd_store_close(s);
}

struct scanned {
        struct nd_edge_list edges;
        size_t groups; /* runs of one server endpoint */
};

static int on_scanned(const struct nd_edge *e, void *userdata)
{
        struct scanned *sc = userdata;

        if (sc->edges.n == 0 || strcmp(sc->edges.items[sc->edges.n - 1].server.addr, e->server.addr) != 0 ||
            sc->edges.items[sc->edges.n - 1].server.port != e->server.port)
                sc->groups++;
        return nd_edge_list_push(&sc->edges, e);
}

/* A scan of the whole store gives every edge once, the edges of one server
 * endpoint together, each as a query by address gives it; a range keeps
 * only what was seen in it. */
static void test_scan_edges(void **state)
{
        struct nd_store *s = open_store(0);
        int64_t t = 1800300000;
        const struct nd_edge_observation a[] = {
                obs(ND_SIDE_CLIENT, "10.4.0.1", "curl", "10.4.0.9", 80, "", 1),
                obs(ND_SIDE_CLIENT, "10.4.0.1", "curl", "10.4.0.8", 443, "", 2),
                obs(ND_SIDE_CLIENT, "10.4.0.2", "wget", "10.4.0.9", 80, "", 3),
        };
        const struct nd_edge_observation b[] = {
                obs(ND_SIDE_SERVER, "10.4.0.1", "", "10.4.0.9", 80, "nginx", 1),
                obs(ND_SIDE_CLIENT, "10.4.0.9", "app", "10.4.0.8", 443, "", 4),
        };
        struct scanned sc = {}, ranged = {};
        size_t mine = 0, groups_of_mine = 0;
        const char *last = "";
        uint16_t last_port = 0;

        ingest(s, t, "c", "10.4.0.1", a, 3);
        ingest(s, t + 600, "srv", "10.4.0.9", b, 2);
        assert_int_equal(nd_store_scan_edges(s, &(struct nd_time_range){ INT64_MIN, INT64_MAX }, on_scanned, &sc), 0);
        for (size_t i = 0; i < sc.edges.n; i++) {
                const struct nd_edge *e = &sc.edges.items[i];
                if (strncmp(e->server.addr, "10.4.0.", 7) != 0)
                        continue; /* another test's */
                mine++;
                if (strcmp(e->server.addr, last) != 0 || e->server.port != last_port)
                        groups_of_mine++;
                last = e->server.addr;
                last_port = e->server.port;
                for (size_t k = 0; k < i; k++)
                        assert_false(sc.edges.items[k].id == e->id);
        }
        assert_int_equal(mine, 5);
        assert_int_equal(groups_of_mine, 2); /* 10.4.0.8:443 and 10.4.0.9:80, each in one run */
        const struct nd_edge *e = find(&sc.edges, "10.4.0.2", "wget", "10.4.0.9", 80);
        assert_non_null(e);
        assert_int_equal(e->connections, 3);
        assert_string_equal(find(&sc.edges, "10.4.0.1", "", "10.4.0.9", 80)->server.process, "nginx");

        /* Only the later flush's edges are in its minute. */
        assert_int_equal(nd_store_scan_edges(s, &(struct nd_time_range){ t + 590, t + 610 }, on_scanned, &ranged), 0);
        assert_non_null(find(&ranged.edges, "10.4.0.9", "app", "10.4.0.8", 443));
        assert_null(find(&ranged.edges, "10.4.0.2", "wget", "10.4.0.9", 80));
        nd_edge_list_done(&sc.edges);
        nd_edge_list_done(&ranged.edges);
        nd_store_close(s);
}

/* A ranged query says in how many minutes (buckets) of the range the
 * edge was seen. */
static void test_buckets_in_range(void **state)
{
        struct nd_store *s = open_store(0);
        int64_t t = 1800400040; /* 20 s into a bucket */
        const struct nd_edge_observation row[] = { obs(ND_SIDE_CLIENT, "10.5.0.1", "poll", "10.5.0.2", 80, "", 1) };
        struct nd_edge_list l;

        ingest(s, t, "p", "10.5.0.1", row, 1);
        ingest(s, t + 60, "p", "10.5.0.1", row, 1);
        ingest(s, t + 180, "p", "10.5.0.1", row, 1); /* a minute missed */
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.1", t - 20, t + 200, &l);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.items[0].buckets, 3);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.1", t + 100, t + 200, &l);
        assert_int_equal(l.items[0].buckets, 1);
        nd_edge_list_done(&l);
        query(s, ND_MATCH_CLIENT_ADDR, "10.5.0.1", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.items[0].buckets, 0);
        nd_edge_list_done(&l);
        nd_store_close(s);
}

/* Hostnames of a few addresses: those an agent reported, no others. */
static void test_hosts_of(void **state)
{
        struct nd_store *s = open_store(0);
        const char *addrs[] = { "10.6.0.1", "10.6.0.2", "10.6.0.9" };
        const struct nd_edge_observation row[] = { obs(ND_SIDE_CLIENT, "10.6.0.1", "x", "10.6.0.9", 80, "", 1) };
        struct nd_host_list hosts = {};

        ingest(s, 1800500000, "six-one", "10.6.0.1", row, 1);
        ingest(s, 1800500000, "six-two", "10.6.0.2", row, 1);
        assert_int_equal(nd_store_hosts_of(s, addrs, 3, &hosts), 0);
        assert_int_equal(hosts.n, 2);
        assert_string_equal(hosts.items[0].addr, "10.6.0.1");
        assert_string_equal(hosts.items[0].hostname, "six-one");
        assert_string_equal(hosts.items[1].hostname, "six-two");
        nd_host_list_done(&hosts);
        nd_store_close(s);
}

/* The links a host uses: the servers its own agent saw it reach. A
 * server's agent seeing the same client (probes of its port, say) keeps
 * last_seen fresh but not the client's own view. */
static void test_servers_used(void **state)
{
        struct nd_store *s = open_store(0);
        const char *client[] = { "10.7.0.1" };
        const struct nd_edge_observation used[] = {
                obs(ND_SIDE_CLIENT, "10.7.0.1", "app", "10.7.0.9", 5432, "", 1),
                obs(ND_SIDE_CLIENT, "10.7.0.1", "app", "10.7.0.8", 6379, "", 1),
        };
        const struct nd_edge_observation seen_by_server[] = {
                obs(ND_SIDE_SERVER, "10.7.0.1", "", "10.7.0.9", 5432, "postgres", 1),
                obs(ND_SIDE_SERVER, "10.7.0.1", "", "10.7.0.7", 443, "nginx", 1),
        };
        struct nd_server_list servers = {};

        ingest(s, 1800600000, "seven-one", "10.7.0.1", used, 2);
        ingest(s, 1800600000 + 3600, "seven-nine", "10.7.0.9", seen_by_server, 2);

        assert_int_equal(nd_store_servers_used(s, client, 1, 1800600000 - 60, &servers), 0);
        assert_int_equal(servers.n, 2);
        assert_string_equal(servers.items[0].addr, "10.7.0.8");
        assert_int_equal(servers.items[0].port, 6379);
        assert_string_equal(servers.items[1].addr, "10.7.0.9");
        assert_int_equal(servers.items[1].port, 5432);
        nd_server_list_done(&servers);

        /* An hour on, only the server saw the client: no link is in use. */
        assert_int_equal(nd_store_servers_used(s, client, 1, 1800600000 + 1800, &servers), 0);
        assert_int_equal(servers.n, 0);
        nd_server_list_done(&servers);
        nd_store_close(s);
}

static void test_hosts_and_roles(void **state)
{
        struct nd_store *s = open_store(0);
        struct nd_host_list hosts = {};
        struct nd_role_rules rules = {}, loaded = {};
        struct nd_role_rule rule;
        char why[256];
        bool found = false;

        assert_int_equal(nd_store_hosts(s, &hosts), 0);
        /* "db" (10.0.0.1) was last seen before the retention cut above. */
        for (size_t i = 0; i < hosts.n; i++) {
                assert_string_not_equal(hosts.items[i].addr, "10.0.0.1");
                if (!strcmp(hosts.items[i].addr, "10.3.0.1"))
                        found = !strcmp(hosts.items[i].hostname, "lb");
        }
        assert_true(found);
        nd_host_list_done(&hosts);

        assert_int_equal(nd_role_rule_make("10.0.0.0/24", "blog:db", "tokyo1", "primary", &rule, why, sizeof(why)), 0);
        assert_int_equal(nd_role_rules_push(&rules, &rule), 0);
        assert_int_equal(nd_role_rule_make("web-*", "blog:web", "", "", &rule, why, sizeof(why)), 0);
        assert_int_equal(nd_role_rules_push(&rules, &rule), 0);
        assert_int_equal(nd_store_roles_replace(s, &rules), 0);
        assert_int_equal(nd_store_roles_replace(s, &rules), 0); /* replaces, not appends */
        assert_int_equal(nd_store_roles_load(s, &loaded), 0);
        assert_int_equal(loaded.n, 2);
        assert_string_equal(loaded.items[0].match, "10.0.0.0/24");
        assert_string_equal(loaded.items[0].datacenter, "tokyo1");
        assert_string_equal(loaded.items[0].name, "primary");
        assert_string_equal(loaded.items[1].service, "blog");
        assert_string_equal(loaded.items[1].role, "web");
        nd_role_rules_done(&rules);
        nd_role_rules_done(&loaded);
        nd_store_close(s);
}

/* A prune through one handle deletes edges and endpoints that another
 * handle has written, and may remember (PostgreSQL's connection keeps their
 * ids); that handle then writes the same edges again, and a new edge of a
 * deleted endpoint: nothing it writes may go missing or point nowhere.
 * Runs last: its prune cuts everything before it. */
static void test_prune_under_another_handle(void **state)
{
        struct nd_store *writer = open_store(0), *pruner = open_store(0);
        struct nd_edge_list l;
        const struct nd_edge *e;
        const int64_t t = 1900000000;
        struct nd_edge_observation rows[] = {
                obs(ND_SIDE_CLIENT, "10.4.0.2", "app", "10.4.0.1", 80, "", 3),
                obs(ND_SIDE_CLIENT, "10.4.0.2", "app", "10.4.0.3", 443, "", 4),
        };
        struct nd_edge_observation fresh = obs(ND_SIDE_CLIENT, "10.4.0.2", "app", "10.4.0.4", 8080, "", 5);

        ingest(writer, t, "app", "10.4.0.2", rows, 2);
        ingest(writer, t + 60, "app", "10.4.0.2", rows, 2); /* now known to the connection */

        assert_true(nd_store_prune(pruner, t + 600) >= 2); /* and the other tests' edges */
        query(pruner, ND_MATCH_CLIENT_ADDR, "10.4.0.2", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 0);
        nd_edge_list_done(&l);

        /* A new edge whose client endpoint the writer remembers, gone. */
        ingest(writer, t + 1200, "app", "10.4.0.2", &fresh, 1);
        query(pruner, ND_MATCH_SERVER_ADDR, "10.4.0.4", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 1);
        assert_string_equal(l.items[0].client.addr, "10.4.0.2");
        assert_string_equal(l.items[0].client.process, "app");
        assert_int_equal(l.items[0].connections, 5);
        nd_edge_list_done(&l);

        /* The edges it remembers, gone. */
        rows[1].connections = 6;
        ingest(writer, t + 1260, "app", "10.4.0.2", rows, 2);
        query(pruner, ND_MATCH_CLIENT_ADDR, "10.4.0.2", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 3);
        e = find(&l, "10.4.0.2", "app", "10.4.0.3", 443);
        assert_non_null(e);
        assert_int_equal(e->connections, 6);
        assert_int_equal(e->first_seen, t + 1250); /* the edge is new again */
        assert_int_equal(e->client.pgid, 10);
        nd_edge_list_done(&l);
        query(pruner, ND_MATCH_CLIENT_ADDR, "10.4.0.2", t + 1200, t + 1300, &l);
        assert_int_equal(l.n, 3); /* and so are their observations */
        nd_edge_list_done(&l);

        /* Again, the prune deleting only an endpoint the writer remembers
         * alone: a new edge of it must not point nowhere. */
        assert_int_equal(nd_store_prune(pruner, t + 1300), 3);
        fresh.server.port = 8081;
        ingest(writer, t + 1800, "app", "10.4.0.2", &fresh, 1);
        query(pruner, ND_MATCH_SERVER_ADDR, "10.4.0.4", INT64_MIN, INT64_MAX, &l);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.items[0].server.port, 8081);
        assert_string_equal(l.items[0].client.process, "app");
        nd_edge_list_done(&l);
        nd_store_close(pruner);
        nd_store_close(writer);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_failure),
                cmocka_unit_test(test_schema_lifecycle),
                cmocka_unit_test(test_ingest_and_merge),
                cmocka_unit_test(test_opened_and_failed),
                cmocka_unit_test(test_time_ranges),
                cmocka_unit_test(test_time_range_is_exact),
                cmocka_unit_test(test_client_processes),
                cmocka_unit_test(test_many_addresses_one_query),
                cmocka_unit_test(test_scan_edges),
                cmocka_unit_test(test_buckets_in_range),
                cmocka_unit_test(test_hosts_of),
                cmocka_unit_test(test_servers_used),
                cmocka_unit_test(test_hosts_and_roles),
                cmocka_unit_test(test_prune_under_another_handle),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
