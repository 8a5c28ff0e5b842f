/* look-bench: how long `netdep look --depth 3` takes on a store of 10,000
 * hosts and about 1.36 million edges, next to a naive look that asks the
 * store once per node, timed in the same run on the same store.
 *
 *   look-bench [--store URI] [--reuse] [--keep] [--services N] [--depth D]
 *              [--queries N] [--infra-queries N] [--cli-runs N] [--seed S]
 *              [--netdep PATH] [--timeout SECONDS]
 *
 * The store is --store, else $ND_TEST_STORE, else a fresh SQLite file in a
 * temporary directory, removed at the end (--keep keeps it). It is opened
 * with ND_STORE_CREATE and migrated, as `netdep db migrate` does, then
 * filled through nd_store_ingest(), one ingest per host (its hostname and
 * address, ts = now) unless --reuse says a previous run built it already.
 *
 * The fleet: 100 services of 100 hosts, host H of service S at 10.S.H.1.
 * In each service hosts 0-1 are "lb" (nginx connects to every app host of
 * the service, port 8080), 2-61 "app" (processes app, worker, cron and
 * sidecar each connect to every db host, port 5432, and cache host, port
 * 6379), 62-81 "db", 82-99 "cache". Every host's "agent" connects to the 10
 * infra hosts, service 0's hosts 0-9, port 514 (not to itself). Each host
 * reports its client side (ND_SIDE_CLIENT, server process "") and its
 * server side (ND_SIDE_SERVER, one row per client address, client process
 * "", server process app, postgres, redis or rsyslog): 1,023,990
 * client-view and 339,990 server-view edges. Nothing connects to an lb
 * host, so nginx never shows as a server process.
 *
 * On PostgreSQL the bench then runs ANALYZE, as autovacuum soon would: with
 * no statistics the planner seq-scans edges and JIT-compiles every query.
 *
 * Then, the store opened once, it times in-process, depth D (3) and both
 * directions, per query nd_graph_init + nd_look + nd_look_result_done +
 * nd_graph_done:
 *
 *   netdep   nd_look(): one store query per level and direction (a level
 *            of more than 256 nodes: one per batch of them, 256, 512, ...)
 *   naive    the same tree walked breadth-first with one nd_store_edges()
 *            call per label expanded (one address each), the shadow rule
 *            of graph.h, each label expanded once per direction, and the
 *            same ND_LOOK_MAX_NODES cap (it stops querying once the tree is
 *            full)
 *
 * interleaved over --queries (50) lb/app/db hosts drawn with --seed (1)
 * outside the infra hosts, and --infra-queries (3) infra hosts, the worst
 * case: 10,000 clients (each of those nd_look() calls took over two
 * minutes when this was written; --infra-queries 0 skips them). Then `netdep look --host ADDR --depth D --store URI`
 * end to end (fork to wait4, stdout to /dev/null) on the first --cli-runs
 * (10) sampled hosts. Prints median, p90 and max, the nodes in each tree,
 * the ratio netdep / naive, and PASS when the median in-process look of
 * the sampled hosts takes at most 50 ms.
 *
 * Run from the top of the tree:
 *
 *   ninja -C build && build/bench/look-bench                     # SQLite
 *   ninja -C build && tests/with-postgres.sh build/bench/look-bench
 *
 * Exit status: 0 measured and the target met, 1 the bench failed, 2 usage
 * error, 3 measured but the target was missed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/look.h"
#include "shared/cleanup.h"
#include "shared/parse.h"
#include "shared/strmap.h"
#include "store/store.h"
#include "bench-util.h"
#include "run-command.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define MAX_SERVICES 100
#define HOSTS_PER_SERVICE 100
#define LB_FIRST 0
#define APP_FIRST 2
#define DB_FIRST 62
#define CACHE_FIRST 82
#define INFRA_HOSTS 10 /* service 0's hosts 0..INFRA_HOSTS-1 */
#define PORT_APP 8080
#define PORT_DB 5432
#define PORT_CACHE 6379
#define PORT_SYSLOG 514
/* The most rows one host reports: an infra app host's clients and servers. */
#define MAX_ROWS_PER_HOST (MAX_SERVICES * HOSTS_PER_SERVICE + 1024)

#define MAX_QUERIES 1000
#define TARGET_MEDIAN_S 0.050

struct bench_options {
        const char *uri; /* NULL: a temporary SQLite file */
        bool reuse, keep;
        unsigned services, depth, queries, infra_queries, cli_runs;
        uint64_t seed;
        const char *netdep;
        unsigned timeout_s; /* per CLI run */
};

enum role {
        ROLE_LB,
        ROLE_APP,
        ROLE_DB,
        ROLE_CACHE,
};

static const char *const role_name[] = {
        [ROLE_LB] = "lb",
        [ROLE_APP] = "app",
        [ROLE_DB] = "db",
        [ROLE_CACHE] = "cache",
};

/* ---- the fleet ---- */

static enum role role_of(unsigned h)
{
        return h >= CACHE_FIRST ? ROLE_CACHE : h >= DB_FIRST ? ROLE_DB : h >= APP_FIRST ? ROLE_APP : ROLE_LB;
}

