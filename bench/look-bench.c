/* look-bench: how long `netdep look --depth 3`, `netdep graph` of the whole
 * store and `netdep impact` take on a store of 10,000 hosts and about 1.36
 * million edges, and how much memory, each next to a naive peer that asks
 * the store once per node, timed in the same run on the same store.
 *
 *   look-bench [--store URI] [--reuse] [--keep] [--services N] [--depth D]
 *              [--queries N] [--infra-queries N] [--cli-runs N]
 *              [--impact-queries N] [--graph-runs N] [--seed S]
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
 * Then, the store opened once, the CLI end to end (fork to wait4, stdout
 * to /dev/null, peak RSS from ru_maxrss): `netdep look --host ADDR --depth
 * D --store URI` on the first --cli-runs (10) sampled hosts, then
 * --graph-runs (3) rounds of `netdep graph --format dot --store URI` (by
 * process, the default), the same `--group-by host`, and `netdep impact
 * 10.0.0.1 --store URI` (every host depends on it). A child's ru_maxrss
 * starts from the bench's RSS at the fork: the CLI goes first, while the
 * bench is small, and the bench prints its RSS beside theirs.
 *
 * Then in-process, each beside a naive peer that asks the store once per
 * node, interleaved (which goes first alternates):
 *
 *   look     depth D (3), both directions, per query nd_graph_init +
 *            nd_look + nd_look_result_done + nd_graph_done. nd_look():
 *            one store query per level and direction (a level of more
 *            than 256 nodes: one per batch of them, 256, 512, ...). Naive:
 *            the same tree walked breadth-first with one nd_store_edges()
 *            call per label expanded (one address each), the shadow rule
 *            of graph.h, each label expanded once per direction, and the
 *            same ND_LOOK_MAX_NODES cap (it stops querying once the tree
 *            is full). Over --queries (50) lb/app/db hosts drawn with
 *            --seed (1) outside the infra hosts, and --infra-queries (3)
 *            infra hosts, the worst case: 10,000 clients (0 skips them).
 *   impact   nd_impact(), depth ND_IMPACT_MAX_DEPTH, of the first
 *            --impact-queries (10) sampled hosts and of the infra hosts.
 *            Naive: breadth first over hosts, one nd_store_edges() call
 *            per host (the edges into it), each host once.
 *   graph    --graph-runs times, nd_graph_view() of the whole store by
 *            process. Naive: one nd_store_edges() call per stored address
 *            (the edges into it), the shadow rule, folded into the same
 *            nd_endpoint_graph.
 *
 * Each pair must agree (nodes of a tree, dependents, nodes and links of
 * the picture); a note says where not. --graph-runs 0 skips the graph and
 * impact CLI and the in-process graph.
 *
 * Prints median, p90 and max, the size of each answer, the ratios netdep
 * / naive, and a line per target, PASS or FAIL:
 *
 *   - the median in-process nd_look of the sampled hosts <= 50 ms;
 *   - nd_look / naive, medians of the sampled hosts, <= 0.33;
 *   - the median `netdep graph` of the whole store (by process and by
 *     host) and `netdep impact` of an infra host <= 2 s each;
 *   - the CLI's peak RSS <= 64 MiB, for look, graph and impact.
 *
 * Run from the top of the tree:
 *
 *   ninja -C build && build/bench/look-bench                     # SQLite
 *   ninja -C build && tests/with-postgres.sh build/bench/look-bench
 *
 * Exit status: 0 measured and every target met, 1 the bench failed, 2
 * usage error, 3 measured but a target was missed. */
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

#include "api/graph_view.h"
#include "api/impact.h"
#include "api/look.h"
#include "model/endpoint_graph.h"
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
#define TARGET_LOOK_RATIO 0.33 /* nd_look / naive, medians */
#define TARGET_WHOLE_S 2.0 /* netdep graph of the whole store, netdep impact of an infra host */
#define TARGET_CLI_RSS_KIB (64 * 1024)

