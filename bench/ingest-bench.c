/* ingest-bench: how many edges a second netdep's PostgreSQL back end
 * upserts, next to a naive one-statement-per-row loop, timed in the same
 * run on the same server.
 *
 *   ingest-bench [--hosts N] [--flows N] [--rounds R] [--jobs J]
 *                [--naive-hosts N] [URI]
 *
 * URI is a postgres:// or postgresql:// store (default $ND_TEST_STORE); run
 * it on an empty database, e.g. a throwaway one:
 *
 *   ninja -C build && tests/with-postgres.sh build/bench/ingest-bench
 *
 * A synthetic fleet of N hosts (1,000) each flushes F flows (50): 40 as the
 * client of other hosts' servers (5 processes, 4 ports), 10 as a server
 * (nginx on port 80) to clients that run no agent. Servers are shared, as
 * in a real fleet. One flush is one transaction; the fleet flushes R times
 * (3): first every edge is new, then every edge is updated at a later ts
 * (a new observation bucket). Two ways of writing the same rows, each on
 * addresses of its own:
 *
 *   netdep   nd_store_ingest(): per flush, set-based upserts over the rows
 *            sent as column arrays, in one pipeline (src/store/postgres-ingest.c)
 *   naive    per row one prepared INSERT ... ON CONFLICT (a CTE chain that
 *            upserts both endpoints, the edge and its observation, with
 *            the same merge rules), PQexecPrepared in a loop; plus the
 *            flush's hosts upsert; BEGIN/COMMIT around each flush, as
 *            netdep does. Only the first --naive-hosts hosts (200), to
 *            bound the run.
 *
 * Three runs, in this order:
 *
 *   1. naive, one connection;
 *   2. netdep, one connection: the ratio 2/1 is batching alone;
 *   3. netdep, J connections at once (4), each the flushes of every J-th
 *      host, as a fleet's agents write: the target is on this one.
 *
 * The naive loop gets no concurrent run: its row locks come in each
 * agent's order, so concurrent flushes that share servers deadlock
 * (PostgreSQL waits deadlock_timeout, 1 s, then aborts one) and queue on
 * the servers' rows; at 4 connections it ran at a few hundred edges/s.
 * Both commit with the server's own durability settings. Each run writes
 * into the tables the runs before it filled. Rates are edges / wall time,
 * per round and over all rounds; PASS when run 3 reaches 50,000 edges/s.
 * When the server runs on this host (and /proc/PID/stat of its backends is
 * readable: root), each run also prints the CPU its backends used per edge,
 * which a busy machine disturbs far less than wall time.
 *
 * Exit status: 0 measured and the target met, 1 the bench failed, 2 usage
 * error, 3 measured but the target was missed. */
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "fleet-flush.h"
#include "shared/cleanup.h"
#include "store/store.h"

#define TARGET_EDGES_PER_SECOND 50000.0
#define DAY_START INT64_C(1800057600) /* a UTC midnight: every round falls on one day */
#define ROUND_SECONDS 60 /* each round one observation bucket later */
#define JOBS_MAX 64
#define NAIVE_APPLICATION_NAME "ingest-bench-naive" /* netdep's own connections say "netdep" */

struct options {
        const char *uri;
        unsigned hosts, flows, rounds, jobs, naive_hosts;
};

/* One writer: its own connection, its share of the fleet. */
enum run {
        RUN_NAIVE,
        RUN_NETDEP,
        RUN_NETDEP_FLEET,
        _RUN_MAX,
};

static const char *const run_name[_RUN_MAX] = {
        [RUN_NAIVE] = "naive",
        [RUN_NETDEP] = "netdep",
        [RUN_NETDEP_FLEET] = "netdep",
};

struct job {
        const struct options *o;
        unsigned index, n_jobs, round;
        enum run run; /* also the fleet's address range */
        struct nd_store *store; /* netdep */
        PGconn *conn; /* naive */
        struct nd_edge_observation *rows;
        int result;
};

static double now_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t round_ts(unsigned round)
{
        return DAY_START + 3600 + (int64_t)round * ROUND_SECONDS;
}