static bool is_infra(unsigned svc, unsigned h)
{
        return svc == 0 && h < INFRA_HOSTS;
}

static void host_addr(unsigned svc, unsigned h, char buf[static ND_ADDR_TEXT_MAX])
{
        snprintf(buf, ND_ADDR_TEXT_MAX, "10.%u.%u.1", svc, h);
}

struct fleet_counts {
        uint64_t client_rows, server_rows;
};

static struct nd_edge_observation *add_row(struct nd_edge_observation *rows, size_t *n, enum nd_edge_side side)
{
        struct nd_edge_observation *row = &rows[(*n)++];

        *row = (struct nd_edge_observation){
                .side = side,
                .connections = 1 + (uint32_t)(*n % 4),
                .rtt_us = 150 + (uint32_t)(*n % 300),
                .bytes_sent = 4096 * (*n % 17 + 1),
                .bytes_received = 16384 * (*n % 13 + 1),
                .client.pgid = -1,
                .server.pgid = -1,
        };
        return row;
}

static void client_row(struct nd_edge_observation *rows, size_t *n, const char *self, const char *process,
                       int32_t pgid, unsigned svc, unsigned h, uint16_t port)
{
        struct nd_edge_observation *row = add_row(rows, n, ND_SIDE_CLIENT);

        snprintf(row->client.addr, sizeof(row->client.addr), "%s", self);
        snprintf(row->client.process, sizeof(row->client.process), "%s", process);
        row->client.pgid = pgid;
        host_addr(svc, h, row->server.addr);
        row->server.port = port;
}

static void server_row(struct nd_edge_observation *rows, size_t *n, const char *self, const char *process,
                       int32_t pgid, unsigned svc, unsigned h, uint16_t port)
{
        struct nd_edge_observation *row = add_row(rows, n, ND_SIDE_SERVER);

        host_addr(svc, h, row->client.addr);
        snprintf(row->server.addr, sizeof(row->server.addr), "%s", self);
        row->server.port = port;
        snprintf(row->server.process, sizeof(row->server.process), "%s", process);
        row->server.pgid = pgid;
}

/* Everything host h of service svc reports in its one flush. */
static size_t make_host_rows(unsigned services, unsigned svc, unsigned h, struct nd_edge_observation *rows,
                             struct fleet_counts *counts)
{
        static const char *const app_processes[] = { "app", "worker", "cron", "sidecar" };
        char self[ND_ADDR_TEXT_MAX];
        size_t n = 0, n_client;

        host_addr(svc, h, self);
        /* Client side. */
        switch (role_of(h)) {
        case ROLE_LB:
                for (unsigned a = APP_FIRST; a < DB_FIRST; a++)
                        client_row(rows, &n, self, "nginx", 100, svc, a, PORT_APP);
                break;
        case ROLE_APP:
                for (unsigned p = 0; p < ELEMENTSOF(app_processes); p++)
                        for (unsigned d = DB_FIRST; d < HOSTS_PER_SERVICE; d++)
                                client_row(rows, &n, self, app_processes[p], 200 + (int32_t)p, svc, d,
                                           role_of(d) == ROLE_DB ? PORT_DB : PORT_CACHE);
                break;
        default:
                break;
        }
        for (unsigned i = 0; i < INFRA_HOSTS; i++)
                if (!is_infra(svc, h) || i != h)
                        client_row(rows, &n, self, "agent", 50, 0, i, PORT_SYSLOG);
        n_client = n;

        /* Server side: one row per client address. */
        switch (role_of(h)) {
        case ROLE_APP:
                for (unsigned l = LB_FIRST; l < APP_FIRST; l++)
                        server_row(rows, &n, self, "app", 300, svc, l, PORT_APP);
                break;
        case ROLE_DB:
        case ROLE_CACHE:
                for (unsigned a = APP_FIRST; a < DB_FIRST; a++)
                        server_row(rows, &n, self, role_of(h) == ROLE_DB ? "postgres" : "redis", 400, svc, a,
                                   role_of(h) == ROLE_DB ? PORT_DB : PORT_CACHE);
                break;
        default:
                break;
        }
        if (is_infra(svc, h))
                for (unsigned s = 0; s < services; s++)
                        for (unsigned c = 0; c < HOSTS_PER_SERVICE; c++)
                                if (!is_infra(s, c) || c != h)
                                        server_row(rows, &n, self, "rsyslog", 500, s, c, PORT_SYSLOG);

        counts->client_rows += n_client;
        counts->server_rows += n - n_client;
        return n;
}