struct bench_options {
        const char *uri; /* NULL: a temporary SQLite file */
        bool reuse, keep;
        unsigned services, depth, queries, infra_queries, cli_runs;
        unsigned impact_queries, graph_runs;
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

/* What one answer holds: nodes of a tree or a picture, dependents of an
 * impact; links of a picture. */
struct walk_result {
        size_t nodes, links, queries;
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

/* ---- the naive impact ---- */

/* What depends on addr: breadth first over hosts, one nd_store_edges()
 * call per host for the clients of its servers, each host once, at most
 * depth hops out. */
static int naive_impact(struct nd_store *s, const char *addr, unsigned depth, struct walk_result *ret)
{
        struct label_list level = {}, next = {};
        struct walk_result res = {};
        struct strmap found;
        int r;

        strmap_init(&found);
        r = strmap_put(&found, addr, 0, NULL);
        if (r >= 0)
                r = label_list_push(&level, addr);
        for (unsigned d = 0; r >= 0 && d < depth && level.n > 0; d++) {
                for (size_t i = 0; r >= 0 && i < level.n; i++) {
                        const char *addrs[] = { level.items[i] };
                        struct nd_edge_query q = {
                                .match = ND_MATCH_SERVER_ADDR, .addrs = addrs, .n_addrs = 1,
                                .range = { INT64_MIN, INT64_MAX },
                        };
                        struct nd_edge_list edges = {};

                        r = nd_store_edges(s, &q, &edges);
                        res.queries++;
                        for (size_t k = 0; r >= 0 && k < edges.n; k++) {
                                r = strmap_put(&found, edges.items[k].client.addr, 0, NULL);
                                if (r > 0) {
                                        res.nodes++;
                                        r = label_list_push(&next, edges.items[k].client.addr);
                                }
                        }
                        nd_edge_list_done(&edges);
                }
                label_list_done(&level);
                level = next;
                next = (struct label_list){};
        }
        label_list_done(&level);
        label_list_done(&next);
        strmap_done(&found);
        if (r < 0)
                return bench_error(r, "naive impact of %s failed: %s", addr, nd_store_last_error(s));
        *ret = res;
        return 0;
}

static int netdep_impact(struct nd_store *s, const char *addr, unsigned depth, struct walk_result *ret)
{
        struct nd_impact_options o = {
                .host = addr, .depth = (int)depth,
                .range = { INT64_MIN, INT64_MAX }, .now = (int64_t)time(NULL),
        };
        struct nd_impact_result res = {};
        struct nd_graph g;
        int r;

        r = nd_graph_init(&g, s, false);
        if (r >= 0)
                r = nd_impact(&g, &o, &res);
        if (r >= 0) {
                *ret = (struct walk_result){ .nodes = res.n, .truncated = res.cut };
                nd_impact_result_done(&res);
        }
        nd_graph_done(&g);
        if (r < 0)
                return bench_error(r, "nd_impact of %s failed: %s", addr, nd_store_last_error(s));
        return 0;
}

/* ---- the naive graph ---- */

/* addr's hostname, as its agent reported it, or NULL. */
static const char *hostname_in(const struct nd_host_list *hosts, const struct strmap *index, const char *addr)
{
        size_t i;

        return strmap_get(index, addr, &i) && hosts->items[i].hostname[0] ? hosts->items[i].hostname : NULL;
}

/* The whole store as one picture by process: one nd_store_edges() call
 * per stored address for the edges into it, the shadow rule, each edge
 * folded into the picture with its hostnames, as graph_view.c does. */
static int naive_graph(struct nd_store *s, struct walk_result *ret)
{
        struct nd_host_list addrs = {}, hosts = {};
        struct nd_endpoint_graph picture;
        struct walk_result res = {};
        struct strmap hostname_index;
        int r;

        nd_endpoint_graph_init(&picture, ND_GROUP_BY_PROCESS);
        strmap_init(&hostname_index);
        r = nd_store_endpoint_addrs(s, &addrs);
        if (r >= 0)
                r = nd_store_hosts(s, &hosts);
        for (size_t i = 0; r >= 0 && i < hosts.n; i++)
                r = strmap_put(&hostname_index, hosts.items[i].addr, i, NULL);
        for (size_t i = 0; r >= 0 && i < addrs.n; i++) {
                const char *one[] = { addrs.items[i].addr };
                struct nd_edge_query q = {
                        .match = ND_MATCH_SERVER_ADDR, .addrs = one, .n_addrs = 1,
                        .range = { INT64_MIN, INT64_MAX },
                };
                struct nd_edge_list edges = {};

                if (bench_interrupted)
                        r = -EINTR;
                if (r >= 0)
                        r = nd_store_edges(s, &q, &edges);
                res.queries++;
                if (r >= 0)
                        qsort(edges.items, edges.n, sizeof(*edges.items), compare_for_shadow);
                for (size_t k = 0; r >= 0 && k < edges.n; k++) {
                        const struct nd_edge *e = &edges.items[k];

                        if (shadowed(&edges, k))
                                continue;
                        struct nd_endpoint_ref client = {
                                e->client.addr, hostname_in(&hosts, &hostname_index, e->client.addr), 0,
                                e->client.process, e->client.pgid, e->client_processes,
                        };
                        struct nd_endpoint_ref server = {
                                e->server.addr, hostname_in(&hosts, &hostname_index, e->server.addr),
                                e->server.port, e->server.process, e->server.pgid, 0,
                        };
                        struct nd_edge_counts counts = {
                                .connections = e->connections, .opened = e->opened, .failed = e->failed,
                                .first_seen = e->first_seen, .last_seen = e->last_seen,
                        };

                        r = nd_endpoint_graph_add(&picture, &client, &server, &counts);
                }
                nd_edge_list_done(&edges);
        }
        if (r >= 0)
                *ret = (struct walk_result){ .nodes = picture.n_nodes, .links = picture.n_links,
                                             .queries = res.queries };
        nd_endpoint_graph_done(&picture);
        strmap_done(&hostname_index);
        nd_host_list_done(&addrs);
        nd_host_list_done(&hosts);
        if (r < 0 && r != -EINTR)
                return bench_error(r, "naive graph failed: %s", nd_store_last_error(s));
        return r < 0 ? r : 0;
}

static int netdep_graph(struct nd_store *s, struct walk_result *ret)
{
        struct nd_graph_view_options o = { .range = { INT64_MIN, INT64_MAX }, .now = (int64_t)time(NULL) };
        struct nd_endpoint_graph picture;
        struct nd_graph g;
        int r;

        nd_endpoint_graph_init(&picture, ND_GROUP_BY_PROCESS);
        r = nd_graph_init(&g, s, false);
        if (r >= 0)
                r = nd_graph_view(&g, &o, &picture);
        if (r >= 0)
                *ret = (struct walk_result){ .nodes = picture.n_nodes, .links = picture.n_links };
        nd_endpoint_graph_done(&picture);
        nd_graph_done(&g);
        if (r < 0)
                return bench_error(r, "nd_graph_view failed: %s", nd_store_last_error(s));
        return 0;
}

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

/* A question asked of one host two ways: nd_look() or nd_impact(), and
 * its naive peer. */
struct question {
        const char *name, *unit; /* "look", "nodes" */
        int (*netdep)(struct nd_store *s, const char *addr, unsigned depth, struct walk_result *ret);
        int (*naive)(struct nd_store *s, const char *addr, unsigned depth, struct walk_result *ret);
};

static const struct question look_question = { "look", "nodes", netdep_look, naive_look };
static const struct question impact_question = { "impact", "dependents", netdep_impact, naive_impact };

/* The answers of both, timed side by side. */
struct pair {
        struct samples netdep, naive;
        size_t queries_naive; /* store queries, summed */
        unsigned mismatches;
};

/* The runs of one command line. */
struct cli_runs {
        struct samples runs;
        long maxrss_kib;
};

struct results {
        struct pair look, look_infra, impact, impact_infra, graph;
        struct cli_runs look_cli, graph_cli, graph_host_cli, impact_cli;
        long bench_rss_kib; /* at the CLI runs: a floor under their ru_maxrss */
};

static void note_mismatch(struct pair *p, const char *what, const char *unit, const struct walk_result *a,
                          const struct walk_result *b)
{
        if (a->nodes == b->nodes && a->links == b->links)
                return;
        if (p->mismatches++ < 5)
                printf("  note: %s: netdep has %zu %s%s and %zu links, the naive peer %zu%s and %zu\n", what,
                       a->nodes, unit, a->truncated ? " (cut)" : "", a->links, b->nodes,
                       b->truncated ? " (cut)" : "", b->links);
}

static int time_hosts(struct nd_store *s, const struct question *q, unsigned depth, const struct host_ref *hosts,
                      size_t n, bool infra, struct pair *p)
{
        bool progress = isatty(STDERR_FILENO);

        for (size_t i = 0; i < n; i++) {
                char addr[ND_ADDR_TEXT_MAX], what[64];
                struct walk_result a = {}, b = {};
                double t0, t1, t2;
                int r;

                if (bench_interrupted)
                        return -EINTR;
                if (progress)
                        fprintf(stderr, "  %s %s %zu/%zu\r", q->name, infra ? "infra" : "sampled", i + 1, n);
                host_addr(hosts[i].svc, hosts[i].h, addr);
                /* Alternate which goes first, so that drift hits both alike. */
                t0 = monotonic_s();
                r = i % 2 ? q->naive(s, addr, depth, &b) : q->netdep(s, addr, depth, &a);
                t1 = monotonic_s();
                if (r >= 0)
                        r = i % 2 ? q->netdep(s, addr, depth, &a) : q->naive(s, addr, depth, &b);
                t2 = monotonic_s();
                if (r < 0)
                        return r;
                samples_add(&p->netdep, i % 2 ? t2 - t1 : t1 - t0, &a);
                samples_add(&p->naive, i % 2 ? t1 - t0 : t2 - t1, &b);
                p->queries_naive += b.queries;
                snprintf(what, sizeof(what), "%s %s", q->name, addr);
                note_mismatch(p, what, q->unit, &a, &b);
                if (infra)
                        printf("  infra %-12s netdep %8.1f ms, naive %8.1f ms (%zu store queries), %zu %s%s\n",
                               addr, 1e3 * p->netdep.seconds[p->netdep.n - 1], 1e3 * p->naive.seconds[p->naive.n - 1],
                               b.queries, a.nodes, q->unit, a.truncated ? " (cut)" : "");
        }
        if (progress)
                fprintf(stderr, "%32s\r", "");
        return 0;
}

/* The whole store as one picture, nd_graph_view() and the naive peer in
 * turn, runs times. */
static int time_graph(struct nd_store *s, unsigned runs, struct pair *p)
{
        for (unsigned i = 0; i < runs; i++) {
                struct walk_result a = {}, b = {};
                double t0, t1, t2;
                int r;

                if (bench_interrupted)
                        return -EINTR;
                t0 = monotonic_s();
                r = i % 2 ? naive_graph(s, &b) : netdep_graph(s, &a);
                t1 = monotonic_s();
                if (r >= 0)
                        r = i % 2 ? netdep_graph(s, &a) : naive_graph(s, &b);
                t2 = monotonic_s();
                if (r < 0)
                        return r;
                samples_add(&p->netdep, i % 2 ? t2 - t1 : t1 - t0, &a);
                samples_add(&p->naive, i % 2 ? t1 - t0 : t2 - t1, &b);
                p->queries_naive += b.queries;
                note_mismatch(p, "graph", "nodes", &a, &b);
                printf("  run %u: nd_graph_view %8.1f ms, naive %8.1f ms (%zu store queries), %zu nodes, %zu links\n",
                       i + 1, 1e3 * p->netdep.seconds[p->netdep.n - 1], 1e3 * p->naive.seconds[p->naive.n - 1],
                       b.queries, a.nodes, a.links);
                fflush(stdout);
        }
        return 0;
}

/* ---- running the CLI ---- */

static int run_cli(const struct bench_options *o, const char *const *argv, int devnull, struct cli_runs *out)
{
        struct command_result c;
        int r;

        if (bench_interrupted)
                return -EINTR;
        r = run_command(argv, devnull, o->timeout_s, &bench_interrupted, &c);
        if (r < 0)
                return r;
        samples_add(&out->runs, c.seconds, NULL);
        if (c.maxrss_kib > out->maxrss_kib)
                out->maxrss_kib = c.maxrss_kib;
        return 0;
}

static int time_cli(const struct bench_options *o, const char *uri, const struct host_ref *hosts, size_t n,
                    struct results *res)
{
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        char depth[16], infra[ND_ADDR_TEXT_MAX];
        const char *graph[] = { o->netdep, "graph", "--format", "dot", "--store", uri, NULL };
        const char *graph_host[] = {
                o->netdep, "graph", "--format", "dot", "--group-by", "host", "--store", uri, NULL,
        };
        const char *impact[] = { o->netdep, "impact", infra, "--store", uri, NULL };
        struct proc_sample self;
        int r;