static int netdep_flush(struct job *j, unsigned h)
{
        char addr[ND_ADDR_TEXT_MAX], name[32];
        const char *addrs[] = { addr };
        int r;

        fleet_host_addr(j->run, h, addr);
        snprintf(name, sizeof(name), "host-%u", h);
        fleet_make_flush(j->o->hosts, j->o->flows, j->run, h, j->round, j->rows);
        struct nd_ingest in = {
                .hostname = name, .host_addrs = addrs, .n_host_addrs = 1,
                .ts = round_ts(j->round), .first_ts = round_ts(j->round) - 30,
                .rows = j->rows, .n_rows = j->o->flows,
        };
        r = nd_store_ingest(j->store, &in);
        if (r < 0)
                fprintf(stderr, "ingest-bench: ingest failed: %s\n", nd_store_last_error(j->store));
        return r;
}

/* The same rules as sqlite.c's statements, one row at a time. */
static const char naive_row_sql[] =
        "WITH c AS (INSERT INTO endpoints (addr, port, process, name, pgid) VALUES ($1, 0, $2, $2, $3) "
        "ON CONFLICT (addr, port, process) DO UPDATE SET "
        "pgid = CASE WHEN excluded.pgid >= 0 THEN excluded.pgid ELSE endpoints.pgid END RETURNING id), "
        "s AS (INSERT INTO endpoints (addr, port, process, name, pgid) VALUES ($4, $5, '', $6, $7) "
        "ON CONFLICT (addr, port, process) DO UPDATE SET "
        "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE endpoints.name END, "
        "pgid = CASE WHEN excluded.name <> '' THEN excluded.pgid ELSE endpoints.pgid END RETURNING id), "
        "e AS (INSERT INTO edges (client_id, server_id, first_seen, last_seen, last_connections, sides) "
        "SELECT c.id, s.id, $8, $9, $10, $11 FROM c, s "
        "ON CONFLICT (client_id, server_id) DO UPDATE SET "
        "first_seen = least(edges.first_seen, excluded.first_seen), "
        "last_connections = CASE WHEN excluded.last_seen >= edges.last_seen "
        "THEN excluded.last_connections ELSE edges.last_connections END, "
        "last_seen = greatest(edges.last_seen, excluded.last_seen), sides = edges.sides | excluded.sides "
        "RETURNING id) "
        "INSERT INTO observations (edge_id, bucket, connections, rtt_us, retrans, bytes_sent, bytes_received) "
        "SELECT e.id, $12, $10, $13, $14, $15, $16 FROM e "
        "ON CONFLICT (edge_id, bucket) DO UPDATE SET "
        "connections = greatest(observations.connections, excluded.connections), rtt_us = excluded.rtt_us, "
        "retrans = greatest(observations.retrans, excluded.retrans), "
        "bytes_sent = greatest(observations.bytes_sent, excluded.bytes_sent), "
        "bytes_received = greatest(observations.bytes_received, excluded.bytes_received)";

static const char naive_host_sql[] =
        "INSERT INTO hosts (addr, hostname, last_seen) VALUES ($1, $2, $3) "
        "ON CONFLICT (addr) DO UPDATE SET hostname = excluded.hostname, "
        "last_seen = greatest(hosts.last_seen, excluded.last_seen)";

static bool naive_ok(PGconn *conn, PGresult *res, const char *what)
{
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;

        if (!ok)
                fprintf(stderr, "ingest-bench: naive %s failed: %s", what, PQerrorMessage(conn));
        PQclear(res);
        return ok;
}

static bool naive_row(PGconn *conn, const struct nd_edge_observation *row, int64_t ts, int64_t first_ts)
{
        bool server_side = row->side == ND_SIDE_SERVER;
        char v[16][24];
        const char *params[16];

        snprintf(v[2], 24, "%d", server_side ? -1 : row->client.pgid);
        snprintf(v[4], 24, "%u", row->server.port);
        snprintf(v[6], 24, "%d", server_side ? row->server.pgid : -1);
        snprintf(v[7], 24, "%" PRId64, first_ts);
        snprintf(v[8], 24, "%" PRId64, ts);
        snprintf(v[9], 24, "%u", row->connections);
        snprintf(v[10], 24, "%d", (int)row->side);
        snprintf(v[11], 24, "%" PRId64, ts - ts % ND_BUCKET_SECONDS);
        snprintf(v[12], 24, "%u", row->rtt_us);
        snprintf(v[13], 24, "%" PRIu64, row->retrans);
        snprintf(v[14], 24, "%" PRIu64, row->bytes_sent);
        snprintf(v[15], 24, "%" PRIu64, row->bytes_received);
        for (int i = 0; i < 16; i++)
                params[i] = v[i];
        params[0] = row->client.addr;
        params[1] = server_side ? "" : row->client.process;
        params[3] = row->server.addr;
        params[5] = server_side ? row->server.process : "";
        return naive_ok(conn, PQexecPrepared(conn, "row", 16, params, NULL, NULL, 0), "row");
}