static int build_fleet(struct nd_store *s, unsigned services, struct fleet_counts *ret, double *ret_seconds)
{
        _cleanup_free_ struct nd_edge_observation *rows = calloc(MAX_ROWS_PER_HOST, sizeof(*rows));
        struct fleet_counts counts = {};
        int64_t now = (int64_t)time(NULL);
        bool progress = isatty(STDERR_FILENO);
        double start = monotonic_s();

        if (!rows)
                return -ENOMEM;
        for (unsigned svc = 0; svc < services; svc++) {
                if (bench_interrupted)
                        return -EINTR;
                if (progress)
                        fprintf(stderr, "  service %u/%u\r", svc + 1, services);
                for (unsigned h = 0; h < HOSTS_PER_SERVICE; h++) {
                        char addr[ND_ADDR_TEXT_MAX], name[64];
                        const char *addrs[] = { addr };
                        int r;

                        host_addr(svc, h, addr);
                        snprintf(name, sizeof(name), "s%02u-%s-%02u", svc, role_name[role_of(h)], h);
                        struct nd_ingest in = {
                                .hostname = name, .host_addrs = addrs, .n_host_addrs = 1,
                                .ts = now, .first_ts = now,
                                .rows = rows, .n_rows = make_host_rows(services, svc, h, rows, &counts),
                        };
                        r = nd_store_ingest(s, &in);
                        if (r < 0)
                                return bench_error(r, "ingest of %s failed: %s", addr, nd_store_last_error(s));
                }
        }
        if (progress)
                fprintf(stderr, "%24s\r", "");
        *ret = counts;
        *ret_seconds = monotonic_s() - start;
        return 0;
}

/* ---- what the store holds, asked in SQL ---- */

struct census {
        int64_t edges, client_view, server_view, both_views, observations, endpoints, hosts;
};

#define CENSUS_SQL                                                                                   \
        "SELECT (SELECT count(*) FROM edges), (SELECT count(*) FROM edges WHERE sides = 1), "       \
        "(SELECT count(*) FROM edges WHERE sides = 2), (SELECT count(*) FROM edges WHERE sides = 3), " \
        "(SELECT count(*) FROM observations), (SELECT count(*) FROM endpoints), "                  \
        "(SELECT count(*) FROM hosts)"

static bool is_postgres(const char *uri)
{
        return strncmp(uri, "postgres://", 11) == 0 || strncmp(uri, "postgresql://", 13) == 0;
}

static const char *sqlite_path(const char *uri)
{
        return strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
}

static int census_sqlite(const char *uri, struct census *ret)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int64_t v[7];
        int rc;

        rc = sqlite3_open_v2(sqlite_path(uri), &db, SQLITE_OPEN_READONLY, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(db, CENSUS_SQL, -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                for (int i = 0; i < 7; i++)
                        v[i] = sqlite3_column_int64(st, i);
        else
                bench_error(-EIO, "counting rows: %s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_finalize(st);
        sqlite3_close_v2(db);
        if (rc != SQLITE_ROW)
                return -EIO;
        *ret = (struct census){ v[0], v[1], v[2], v[3], v[4], v[5], v[6] };
        return 0;
}

static int census_postgres(const char *uri, struct census *ret)
{
        PGconn *conn = PQconnectdb(uri);
        PGresult *res = NULL;
        int64_t v[7];
        int r = 0;

        if (PQstatus(conn) != CONNECTION_OK)
                r = bench_error(-EIO, "counting rows: %s", PQerrorMessage(conn));
        else {
                res = PQexec(conn, CENSUS_SQL);
                if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
                        r = bench_error(-EIO, "counting rows: %s", PQerrorMessage(conn));
                for (int i = 0; r == 0 && i < 7; i++)
                        v[i] = strtoll(PQgetvalue(res, 0, i), NULL, 10);
        }
        PQclear(res);
        PQfinish(conn);
        if (r < 0)
                return r;
        *ret = (struct census){ v[0], v[1], v[2], v[3], v[4], v[5], v[6] };
        return 0;
}

/* What autovacuum does within a minute or so of a bulk load: without it
 * the planner has no statistics, plans seq scans, and JIT-compiles them. */
static int analyze_postgres(const char *uri, double *ret_seconds)
{
        PGconn *conn = PQconnectdb(uri);
        PGresult *res = NULL;
        double start = monotonic_s();
        int r = 0;

        if (PQstatus(conn) != CONNECTION_OK)
                r = bench_error(-EIO, "ANALYZE: %s", PQerrorMessage(conn));
        else {
                res = PQexec(conn, "ANALYZE");
                if (PQresultStatus(res) != PGRES_COMMAND_OK)
                        r = bench_error(-EIO, "ANALYZE: %s", PQerrorMessage(conn));
        }
        PQclear(res);
        PQfinish(conn);
        *ret_seconds = monotonic_s() - start;
        return r;
}

static int store_census(const char *uri, struct census *ret)
{
        return is_postgres(uri) ? census_postgres(uri, ret) : census_sqlite(uri, ret);
}

/* ---- the naive look ---- */

/* graph.c's order: the views of one (client addr, server endpoint)
 * together, known client processes before the unknown one. */
static int compare_for_shadow(const void *a, const void *b)
{
        const struct nd_edge *x = a, *y = b;
        int r;

        if ((r = strcmp(x->client.addr, y->client.addr)))
                return r;
        if ((r = strcmp(x->server.addr, y->server.addr)))
                return r;
        if (x->server.port != y->server.port)
                return x->server.port < y->server.port ? -1 : 1;
        if (!x->client.process[0] != !y->client.process[0])
                return !x->client.process[0] ? 1 : -1;
        return strcmp(x->client.process, y->client.process);
}

/* The shadow rule: a view with client process "" is dropped when a known
 * process's view of the same edge sorts right before it. */
static bool shadowed(const struct nd_edge_list *l, size_t i)
{
        const struct nd_edge *e = &l->items[i], *prev = i > 0 ? &l->items[i - 1] : NULL;

        return !e->client.process[0] && prev && prev->client.process[0] &&
               strcmp(prev->client.addr, e->client.addr) == 0 && strcmp(prev->server.addr, e->server.addr) == 0 &&
               prev->server.port == e->server.port;
}

struct walk_result {
        size_t nodes, queries;
        bool truncated;
};

struct label_list {
        char **items;
        size_t n, allocated;
};

static void label_list_done(struct label_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i]);
        free(l->items);
        *l = (struct label_list){};
}