        if (devnull < 0)
                return -errno;
        if (sample_proc(getpid(), &self) >= 0)
                res->bench_rss_kib = self.rss_kib;
        snprintf(depth, sizeof(depth), "%u", o->depth);
        for (size_t i = 0; i < n; i++) {
                char addr[ND_ADDR_TEXT_MAX];
                const char *argv[] = { o->netdep, "look", "--host", addr, "--depth", depth, "--store", uri, NULL };

                host_addr(hosts[i].svc, hosts[i].h, addr);
                r = run_cli(o, argv, devnull, &res->look_cli);
                if (r < 0)
                        return r;
        }
        /* Interleaved: one round is one run of each. */
        host_addr(0, 0, infra); /* 10.0.0.1 */
        for (unsigned i = 0; i < o->graph_runs; i++) {
                r = run_cli(o, graph, devnull, &res->graph_cli);
                if (r >= 0)
                        r = run_cli(o, graph_host, devnull, &res->graph_host_cli);
                if (r >= 0)
                        r = run_cli(o, impact, devnull, &res->impact_cli);
                if (r < 0)
                        return r;
                printf("  round %u: graph %.2f s, graph --group-by host %.2f s, impact %s %.2f s\n", i + 1,
                       res->graph_cli.runs.seconds[i], res->graph_host_cli.runs.seconds[i], infra,
                       res->impact_cli.runs.seconds[i]);
                fflush(stdout);
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

static void print_header(const char *unit)
{
        printf("\n  %-34s %4s %9s %9s %9s %10s %10s\n", "milliseconds", "runs", "median", "p90", "max", unit,
               "max");
}

/* One target's line; skipped (no runs) counts as met. */
static bool verdict(const char *what, bool measured, double value, const char *unit, bool pass)
{
        if (!measured) {
                printf("  %-58s %10s  skipped\n", what, "-");
                return true;
        }
        printf("  %-58s %7.2f %-3s %s\n", what, value, unit, pass ? "PASS" : "FAIL");
        return pass;
}

static bool rss_verdict(const char *what, const struct cli_runs *c)
{
        return verdict(what, c->runs.n > 0, mib(c->maxrss_kib), "MiB", c->maxrss_kib <= TARGET_CLI_RSS_KIB);
}

static bool whole_verdict(const char *what, const struct cli_runs *c)
{
        double m = quantile(&c->runs, 0.5);

        return verdict(what, c->runs.n > 0, m, "s", m <= TARGET_WHOLE_S);
}

/* Prints the tables, the ratios and a line per target; true when every
 * target measured was met. */
static bool report(const struct bench_options *o, const struct results *res)
{
        const struct { const char *label; const struct pair *p; } pairs[] = {
                { "look, sampled lb/app/db hosts", &res->look },
                { "look, infra hosts", &res->look_infra },
                { "impact, sampled hosts", &res->impact },
                { "impact, infra hosts", &res->impact_infra },
                { "graph, the whole store", &res->graph },
        };
        char label[64];
        double look_median = quantile(&res->look.netdep, 0.5);
        double look_ratio = ratio(look_median, quantile(&res->look.naive, 0.5));
        bool pass = true;

        print_header("nodes med");
        print_samples("nd_look, sampled lb/app/db hosts", &res->look.netdep, true);
        print_samples("naive, sampled hosts", &res->look.naive, true);
        print_samples("nd_look, infra hosts", &res->look_infra.netdep, true);
        print_samples("naive, infra hosts", &res->look_infra.naive, true);
        print_samples("netdep look CLI, sampled hosts", &res->look_cli.runs, false);
        print_header("deps med");
        print_samples("nd_impact, sampled hosts", &res->impact.netdep, true);
        print_samples("naive, sampled hosts", &res->impact.naive, true);
        print_samples("nd_impact, infra hosts", &res->impact_infra.netdep, true);
        print_samples("naive, infra hosts", &res->impact_infra.naive, true);
        print_samples("netdep impact 10.0.0.1 CLI", &res->impact_cli.runs, false);
        print_header("nodes med");
        print_samples("nd_graph_view, by process", &res->graph.netdep, true);
        print_samples("naive graph, by process", &res->graph.naive, true);
        print_samples("netdep graph CLI, by process", &res->graph_cli.runs, false);
        print_samples("netdep graph CLI, by host", &res->graph_host_cli.runs, false);

        printf("\n  naive store queries per look: %.1f (sampled), %.1f (infra); nd_look: %u, more for levels "
               "past 256 nodes\n",
               res->look.netdep.n ? (double)res->look.queries_naive / res->look.netdep.n : 0,
               res->look_infra.netdep.n ? (double)res->look_infra.queries_naive / res->look_infra.netdep.n : 0,
               2 * o->depth);
        printf("  naive store queries per impact: %.1f (sampled), %.1f (infra); per graph: %.0f\n",
               res->impact.netdep.n ? (double)res->impact.queries_naive / res->impact.netdep.n : 0,
               res->impact_infra.netdep.n ? (double)res->impact_infra.queries_naive / res->impact_infra.netdep.n
                                          : 0,
               res->graph.netdep.n ? (double)res->graph.queries_naive / res->graph.netdep.n : 0);
        for (size_t i = 0; i < ELEMENTSOF(pairs); i++)
                if (pairs[i].p->mismatches)
                        printf("  %s: netdep and the naive peer differed in %u answers\n", pairs[i].label,
                               pairs[i].p->mismatches);
        printf("  CLI peak RSS (ru_maxrss), MiB: look %.1f, graph %.1f, graph --group-by host %.1f, impact %.1f "
               "(the bench's own RSS at the forks: %.1f)\n",
               mib(res->look_cli.maxrss_kib), mib(res->graph_cli.maxrss_kib), mib(res->graph_host_cli.maxrss_kib),
               mib(res->impact_cli.maxrss_kib), mib(res->bench_rss_kib));

        printf("\n");
        for (size_t i = 0; i < ELEMENTSOF(pairs); i++) {
                if (pairs[i].p->netdep.n == 0)
                        continue;
                snprintf(label, sizeof(label), "netdep / naive (medians, %s)", pairs[i].label);
                printf("  %-58s %7.2f\n", label,
                       ratio(quantile(&pairs[i].p->netdep, 0.5), quantile(&pairs[i].p->naive, 0.5)));
        }
        printf("  %-58s %7.2f\n", "look CLI / nd_look (medians, sampled)",
               ratio(quantile(&res->look_cli.runs, 0.5), look_median));

        pass = res->look.netdep.n > 0 && look_median <= TARGET_MEDIAN_S;
        printf("\n  target: median nd_look, depth %u, sampled hosts <= %.0f ms: %.2f ms  %s   "
               "(CLI end to end: %.2f ms)\n",
               o->depth, 1e3 * TARGET_MEDIAN_S, 1e3 * look_median, pass ? "PASS" : "FAIL",
               1e3 * quantile(&res->look_cli.runs, 0.5));
        snprintf(label, sizeof(label), "target: nd_look / naive, medians, sampled <= %.2f", TARGET_LOOK_RATIO);
        pass &= verdict(label, res->look.naive.n > 0, look_ratio, "", look_ratio <= TARGET_LOOK_RATIO);
        pass &= whole_verdict("target: netdep graph, whole store, median <= 2 s", &res->graph_cli);
        pass &= whole_verdict("target: netdep graph --group-by host, median <= 2 s", &res->graph_host_cli);
        pass &= whole_verdict("target: netdep impact 10.0.0.1, median <= 2 s", &res->impact_cli);
        pass &= rss_verdict("target: netdep look CLI peak RSS <= 64 MiB", &res->look_cli);
        pass &= rss_verdict("target: netdep graph CLI peak RSS <= 64 MiB", &res->graph_cli);
        pass &= rss_verdict("target: netdep graph --group-by host peak RSS <= 64 MiB", &res->graph_host_cli);
        pass &= rss_verdict("target: netdep impact CLI peak RSS <= 64 MiB", &res->impact_cli);
        return pass;
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

        /* First, while the bench is small: a forked child's ru_maxrss
         * starts from the bench's RSS at the fork. */
        printf("\n== the CLI end to end (fork to wait4, stdout to /dev/null): look, then %u rounds of graph, "
               "graph --group-by host, impact\n",
               o->graph_runs);
        fflush(stdout);
        r = time_cli(o, uri, hosts, o->cli_runs < n_hosts ? o->cli_runs : n_hosts, res);
        if (r < 0)
                goto finish;

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
        r = time_hosts(s, &look_question, o->depth, hosts, n_hosts, false, &res->look);
        if (r >= 0)
                r = time_hosts(s, &look_question, o->depth, infra_hosts, n_infra, true, &res->look_infra);
        if (r < 0)
                goto finish;

        printf("\n== nd_impact vs naive, depth %d, in-process, open range\n", ND_IMPACT_MAX_DEPTH);
        fflush(stdout);
        r = time_hosts(s, &impact_question, ND_IMPACT_MAX_DEPTH, hosts,
                       o->impact_queries < n_hosts ? o->impact_queries : n_hosts, false, &res->impact);
        if (r >= 0)
                r = time_hosts(s, &impact_question, ND_IMPACT_MAX_DEPTH, infra_hosts, n_infra, true,
                               &res->impact_infra);
        if (r < 0)
                goto finish;

        if (o->graph_runs > 0) {
                printf("\n== nd_graph_view vs naive, the whole store by process, in-process, open range\n");
                fflush(stdout);
                r = time_graph(s, o->graph_runs, &res->graph);
                if (r < 0)
                        goto finish;
        }

        r = report(o, res) ? 0 : 1;
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
                "(depth 3), nd_impact and nd_graph_view of the whole store, each against\n"
                "a one-query-per-node peer, and the look, graph and impact CLI.\n"
                "\n"
                "Options:\n"
                "      --store URI         default $ND_TEST_STORE, else a temporary SQLite file\n"
                "      --reuse             the store was built by an earlier run: only query\n"
                "      --keep              keep the temporary SQLite file, and say where\n"
                "      --services N        services of 100 hosts (1..100, default 100)\n"
                "      --depth D           1..%d (default 3)\n"
                "      --queries N         sampled lb/app/db hosts (default 50)\n"
                "      --infra-queries N   infra hosts, the worst case (0..10, default 3)\n"
                "      --cli-runs N        look CLI runs on the first sampled hosts (default 10)\n"
                "      --impact-queries N  nd_impact of the first sampled hosts (default 10)\n"
                "      --graph-runs N      runs of the whole graph, in-process, and rounds of\n"
                "                          the graph and impact CLI (default 3; 0 skips them)\n"
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
                OPT_IMPACT_QUERIES,
                OPT_GRAPH_RUNS,
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
                { "impact-queries", required_argument, NULL, OPT_IMPACT_QUERIES },
                { "graph-runs", required_argument, NULL, OPT_GRAPH_RUNS },
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
                case OPT_IMPACT_QUERIES:
                        r = bench_parse_uint(optarg, 0, MAX_QUERIES, &o->impact_queries);
                        break;
                case OPT_GRAPH_RUNS:
                        r = bench_parse_uint(optarg, 0, 100, &o->graph_runs);
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
                .impact_queries = 10,
                .graph_runs = 3,
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