static int naive_flush(struct job *j, unsigned h)
{
        int64_t ts = round_ts(j->round);
        char addr[ND_ADDR_TEXT_MAX], name[32], ts_text[24];
        bool ok;

        fleet_host_addr(j->run, h, addr);
        snprintf(name, sizeof(name), "naive-%u", h);
        snprintf(ts_text, sizeof(ts_text), "%" PRId64, ts);
        fleet_make_flush(j->o->hosts, j->o->flows, j->run, h, j->round, j->rows);
        ok = naive_ok(j->conn, PQexec(j->conn, "BEGIN"), "begin") &&
             naive_ok(j->conn,
                      PQexecPrepared(j->conn, "host", 3, (const char *[]){ addr, name, ts_text }, NULL, NULL, 0),
                      "host");
        for (unsigned i = 0; ok && i < j->o->flows; i++)
                ok = naive_row(j->conn, &j->rows[i], ts, ts - 30);
        if (!ok || !naive_ok(j->conn, PQexec(j->conn, "COMMIT"), "commit"))
                return -1;
        return 0;
}

static void *job_run(void *userdata)
{
        struct job *j = userdata;
        unsigned hosts = j->run == RUN_NAIVE ? j->o->naive_hosts : j->o->hosts;

        j->result = 0;
        for (unsigned h = j->index; h < hosts && j->result >= 0; h += j->n_jobs)
                j->result = j->run == RUN_NAIVE ? naive_flush(j, h) : netdep_flush(j, h);
        return NULL;
}

/* One round of every job at once; returns its wall time, or < 0. */
static double run_round(struct job *jobs, unsigned n_jobs, unsigned round)
{
        pthread_t threads[JOBS_MAX];
        double start = now_seconds();
        bool ok = true;

        for (unsigned i = 0; i < n_jobs; i++) {
                jobs[i].round = round;
                if (pthread_create(&threads[i], NULL, job_run, &jobs[i]) != 0) {
                        jobs[i].result = -1;
                        n_jobs = i;
                        ok = false;
                }
        }
        for (unsigned i = 0; i < n_jobs; i++) {
                pthread_join(threads[i], NULL);
                ok = ok && jobs[i].result >= 0;
        }
        return ok ? now_seconds() - start : -1;
}

static int parse_count(const char *arg, unsigned min, unsigned max, unsigned *ret)
{
        char *end;
        unsigned long v = strtoul(arg, &end, 10);

        if (!*arg || *end || v < min || v > max)
                return -1;
        *ret = (unsigned)v;
        return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
                { "hosts", required_argument, NULL, 'H' },
                { "flows", required_argument, NULL, 'f' },
                { "rounds", required_argument, NULL, 'r' },
                { "jobs", required_argument, NULL, 'j' },
                { "naive-hosts", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct options){ .hosts = 1000, .flows = 50, .rounds = 3, .jobs = 4, .naive_hosts = 200 };
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                int r = 0;

                switch (c) {
                case 'H': r = parse_count(optarg, FLEET_CLIENT_FLOWS + 1, FLEET_MAX_HOSTS, &o->hosts); break;
                case 'f': r = parse_count(optarg, FLEET_CLIENT_FLOWS + 1, FLEET_MAX_FLOWS, &o->flows); break;
                case 'r': r = parse_count(optarg, 2, 100, &o->rounds); break;
                case 'j': r = parse_count(optarg, 1, JOBS_MAX, &o->jobs); break;
                case 'n': r = parse_count(optarg, 1, 62500, &o->naive_hosts); break;
                case 'h':
                        printf("Usage: ingest-bench [--hosts N] [--flows N] [--rounds R] [--jobs J] "
                               "[--naive-hosts N] [URI]\n");
                        exit(0);
                default:
                        return -1;
                }
                if (r < 0) {
                        fprintf(stderr, "ingest-bench: invalid value '%s'\n", optarg);
                        return -1;
                }
        }
        if (optind < argc - 1)
                return -1;
        o->uri = optind < argc ? argv[optind] : getenv("ND_TEST_STORE");
        if (!o->uri || (strncmp(o->uri, "postgres://", 11) && strncmp(o->uri, "postgresql://", 13))) {
                fprintf(stderr, "ingest-bench: give a postgresql:// URI (or set ND_TEST_STORE)\n");
                return -1;
        }
        if (!fleet_size_ok(o->hosts)) {
                fprintf(stderr, "ingest-bench: --hosts must not be a multiple of 13\n");
                return -1;
        }
        if (o->naive_hosts > o->hosts)
                o->naive_hosts = o->hosts;
        return 0;
}