static int label_list_push(struct label_list *l, const char *label)
{
        if (l->n == l->allocated) {
                size_t want = l->allocated ? 2 * l->allocated : 64;
                char **items = reallocarray(l->items, want, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                l->items = items;
                l->allocated = want;
        }
        if (!(l->items[l->n] = strdup(label)))
                return -ENOMEM;
        l->n++;
        return 0;
}

/* One direction, breadth first: level 0 is the start host's own edges
 * (its roots and their children), each level after it one query per
 * label met for the first time on the level before. */
static int naive_direction(struct nd_store *s, enum nd_edge_match match, const char *start, unsigned depth,
                           struct walk_result *res)
{
        struct label_list level = {}, next = {};
        struct strmap expanded, roots;
        int r;

        strmap_init(&expanded);
        strmap_init(&roots);
        r = strmap_put(&expanded, start, 0, NULL);
        if (r >= 0)
                r = label_list_push(&level, start);
        /* Past the cap the tree takes no more children, so asking is
         * pointless; the start's own query still gives the roots, which
         * nd_look() adds whatever the count. */
        for (unsigned d = 0; r >= 0 && d < depth && level.n > 0 && (d == 0 || !res->truncated); d++) {
                for (size_t i = 0; r >= 0 && i < level.n && (d == 0 || !res->truncated); i++) {
                        const char *addrs[] = { level.items[i] };
                        struct nd_edge_query q = {
                                .match = match, .addrs = addrs, .n_addrs = 1,
                                .range = { INT64_MIN, INT64_MAX },
                        };
                        struct nd_edge_list edges = {};
                        struct strmap children;

                        strmap_init(&children);
                        r = nd_store_edges(s, &q, &edges);
                        res->queries++;
                        if (r >= 0)
                                qsort(edges.items, edges.n, sizeof(*edges.items), compare_for_shadow);
                        for (size_t k = 0; r >= 0 && k < edges.n; k++) {
                                const struct nd_edge *e = &edges.items[k];
                                const char *child = match == ND_MATCH_SERVER_ADDR ? e->client.addr : e->server.addr;
                                char root[ND_PROCESS_NAME_MAX + 8], key[2 * ND_ADDR_TEXT_MAX + 2 * ND_PROCESS_NAME_MAX + 32];

                                if (shadowed(&edges, k))
                                        continue;
                                /* look.h's folding: a root per own endpoint; under
                                 * it one child per (label, port, process, and the
                                 * process at the parent's end) met. */
                                if (match == ND_MATCH_SERVER_ADDR)
                                        snprintf(root, sizeof(root), "%u/%s", e->server.port, e->server.process);
                                else
                                        snprintf(root, sizeof(root), "%s", e->client.process);
                                if (d == 0) {
                                        r = strmap_put(&roots, root, 0, NULL);
                                        if (r > 0)
                                                res->nodes++;
                                }
                                if (res->nodes >= ND_LOOK_MAX_NODES) {
                                        res->truncated = true;
                                        if (d == 0)
                                                continue;
                                        break;
                                }
                                if (match == ND_MATCH_SERVER_ADDR)
                                        snprintf(key, sizeof(key), "%s/%s/%u/%s/%s", d == 0 ? root : "", child,
                                                 e->server.port, e->client.process, e->server.process);
                                else
                                        snprintf(key, sizeof(key), "%s/%s/%u/%s/%s", d == 0 ? root : "", child,
                                                 e->server.port, e->server.process, e->client.process);
                                if (r >= 0)
                                        r = strmap_put(&children, key, 0, NULL);
                                if (r <= 0)
                                        continue;
                                res->nodes++;
                                if (d + 1 < depth) {
                                        r = strmap_put(&expanded, child, 0, NULL);
                                        if (r > 0)
                                                r = label_list_push(&next, child);
                                }
                        }
                        nd_edge_list_done(&edges);
                        strmap_done(&children);
                }
                label_list_done(&level);
                level = next;
                next = (struct label_list){};
        }
        label_list_done(&level);
        label_list_done(&next);
        strmap_done(&expanded);
        strmap_done(&roots);
        return r < 0 ? r : 0;
}

static int naive_look(struct nd_store *s, const char *addr, unsigned depth, struct walk_result *ret)
{
        struct walk_result res = {};
        int r;

        r = naive_direction(s, ND_MATCH_SERVER_ADDR, addr, depth, &res);
        if (r >= 0)
                r = naive_direction(s, ND_MATCH_CLIENT_ADDR, addr, depth, &res);
        if (r < 0)
                return bench_error(r, "naive look at %s failed: %s", addr, nd_store_last_error(s));
        *ret = res;
        return 0;
}

static int netdep_look(struct nd_store *s, const char *addr, unsigned depth, struct walk_result *ret)
{
        struct nd_look_options o = {
                .host = addr, .depth = (int)depth, .direction = ND_LOOK_BOTH,
                .range = { INT64_MIN, INT64_MAX }, .now = (int64_t)time(NULL),
        };
        struct nd_look_result res;
        struct nd_graph g;
        int r;

        r = nd_graph_init(&g, s, false);
        if (r >= 0)
                r = nd_look(&g, &o, &res);
        if (r >= 0) {
                *ret = (struct walk_result){ .nodes = res.n_nodes, .truncated = res.truncated };
                nd_look_result_done(&res);
        }
        nd_graph_done(&g);
        if (r < 0)
                return bench_error(r, "nd_look at %s failed: %s", addr, nd_store_last_error(s));
        return 0;
}

/* ---- running the CLI ---- */

/* ---- statistics ---- */

struct samples {
        double seconds[MAX_QUERIES];
        size_t nodes[MAX_QUERIES];
        unsigned n;
        bool truncated;
};

static void samples_add(struct samples *s, double seconds, const struct walk_result *w)
{
        if (s->n == MAX_QUERIES)
                return;
        s->seconds[s->n] = seconds;
        s->nodes[s->n] = w ? w->nodes : 0;
        s->n++;
        if (w && w->truncated)
                s->truncated = true;
}

static int compare_size(const void *a, const void *b)
{
        size_t x = *(const size_t *)a, y = *(const size_t *)b;

        return (x > y) - (x < y);
}

/* q-quantile, nearest rank: median 0.5, p90 0.9, max 1. */
static double quantile(const struct samples *s, double q)
{
        double v[MAX_QUERIES];
        size_t rank;

        if (s->n == 0)
                return 0;
        memcpy(v, s->seconds, s->n * sizeof(v[0]));
        qsort(v, s->n, sizeof(v[0]), compare_double);
        if (q == 0.5 && s->n % 2 == 0)
                return (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
        rank = (size_t)ceil(q * s->n);
        return v[rank > 0 ? rank - 1 : 0];
}

static size_t nodes_median(const struct samples *s)
{
        size_t v[MAX_QUERIES];

        if (s->n == 0)
                return 0;
        memcpy(v, s->nodes, s->n * sizeof(v[0]));
        qsort(v, s->n, sizeof(v[0]), compare_size);
        return v[s->n / 2];
}

static size_t nodes_max(const struct samples *s)
{
        size_t m = 0;

        for (unsigned i = 0; i < s->n; i++)
                if (s->nodes[i] > m)
                        m = s->nodes[i];
        return m;
}

static double ratio(double a, double b)
{
        return b > 0 ? a / b : 0;
}

static void print_samples(const char *label, const struct samples *s, bool with_nodes)
{
        printf("  %-34s %4u %9.2f %9.2f %9.2f", label, s->n, 1e3 * quantile(s, 0.5), 1e3 * quantile(s, 0.9),
               1e3 * quantile(s, 1.0));
        if (with_nodes)
                printf(" %9zu %9zu%s\n", nodes_median(s), nodes_max(s), s->truncated ? "  (cut at the node cap)" : "");
        else
                printf(" %9s %9s\n", "-", "-");
}

/* ---- the sample ---- */

/* splitmix64: a fixed seed gives the same hosts on every run. */
static uint64_t next_random(uint64_t *state)
{
        uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

struct host_ref {
        unsigned svc, h;
};

/* count distinct lb/app/db hosts outside the infra hosts (or, infra, of
 * the infra hosts). Bounded: a few thousand draws at most. */
static size_t draw_hosts(const struct bench_options *o, bool infra, unsigned count, uint64_t *rng,
                         struct host_ref *out)
{
        size_t n = 0;

        for (unsigned attempt = 0; n < count && attempt < 100 * count + 100; attempt++) {
                uint64_t v = next_random(rng);
                struct host_ref ref = {
                        .svc = infra ? 0 : (unsigned)(v % o->services),
                        .h = infra ? (unsigned)((v >> 32) % INFRA_HOSTS) : (unsigned)((v >> 32) % HOSTS_PER_SERVICE),
                };
                bool dup = false;

                if (!infra && (is_infra(ref.svc, ref.h) || role_of(ref.h) == ROLE_CACHE))
                        continue;
                for (size_t i = 0; i < n; i++)
                        dup = dup || (out[i].svc == ref.svc && out[i].h == ref.h);
                if (!dup)
                        out[n++] = ref;
        }
        return n;
}

/* ---- the run ---- */

struct results {
        struct samples netdep, naive, netdep_infra, naive_infra, cli;
        size_t queries_naive, queries_naive_infra; /* store queries, summed */
        unsigned node_mismatches;
        long cli_maxrss_kib;
};

static int time_hosts(struct nd_store *s, const struct bench_options *o, const struct host_ref *hosts, size_t n,
                      bool infra, struct results *res)
{
        bool progress = isatty(STDERR_FILENO);

        for (size_t i = 0; i < n; i++) {
                char addr[ND_ADDR_TEXT_MAX];
                struct walk_result a = {}, b = {};
                double t0, t1, t2;
                int r;

                if (bench_interrupted)
                        return -EINTR;
                if (progress)
                        fprintf(stderr, "  %s query %zu/%zu\r", infra ? "infra" : "sampled", i + 1, n);
                host_addr(hosts[i].svc, hosts[i].h, addr);
                /* Alternate which goes first, so that drift hits both alike. */
                t0 = monotonic_s();
                r = i % 2 ? naive_look(s, addr, o->depth, &b) : netdep_look(s, addr, o->depth, &a);
                t1 = monotonic_s();
                if (r >= 0)
                        r = i % 2 ? netdep_look(s, addr, o->depth, &a) : naive_look(s, addr, o->depth, &b);
                t2 = monotonic_s();
                if (r < 0)
                        return r;
                samples_add(infra ? &res->netdep_infra : &res->netdep, i % 2 ? t2 - t1 : t1 - t0, &a);
                samples_add(infra ? &res->naive_infra : &res->naive, i % 2 ? t1 - t0 : t2 - t1, &b);
                *(infra ? &res->queries_naive_infra : &res->queries_naive) += b.queries;
                if (a.nodes != b.nodes) {
                        if (res->node_mismatches++ < 5)
                                printf("  note: %s: nd_look has %zu nodes%s, the naive walk %zu%s\n", addr, a.nodes,
                                       a.truncated ? " (cut)" : "", b.nodes, b.truncated ? " (cut)" : "");
                }
                if (infra)
                        printf("  infra %-12s netdep %8.1f ms, naive %8.1f ms (%zu store queries), %zu nodes%s\n",
                               addr, 1e3 * res->netdep_infra.seconds[res->netdep_infra.n - 1],
                               1e3 * res->naive_infra.seconds[res->naive_infra.n - 1], b.queries, a.nodes,
                               a.truncated ? " (cut at the node cap)" : "");
        }
        if (progress)
                fprintf(stderr, "%32s\r", "");
        return 0;
}

static int time_cli(const struct bench_options *o, const char *uri, const struct host_ref *hosts, size_t n,
                    struct results *res)
{
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        char depth[16];

        if (devnull < 0)
                return -errno;
        snprintf(depth, sizeof(depth), "%u", o->depth);
        for (size_t i = 0; i < n; i++) {
                char addr[ND_ADDR_TEXT_MAX];
                const char *argv[] = { o->netdep, "look", "--host", addr, "--depth", depth, "--store", uri, NULL };
                struct command_result c;
                int r;

                if (bench_interrupted)
                        return -EINTR;
                host_addr(hosts[i].svc, hosts[i].h, addr);
                r = run_command(argv, devnull, o->timeout_s, &bench_interrupted, &c);
                if (r < 0)
                        return r;
                samples_add(&res->cli, c.seconds, NULL);
                if (c.maxrss_kib > res->cli_maxrss_kib)
                        res->cli_maxrss_kib = c.maxrss_kib;
        }
        return 0;
}

static int prepare_store(const struct bench_options *o, const char *uri, struct nd_store **ret)
{
        struct nd_store *s = NULL;
        char err[512];
        int r;

        r = nd_store_open(uri, ND_STORE_CREATE, &s, err, sizeof(err));
        if (r < 0) {
                nd_store_close(s);
                return bench_error(r, "Failed to open store %s: %s", uri, err);
        }
        r = nd_store_migrate(s);
        if (r >= 0)
                r = nd_store_check_schema(s);
        if (r < 0) {
                bench_error(r, "Failed to migrate the store: %s", nd_store_last_error(s));
                nd_store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

static int run(const struct bench_options *o, const char *uri)
{
        _cleanup_free_ struct host_ref *hosts = calloc(o->queries + 1, sizeof(*hosts));
        _cleanup_free_ struct results *res = calloc(1, sizeof(*res));
        struct host_ref infra_hosts[INFRA_HOSTS];
        struct fleet_counts counts = {};
        struct census before, after;
        struct nd_store *s = NULL;
        double build_s = 0;
        uint64_t rng = o->seed;
        size_t n_hosts, n_infra;
        struct walk_result warm;
        double median;
        bool pass;
        int r;

        if (!hosts || !res)
                return -ENOMEM;
        r = prepare_store(o, uri, &s);
        if (r < 0)
                return r;
        printf("store: %s (%s)\n", s->display_uri, nd_store_backend(s));
        r = store_census(uri, &before);
        if (r < 0)
                goto finish;
        if (!o->reuse && before.edges > 0) {
                r = bench_error(-EEXIST, "the store holds %" PRId64 " edges already: give an empty one, or --reuse",
                                before.edges);
                goto finish;
        }
        if (o->reuse && before.edges == 0) {
                r = bench_error(-ENODATA, "--reuse, but the store holds no edges");
                goto finish;
        }

        if (!o->reuse) {
                printf("\n== Building the fleet: %u services x %d hosts, one nd_store_ingest() per host\n",
                       o->services, HOSTS_PER_SERVICE);
                fflush(stdout);
                r = build_fleet(s, o->services, &counts, &build_s);
                if (r < 0)
                        goto finish;
        }
        r = store_census(uri, &after);
        if (r < 0)
                goto finish;
        if (!o->reuse) {
                uint64_t rows = counts.client_rows + counts.server_rows;
                printf("  ingested %" PRIu64 " rows (%" PRIu64 " client side, %" PRIu64 " server side) "
                       "from %u hosts in %.1f s = %.0f rows/s\n",
                       rows, counts.client_rows, counts.server_rows, o->services * HOSTS_PER_SERVICE, build_s,
                       (double)rows / build_s);
                if (is_postgres(uri)) {
                        double analyze_s;

                        r = analyze_postgres(uri, &analyze_s);
                        if (r < 0)
                                goto finish;
                        printf("  ANALYZE (untimed; autovacuum's job on a live store): %.1f s\n", analyze_s);
                }
        }
        printf("  the store holds %" PRId64 " edges: %" PRId64 " client-view (client process known), %" PRId64
               " server-view (client process \"\"), %" PRId64 " both; %" PRId64 " observations, %" PRId64
               " endpoints, %" PRId64 " hosts\n",
               after.edges, after.client_view, after.server_view, after.both_views, after.observations,
               after.endpoints, after.hosts);
        fflush(stdout);

        n_hosts = draw_hosts(o, false, o->queries, &rng, hosts);
        n_infra = draw_hosts(o, true, o->infra_queries, &rng, infra_hosts);

        printf("\n== nd_look vs naive, depth %u, direction both, in-process, open range\n", o->depth);
        fflush(stdout);
        /* One untimed look warms the caches for both. */
        if (n_hosts > 0) {
                char addr[ND_ADDR_TEXT_MAX];
                host_addr(hosts[0].svc, hosts[0].h, addr);
                r = netdep_look(s, addr, o->depth, &warm);
                if (r < 0)
                        goto finish;
        }
        r = time_hosts(s, o, hosts, n_hosts, false, res);
        if (r >= 0)
                r = time_hosts(s, o, infra_hosts, n_infra, true, res);
        if (r < 0)
                goto finish;

        printf("\n== netdep look CLI, end to end (fork to wait4, stdout to /dev/null)\n");
        fflush(stdout);
        r = time_cli(o, uri, hosts, o->cli_runs < n_hosts ? o->cli_runs : n_hosts, res);
        if (r < 0)
                goto finish;

        printf("\n  %-34s %4s %9s %9s %9s %9s %9s\n", "milliseconds", "runs", "median", "p90", "max",
               "nodes med", "nodes max");
        print_samples("nd_look, sampled lb/app/db hosts", &res->netdep, true);
        print_samples("naive, sampled hosts", &res->naive, true);
        print_samples("nd_look, infra hosts", &res->netdep_infra, true);
        print_samples("naive, infra hosts", &res->naive_infra, true);
        print_samples("netdep look CLI, sampled hosts", &res->cli, false);
        printf("\n  naive store queries per look: %.1f (sampled), %.1f (infra); nd_look: %u, more for levels "
               "past 256 nodes\n",
               res->netdep.n ? (double)res->queries_naive / res->netdep.n : 0,
               res->netdep_infra.n ? (double)res->queries_naive_infra / res->netdep_infra.n : 0, 2 * o->depth);
        if (res->node_mismatches)
                printf("  node counts differed between nd_look and the naive walk in %u looks\n",
                       res->node_mismatches);
        printf("  netdep look CLI peak RSS: %.1f MiB\n", (double)res->cli_maxrss_kib / 1024);
        printf("\n  %-44s %8.2f\n", "nd_look / naive (medians, sampled)",
               ratio(quantile(&res->netdep, 0.5), quantile(&res->naive, 0.5)));
        printf("  %-44s %8.2f\n", "nd_look / naive (medians, infra)",
               ratio(quantile(&res->netdep_infra, 0.5), quantile(&res->naive_infra, 0.5)));
        printf("  %-44s %8.2f\n", "CLI / nd_look (medians, sampled)",
               ratio(quantile(&res->cli, 0.5), quantile(&res->netdep, 0.5)));

        median = quantile(&res->netdep, 0.5);
        pass = res->netdep.n > 0 && median <= TARGET_MEDIAN_S;
        printf("\n  target: median nd_look, depth %u, sampled hosts <= %.0f ms: %.2f ms  %s   "
               "(CLI end to end: %.2f ms)\n",
               o->depth, 1e3 * TARGET_MEDIAN_S, 1e3 * median, pass ? "PASS" : "FAIL",
               1e3 * quantile(&res->cli, 0.5));
        r = pass ? 0 : 1;
finish:
        if (r == -EINTR)
                bench_error(r, "Interrupted by signal %d", (int)bench_interrupted);
        nd_store_close(s);
        return r;
}

/* ---- options ---- */

static void help(FILE *out)
{
        fprintf(out,
                "Usage: look-bench [OPTIONS]\n"
                "\n"
                "Builds a store of 10,000 hosts and ~1.36M edges, then times nd_look\n"
                "(depth 3) against a one-query-per-node walk, and the netdep look CLI.\n"
                "\n"
                "Options:\n"
                "      --store URI         default $ND_TEST_STORE, else a temporary SQLite file\n"
                "      --reuse             the store was built by an earlier run: only query\n"
                "      --keep              keep the temporary SQLite file, and say where\n"
                "      --services N        services of 100 hosts (1..100, default 100)\n"
                "      --depth D           1..%d (default 3)\n"
                "      --queries N         sampled lb/app/db hosts (default 50)\n"
                "      --infra-queries N   infra hosts, the worst case (0..10, default 3)\n"
                "      --cli-runs N        CLI runs on the first sampled hosts (default 10)\n"
                "      --seed S            of the host sample (default 1)\n"
                "      --netdep PATH       the netdep to run (default %s)\n"
                "      --timeout S         longest one CLI run may take (default 120)\n"
                "  -h, --help              this help\n",
                ND_LOOK_MAX_DEPTH, NETDEP_PATH);
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_STORE = 0x100,
                OPT_REUSE,
                OPT_KEEP,
                OPT_SERVICES,
                OPT_DEPTH,
                OPT_QUERIES,
                OPT_INFRA_QUERIES,
                OPT_CLI_RUNS,
                OPT_SEED,
                OPT_NETDEP,
                OPT_TIMEOUT,
        };
        static const struct option options[] = {
                { "store", required_argument, NULL, OPT_STORE },
                { "reuse", no_argument, NULL, OPT_REUSE },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "services", required_argument, NULL, OPT_SERVICES },
                { "depth", required_argument, NULL, OPT_DEPTH },
                { "queries", required_argument, NULL, OPT_QUERIES },
                { "infra-queries", required_argument, NULL, OPT_INFRA_QUERIES },
                { "cli-runs", required_argument, NULL, OPT_CLI_RUNS },
                { "seed", required_argument, NULL, OPT_SEED },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned seed;
        int c, index = 0, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_STORE:
                        o->uri = optarg;
                        break;
                case OPT_REUSE:
                        o->reuse = true;
                        break;
                case OPT_KEEP:
                        o->keep = true;
                        break;
                case OPT_SERVICES:
                        r = bench_parse_uint(optarg, 1, MAX_SERVICES, &o->services);
                        break;
                case OPT_DEPTH:
                        r = bench_parse_uint(optarg, 1, ND_LOOK_MAX_DEPTH, &o->depth);
                        break;
                case OPT_QUERIES:
                        r = bench_parse_uint(optarg, 0, MAX_QUERIES, &o->queries);
                        break;
                case OPT_INFRA_QUERIES:
                        r = bench_parse_uint(optarg, 0, INFRA_HOSTS, &o->infra_queries);
                        break;
                case OPT_CLI_RUNS:
                        r = bench_parse_uint(optarg, 0, MAX_QUERIES, &o->cli_runs);
                        break;
                case OPT_SEED:
                        r = bench_parse_uint(optarg, 0, UINT32_MAX, &seed);
                        o->seed = seed;
                        break;
                case OPT_NETDEP:
                        o->netdep = optarg;
                        break;
                case OPT_TIMEOUT:
                        r = bench_parse_uint(optarg, 1, 3600, &o->timeout_s);
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return bench_error(-EINVAL, "invalid value \'%s\' for --%s (see --help)", optarg,
                                           options[index].name);
        }
        if (optind < argc)
                return bench_error(-EINVAL, "Unexpected argument '%s'", argv[optind]);
        if (!o->uri)
                o->uri = getenv("ND_TEST_STORE");
        if (o->uri && !*o->uri)
                o->uri = NULL;
        if (!o->uri && o->reuse)
                return bench_error(-EINVAL, "--reuse needs --store or $ND_TEST_STORE");
        return 0;
}

/* The temporary SQLite store: a file and its WAL companions, in a directory. */
static void remove_temp_store(const char *dir)
{
        static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
        char path[PATH_MAX];

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                snprintf(path, sizeof(path), "%s/store.db%s", dir, suffixes[i]);
                unlink(path);
        }
        rmdir(dir);
}

int main(int argc, char **argv)
{
        struct bench_options o = {
                .services = MAX_SERVICES,
                .depth = 3,
                .queries = 50,
                .infra_queries = 3,
                .cli_runs = 10,
                .seed = 1,
                .netdep = NETDEP_PATH,
                .timeout_s = 120,
        };
        char temp_dir[] = "/tmp/look-bench.XXXXXX";
        char temp_uri[sizeof(temp_dir) + 32];
        const char *uri;
        bool temp = false;
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();

        uri = o.uri;
        if (!uri) {
                if (!mkdtemp(temp_dir)) {
                        bench_error(-errno, "Failed to make a temporary directory: %m");
                        return EXIT_FAILURE;
                }
                snprintf(temp_uri, sizeof(temp_uri), "sqlite:%s/store.db", temp_dir);
                uri = temp_uri;
                temp = true;
        }
        printf("look-bench: %ld CPUs online, netdep %s, SQLite %s, libpq %d\n", sysconf(_SC_NPROCESSORS_ONLN),
               o.netdep, sqlite3_libversion(), PQlibVersion());
        fflush(stdout);

        print_load("at the start");
        r = run(&o, uri);
        print_load("at the end");

        if (temp && o.keep)
                printf("\nkept the store: %s (look-bench --store %s --reuse)\n", uri, uri);
        else if (temp)
                remove_temp_store(temp_dir);
        if (r < 0)
                return EXIT_FAILURE;
        return r > 0 ? 3 : EXIT_SUCCESS;
}