static int jobs_open(struct job *jobs, const struct options *o)
{
        char err[512];

        for (unsigned i = 0; i < o->jobs; i++) {
                struct job *j = &jobs[i];

                *j = (struct job){ .o = o, .index = i };
                j->rows = calloc(o->flows, sizeof(*j->rows));
                if (!j->rows)
                        return -1;
                if (nd_store_open(o->uri, 0, &j->store, err, sizeof(err)) < 0) {
                        fprintf(stderr, "ingest-bench: cannot open store: %s\n", err);
                        return -1;
                }
                j->conn = PQconnectdbParams((const char *[]){ "dbname", "fallback_application_name", NULL },
                                            (const char *[]){ o->uri, NAIVE_APPLICATION_NAME, NULL }, 1);
                if (PQstatus(j->conn) != CONNECTION_OK) {
                        fprintf(stderr, "ingest-bench: naive connection: %s", PQerrorMessage(j->conn));
                        return -1;
                }
                if (!naive_ok(j->conn, PQprepare(j->conn, "row", naive_row_sql, 0, NULL), "prepare") ||
                    !naive_ok(j->conn, PQprepare(j->conn, "host", naive_host_sql, 0, NULL), "prepare"))
                        return -1;
        }
        return 0;
}

static void jobs_close(struct job *jobs, unsigned n)
{
        for (unsigned i = 0; i < n; i++) {
                free(jobs[i].rows);
                nd_store_close(jobs[i].store);
                PQfinish(jobs[i].conn);
        }
}

/* CPU seconds the server's backends of one kind (by application_name)
 * have used, read from /proc: < 0 when the server is not on this host or
 * not readable. Wall time alone says little on a busy machine; CPU per
 * edge says what a core of the server does. */
static double backend_cpu_seconds(PGconn *conn, const char *application_name)
{
        PGresult *res = PQexecParams(conn,
                                     "SELECT pid FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND application_name = $1",
                                     1, NULL, (const char *[]){ application_name }, NULL, NULL, 0);
        double total = 0;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) == 0)
                total = -1;
        for (int i = 0; total >= 0 && i < PQntuples(res); i++) {
                char path[64], buf[1024];
                unsigned long long utime, stime;
                FILE *f;
                char *fields;

                snprintf(path, sizeof(path), "/proc/%s/stat", PQgetvalue(res, i, 0));
                f = fopen(path, "re");
                if (!f || !fgets(buf, sizeof(buf), f) || !(fields = strrchr(buf, ')')) ||
                    sscanf(fields + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
                        total = -1;
                else
                        total += (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
                if (f)
                        fclose(f);
        }
        PQclear(res);
        return total;
}

static double own_cpu_seconds(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               (double)ru.ru_stime.tv_usec / 1e6;
}

/* Times every round of one run on its first n_jobs jobs; returns total
 * edges / total seconds, or < 0. */
static double measure(struct job *jobs, const struct options *o, enum run run, unsigned n_jobs)
{
        unsigned hosts = run == RUN_NAIVE ? o->naive_hosts : o->hosts;
        unsigned long per_round = (unsigned long)hosts * o->flows;
        double total = 0;

        printf("\n  %u. %s, %u host%s, %u connection%s: %s\n", run + 1, run_name[run], hosts, hosts == 1 ? "" : "s",
               n_jobs, n_jobs == 1 ? "" : "s at once",
               run == RUN_NAIVE ? "one INSERT ... ON CONFLICT per row, BEGIN/COMMIT per flush"
                                : "nd_store_ingest() per flush");
        const char *application_name = run == RUN_NAIVE ? NAIVE_APPLICATION_NAME : "netdep";
        double server_cpu = backend_cpu_seconds(jobs[0].conn, application_name), client_cpu = own_cpu_seconds();

        for (unsigned i = 0; i < n_jobs; i++) {
                jobs[i].run = run;
                jobs[i].n_jobs = n_jobs;
        }
        for (unsigned round = 0; round < o->rounds; round++) {
                double seconds = run_round(jobs, n_jobs, round);

                if (seconds < 0)
                        return -1;
                total += seconds;
                printf("     round %u (%s): %7lu edges in %7.3f s = %9.0f edges/s\n", round + 1,
                       round == 0 ? "insert" : "update", per_round, seconds, (double)per_round / seconds);
        }
        double edges = (double)per_round * o->rounds, after = backend_cpu_seconds(jobs[0].conn, application_name);

        client_cpu = own_cpu_seconds() - client_cpu;
        if (server_cpu >= 0 && after >= 0)
                printf("     CPU: server backends %.2f s = %.1f us/edge (%.0f edges per CPU-second); "
                       "this client %.2f s\n",
                       after - server_cpu, (after - server_cpu) * 1e6 / edges, edges / (after - server_cpu),
                       client_cpu);
        return edges / total;
}

int main(int argc, char **argv)
{
        struct job jobs[JOBS_MAX] = {};
        struct nd_store *s = NULL;
        struct options o;
        char err[512];
        int status = 1;

        if (parse_options(argc, argv, &o) < 0)
                return 2;
        if (nd_store_open(o.uri, 0, &s, err, sizeof(err)) < 0) {
                fprintf(stderr, "ingest-bench: cannot open store: %s\n", err);
                return 1;
        }
        if (nd_store_migrate(s) < 0 || nd_store_check_schema(s) < 0) {
                fprintf(stderr, "ingest-bench: %s\n", nd_store_last_error(s));
                nd_store_close(s);
                return 1;
        }
        if (jobs_open(jobs, &o) < 0)
                goto out;
        printf("ingest-bench: %u hosts x %u flows per flush (one transaction each), %u rounds, "
               "PostgreSQL %d at %s\n",
               o.hosts, o.flows, o.rounds, PQserverVersion(jobs[0].conn), s->display_uri);

        /* The day's partition exists before anything is timed. */
        fleet_make_flush(o.hosts, o.flows, _RUN_MAX, 0, 0, jobs[0].rows); /* addresses of no run */
        struct nd_ingest warm = { .ts = round_ts(0), .first_ts = round_ts(0), .rows = jobs[0].rows, .n_rows = 1 };
        if (nd_store_ingest(s, &warm) < 0) {
                fprintf(stderr, "ingest-bench: %s\n", nd_store_last_error(s));
                goto out;
        }

        double rate[_RUN_MAX];
        for (enum run run = 0; run < _RUN_MAX; run++) {
                rate[run] = measure(jobs, &o, run, run == RUN_NETDEP_FLEET ? o.jobs : 1);
                if (rate[run] < 0)
                        goto out;
        }

        bool pass = rate[RUN_NETDEP_FLEET] >= TARGET_EDGES_PER_SECOND;
        char fleet[64];

        snprintf(fleet, sizeof(fleet), "3. netdep, %u connections", o.jobs);
        printf("\n  %-28s %9.0f edges/s\n", "1. naive, 1 connection", rate[RUN_NAIVE]);
        printf("  %-28s %9.0f edges/s   %.1fx naive\n", "2. netdep, 1 connection", rate[RUN_NETDEP],
               rate[RUN_NETDEP] / rate[RUN_NAIVE]);
        printf("  %-28s %9.0f edges/s   %.1fx naive; target %.0f: %s\n", fleet, rate[RUN_NETDEP_FLEET],
               rate[RUN_NETDEP_FLEET] / rate[RUN_NAIVE], TARGET_EDGES_PER_SECOND, pass ? "PASS" : "FAIL");
        status = pass ? 0 : 3;
out:
        jobs_close(jobs, o.jobs);
        nd_store_close(s);
        return status;
}
