/* serve-bench: agents' flushes through `netdep serve` into PostgreSQL,
 * against the same flushes written straight into the store, in one run;
 * then 10,000 agents connected at once, and `look --server` against a
 * local `look`.
 *
 *   serve-bench [--agents N] [--duration S] [--writers W] [--pool N]
 *               [--connections N] [--look-runs N] [--netdep PATH] [URI]
 *
 * URI is a postgresql:// store (default $ND_TEST_STORE), best an empty
 * throwaway one; run as root (a network namespace of its own, 10,000
 * descriptors and more):
 *
 *   ninja -C build && tests/with-postgres.sh build/bench/serve-bench
 *
 * The fleet is ingest-bench's (fleet-flush.h): --agents (200) hosts, each
 * flush 50 edges, a host's flushes cycling over 4 rounds a minute apart
 * (the first pass inserts, the rest update). Each run writes an address
 * range of its own. Everything runs on loopback in a fresh network
 * namespace; PostgreSQL is reached over its unix socket.
 *
 *   1. direct   --writers (4) threads, each with its own store connection,
 *               nd_store_ingest() of one host's flush after another (its
 *               share of the hosts, in turn) for --duration (10) seconds:
 *               edges/s. The peer of everything below; run again after
 *               (2), on fresh addresses, the peer being the mean of both:
 *               a load that drifts over the run weighs on both sides.
 *   2. serve    `netdep serve` (TLS, a self-signed P-256 certificate made
 *               with openssl; a token file with one agent token per host,
 *               bound to its hostname; --pool (4) store connections) on
 *               the same store; every host is an agent, a libcurl easy
 *               handle on one multi handle, that posts its next flush
 *               (gzip'd JSON, made beforehand) the moment its previous
 *               one is answered, over a kept-alive TLS connection, for
 *               the same duration: flushes/s and edges/s, with one serve
 *               process, then with two on two ports (the agents split).
 *   3. backends while (2) runs, every 20 ms: SELECT count(*) FROM
 *               pg_stat_activity WHERE backend_type = 'client backend' AND
 *               datname = current_database() (the sampler's own left
 *               out); the peak against pool x processes.
 *   4. crowd    one serve (--max-connections 20000, its default: libmicro-
 *               httpd splits the limit over its 8 threads, so 10,000 would
 *               refuse once one thread's share is full), --connections
 *               (10,000) agents, each on a TLS connection of its own (TLS
 *               because agents use it, and it is what costs serve memory),
 *               64 connecting at once, each posting one flush of 5 edges,
 *               then idle, all held open; then serve's VmHWM and VmRSS,
 *               the connections it holds (/proc/net/tcp), and refusals.
 *   5. look     --look-runs (20) each, alternating, fork to wait4: `netdep
 *               look --host H --depth 2` with --server (a reader token)
 *               and with --store, on a host of run 2; medians, and whether
 *               both print the same.
 *
 * Prints each figure beside its peer, the ratio, and PASS or FAIL:
 * flushes/s >= 5,000 and edges/s >= 0.8x direct (each serve run); peak
 * backends <= pool x processes; with 10,000 connected: serve's VmHWM <=
 * 256 MiB, every connection held and no post refused; look --server /
 * look --store <= 2.
 *
 * Exit status: 0 measured and every target met, 1 the bench failed, 2
 * usage error, 3 measured but a target was missed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent-posts.h"
#include "bench-util.h"
#include "fleet-flush.h"
#include "hold.h"
#include "run-command.h"
#include "serve-proc.h"
#include "shared/cleanup.h"
#include "store/store.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define TARGET_FLUSHES_PER_SECOND 5000.0
#define TARGET_OF_DIRECT 0.8
#define TARGET_RSS_MIB 256.0
#define TARGET_LOOK_RATIO 2.0

#define FLOWS 50
#define ROUNDS 4 /* a host's flushes cycle over these, a minute apart */
#define MAX_SERVES 2
#define BASE_PORT 8471 /* and up: each serve a port of its own */
#define CROWD_EDGES 5
#define CROWD_IN_FLIGHT 64
#define CROWD_DEADLINE_S 90
#define CROWD_IDLE_S 2
#define SERVE_MAX_CONNECTIONS "20000"
#define SAMPLE_EVERY_MS 20
#define LOOK_TIMEOUT_S 30
#define OPEN_FILES 65536
#define TOKEN_CHARS 32

enum range {
        RANGE_DIRECT,
        RANGE_ONE_SERVE,
        RANGE_TWO_SERVES,
        RANGE_CROWD,
        RANGE_DIRECT_AFTER,
        RANGE_WARM = FLEET_MAX_RANGE, /* no run's */
};

struct options {
        const char *uri, *netdep;
        unsigned agents, duration_s, writers, pool, connections, look_runs;
};

typedef char token_text[TOKEN_CHARS + 1];

struct bench {
        const struct options *o;
        char dir[64]; /* /tmp/serve-bench.XXXXXX */
        char fleet_tokens[PATH_MAX], crowd_tokens[PATH_MAX], reader_token[PATH_MAX];
        token_text *fleet, *crowd; /* a token per agent */
        int64_t ts0; /* round 0's */
        struct serve_setup serve;
        PGconn *sampler_conn;
};

static int64_t round_ts(const struct bench *b, unsigned round)
{
        return b->ts0 + 60 * (int64_t)(round % ROUNDS);
}

static void host_name(char *buf, size_t size, const char *kind, unsigned h)
{
        snprintf(buf, size, "%s-%u", kind, h);
}

/* 1234567 -> "1,234,567" */
static const char *grouped(double v, char buf[static 32])
{
        char digits[32];
        int n = snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v), k = 0;

        for (int i = 0; i < n; i++) {
                if (i > 0 && (n - i) % 3 == 0)
                        buf[k++] = ',';
                buf[k++] = digits[i];
        }
        buf[k] = '\0';
        return buf;
}

/* ---- files: certificate, tokens ---- */

static int make_tokens(token_text *tokens, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        unsigned char raw[TOKEN_CHARS / 2];

        for (size_t i = 0; i < n; i++) {
                if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
                        return -EIO;
                for (size_t k = 0; k < sizeof(raw); k++) {
                        tokens[i][2 * k] = hex[raw[k] >> 4];
                        tokens[i][2 * k + 1] = hex[raw[k] & 15];
                }
                tokens[i][TOKEN_CHARS] = '\0';
        }
        return 0;
}

/* A token file of agent tokens, host i's bound to KIND-i; with a reader
 * token too when reader is set. 0600: serve refuses one others may read. */
static int write_token_file(const char *path, const char *kind, token_text *tokens, size_t n, const char *reader)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        _cleanup_fclose_ FILE *f = NULL;

        if (fd < 0 || !(f = fdopen(fd, "w")))
                return bench_error(-errno, "Failed to write %s: %m", path);
        TAKE_FD(fd);
        fprintf(f, "# scope  token  hostname\n");
        for (size_t i = 0; i < n; i++)
                fprintf(f, "agent %s %s-%zu\n", tokens[i], kind, i);
        if (reader)
                fprintf(f, "reader %s\n", reader);
        return fflush(f) == 0 ? 0 : bench_error(-errno, "Failed to write %s: %m", path);
}

static int make_files(struct bench *b)
{
        const struct options *o = b->o;
        token_text reader;
        int r;

        r = serve_make_certificate(&b->serve);
        if (r < 0)
                return r;
        b->fleet = calloc(o->agents, sizeof(*b->fleet));
        b->crowd = calloc(o->connections, sizeof(*b->crowd));
        if (!b->fleet || !b->crowd)
                return -ENOMEM;
        if (make_tokens(b->fleet, o->agents) < 0 || make_tokens(b->crowd, o->connections) < 0 ||
            make_tokens(&reader, 1) < 0)
                return bench_error(-EIO, "Failed to make tokens: %m");
        /* Separate files: serve compares a token with every one in its
         * file, so each serve gets the file of the fleet it serves. */
        snprintf(b->fleet_tokens, sizeof(b->fleet_tokens), "%s/fleet.tokens", b->dir);
        snprintf(b->crowd_tokens, sizeof(b->crowd_tokens), "%s/crowd.tokens", b->dir);
        snprintf(b->reader_token, sizeof(b->reader_token), "%s/reader.token", b->dir);
        r = write_token_file(b->fleet_tokens, "host", b->fleet, o->agents, reader);
        if (r >= 0)
                r = write_token_file(b->crowd_tokens, "crowd", b->crowd, o->connections, NULL);
        if (r < 0)
                return r;
        _cleanup_fclose_ FILE *f = fopen(b->reader_token, "we");
        if (!f || fprintf(f, "%s\n", reader) < 0 || fflush(f) != 0)
                return bench_error(-errno, "Failed to write %s: %m", b->reader_token);
        return 0;
}

/* ---- PostgreSQL client backends, sampled ---- */

struct backend_sampler {
        PGconn *conn; /* borrowed */
        pthread_t thread;
        atomic_bool stop;
        int peak;
        unsigned samples;
        bool failed;
};

static void *sampler_main(void *arg)
{
        static const char sql[] = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                                  "AND datname = current_database() AND pid <> pg_backend_pid()";
        struct backend_sampler *s = arg;

        while (!atomic_load(&s->stop)) {
                PGresult *res = PQexec(s->conn, sql);

                if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
                        int n = atoi(PQgetvalue(res, 0, 0));
                        s->peak = n > s->peak ? n : s->peak;
                        s->samples++;
                } else
                        s->failed = true;
                PQclear(res);
                nanosleep(&(struct timespec){ .tv_nsec = SAMPLE_EVERY_MS * 1000000L }, NULL);
        }
        return NULL;
}

static int sampler_start(struct backend_sampler *s, PGconn *conn)
{
        *s = (struct backend_sampler){ .conn = conn };
        return pthread_create(&s->thread, NULL, sampler_main, s) == 0 ? 0 : -EAGAIN;
}

static void sampler_stop(struct backend_sampler *s)
{
        atomic_store(&s->stop, true);
        pthread_join(s->thread, NULL);
}

/* ---- 1. direct ---- */

static double own_cpu_seconds(void)
{
        struct rusage ru;

        return getrusage(RUSAGE_SELF, &ru) == 0 ? cpu_seconds(&ru) : 0;
}


struct writer {
        const struct bench *b;
        unsigned index;
        enum range range;
        struct nd_store *store;
        double until, end;
        uint64_t flushes;
        int result;
        struct nd_edge_observation rows[FLOWS];
};

static int direct_flush(struct writer *w, unsigned h, unsigned round)
{
        const struct options *o = w->b->o;
        char addr[ND_ADDR_TEXT_MAX], name[32];
        const char *addrs[] = { addr };

        fleet_host_addr(w->range, h, addr);
        host_name(name, sizeof(name), "host", h);
        fleet_make_flush(o->agents, FLOWS, w->range, h, round % ROUNDS, w->rows);
        struct nd_ingest in = {
                .hostname = name, .host_addrs = addrs, .n_host_addrs = 1,
                .ts = round_ts(w->b, round), .first_ts = round_ts(w->b, round) - 30,
                .rows = w->rows, .n_rows = FLOWS,
        };
        if (nd_store_ingest(w->store, &in) < 0)
                return bench_error(-EIO, "direct ingest failed: %s", nd_store_last_error(w->store));
        return 0;
}

static void *writer_main(void *arg)
{
        struct writer *w = arg;
        const struct options *o = w->b->o;

        for (unsigned round = 0; w->result >= 0; round++)
                for (unsigned h = w->index; h < o->agents && w->result >= 0; h += o->writers) {
                        if (monotonic_s() >= w->until || bench_interrupted)
                                goto done;
                        w->result = direct_flush(w, h, round);
                        if (w->result >= 0)
                                w->flushes++;
                }
done:
        w->end = monotonic_s();
        return NULL;
}

struct rate {
        uint64_t flushes;
        double seconds;
};

static double flushes_per_s(const struct rate *r)
{
        return r->seconds > 0 ? (double)r->flushes / r->seconds : 0;
}

static double edges_per_s(const struct rate *r)
{
        return flushes_per_s(r) * FLOWS;
}

static int run_direct(const struct bench *b, enum range range, struct rate *ret)
{
        const struct options *o = b->o;
        struct writer *w = calloc(o->writers, sizeof(*w));
        pthread_t *threads = calloc(o->writers, sizeof(*threads));
        uint64_t busy0 = 0, total0 = 0, busy1 = 0, total1 = 0;
        struct rate rate = {};
        double start, end = 0, cpu0;
        char err[512], a[32], c[32];
        size_t started = 0;
        int r = 0;

        if (!w || !threads) {
                free(w);
                free(threads);
                return -ENOMEM;
        }
        for (unsigned i = 0; i < o->writers && r >= 0; i++) {
                w[i] = (struct writer){ .b = b, .index = i, .range = range };
                if (nd_store_open(o->uri, 0, &w[i].store, err, sizeof(err)) < 0)
                        r = bench_error(-EIO, "Failed to open the store: %s", err);
        }
        machine_ticks(&busy0, &total0);
        cpu0 = own_cpu_seconds();
        start = monotonic_s();
        for (unsigned i = 0; i < o->writers && r >= 0; i++) {
                w[i].until = start + o->duration_s;
                if (pthread_create(&threads[i], NULL, writer_main, &w[i]) != 0)
                        r = -EAGAIN;
                else
                        started++;
        }
        for (size_t i = 0; i < started; i++) {
                pthread_join(threads[i], NULL);
                if (w[i].result < 0)
                        r = w[i].result;
                rate.flushes += w[i].flushes;
                end = w[i].end > end ? w[i].end : end;
        }
        machine_ticks(&busy1, &total1);
        cpu0 = own_cpu_seconds() - cpu0;
        for (unsigned i = 0; i < o->writers; i++)
                nd_store_close(w[i].store);
        free(w);
        free(threads);
        if (r < 0)
                return r;
        rate.seconds = end - start;
        printf("  1. direct%s, %u writers: %s flushes in %.2f s = %s flushes/s, %s edges/s\n",
               range == RANGE_DIRECT ? "" : ", again", o->writers, grouped((double)rate.flushes, a), rate.seconds, grouped(flushes_per_s(&rate), c),
               grouped(edges_per_s(&rate), (char[32]){}));
        printf("     CPU per flush: the writers %.0f us; machine %.0f%% busy\n",
               cpu0 * 1e6 / (double)(rate.flushes ? rate.flushes : 1),
               total1 > total0 ? 100.0 * (double)(busy1 - busy0) / (double)(total1 - total0) : 0);
        *ret = rate;
        return 0;
}

/* ---- 2. through serve ---- */

struct fleet_bodies {
        struct flush_body *items; /* host h's round k at [h * ROUNDS + k] */
        size_t n;
};

static void fleet_bodies_done(struct fleet_bodies *fb)
{
        for (size_t i = 0; i < fb->n; i++)
                flush_body_done(&fb->items[i]);
        free(fb->items);
        *fb = (struct fleet_bodies){};
}

/* Every host's flushes as it posts them: the rows direct_flush() writes. */
static int fleet_bodies_make(const struct bench *b, enum range range, unsigned hosts, unsigned rounds,
                             unsigned edges, const char *kind, struct fleet_bodies *ret)
{
        struct fleet_bodies fb = { .items = calloc((size_t)hosts * rounds, sizeof(*fb.items)) };
        struct nd_edge_observation rows[FLEET_MAX_FLOWS];
        unsigned fleet = fleet_size_ok(hosts) ? hosts : hosts + 1;
        int r = fb.items ? 0 : -ENOMEM;

        for (unsigned h = 0; h < hosts && r >= 0; h++) {
                char addr[ND_ADDR_TEXT_MAX], name[32];
                char *addrs[] = { addr };

                fleet_host_addr(range, h, addr);
                host_name(name, sizeof(name), kind, h);
                for (unsigned k = 0; k < rounds && r >= 0; k++) {
                        fleet_make_flush(fleet, FLOWS, range, h, k, rows);
                        struct nd_flush f = {
                                .hostname = name, .addrs = { .addrs = addrs, .n_addrs = 1 },
                                .ts = round_ts(b, k), .first_ts = round_ts(b, k) - 30,
                                .rows = rows, .n_rows = edges,
                        };
                        r = flush_body_make(&f, &fb.items[fb.n]);
                        if (r >= 0)
                                fb.n++;
                }
        }
        if (r < 0) {
                fleet_bodies_done(&fb);
                return bench_error(r, "Failed to make the flushes: %m");
        }
        *ret = fb;
        return 0;
}

struct serve_run {
        unsigned serves;
        struct rate rate;
        struct post_counts counts;
        int peak_backends;
        double serve_cpu_s, agents_cpu_s, machine_busy;
};

static int run_serve(struct bench *b, unsigned n_serves, enum range range, struct serve_run *ret)
{
        const struct options *o = b->o;
        struct serve_proc serves[MAX_SERVES] = {};
        struct fleet_bodies bodies = {};
        struct posting_agent *agents = calloc(o->agents, sizeof(*agents));
        struct backend_sampler sampler;
        struct serve_run run = { .serves = n_serves };
        uint64_t busy0 = 0, total0 = 0, busy1 = 0, total1 = 0, ticks0;
        bool sampling = false;
        double start, end, cpu0;
        size_t n_started = 0, n_agents = 0;
        int r;

        r = agents ? fleet_bodies_make(b, range, o->agents, ROUNDS, FLOWS, "host", &bodies) : -ENOMEM;
        for (unsigned i = 0; i < n_serves && r >= 0; i++) {
                r = serve_start(&b->serve, b->fleet_tokens, SERVE_MAX_CONNECTIONS, &serves[i]);
                if (r >= 0)
                        n_started++;
        }
        for (unsigned h = 0; h < o->agents && r >= 0; h++) {
                r = posting_agent_init(&agents[h], serves[h % n_serves].flush_url, b->fleet[h],
                                       &bodies.items[(size_t)h * ROUNDS], ROUNDS);
                if (r >= 0)
                        n_agents++;
        }
        if (r >= 0) {
                r = sampler_start(&sampler, b->sampler_conn);
                sampling = r >= 0;
        }
        if (r >= 0) {
                ticks0 = serves_cpu_ticks(serves, n_serves);
                cpu0 = own_cpu_seconds();
                machine_ticks(&busy0, &total0);
                start = monotonic_s();
                r = agents_post_until(agents, o->agents, b->serve.cert, start + o->duration_s, &bench_interrupted,
                                      &run.counts, &end);
                machine_ticks(&busy1, &total1);
                run.agents_cpu_s = own_cpu_seconds() - cpu0;
                run.serve_cpu_s = ticks_to_seconds(serves_cpu_ticks(serves, n_serves) - ticks0);
                run.rate = (struct rate){ .flushes = run.counts.stored, .seconds = end - start };
                run.machine_busy = total1 > total0 ? (double)(busy1 - busy0) / (double)(total1 - total0) : 0;
        }
        if (sampling) {
                sampler_stop(&sampler);
                run.peak_backends = sampler.failed || sampler.samples == 0 ? -1 : sampler.peak;
        }
        for (size_t i = 0; i < n_started; i++)
                if (serve_stop(&serves[i]) < 0 && r >= 0)
                        r = -ETIMEDOUT;
        for (size_t i = 0; i < n_agents; i++)
                posting_agent_done(&agents[i]);
        free(agents);
        fleet_bodies_done(&bodies);
        if (r < 0)
                return r;

        char a[32], c[32], e[32];
        double flushes = (double)(run.rate.flushes ? run.rate.flushes : 1);
        printf("  2. through %u serve%s (pool %u each), %u agents: %s flushes in %.2f s = %s flushes/s, "
               "%s edges/s\n",
               n_serves, n_serves == 1 ? "" : "s", o->pool, o->agents, grouped((double)run.rate.flushes, a),
               run.rate.seconds, grouped(flushes_per_s(&run.rate), c), grouped(edges_per_s(&run.rate), e));
        printf("     refused %" PRIu64 ", failed %" PRIu64 "%s%s; CPU per flush: serve %.0f us, agents %.0f us; "
               "machine %.0f%% busy; peak PostgreSQL client backends %d (%u samples)\n",
               run.counts.refused, run.counts.failed, run.counts.first_problem[0] ? ", first: " : "",
               run.counts.first_problem, run.serve_cpu_s * 1e6 / flushes, run.agents_cpu_s * 1e6 / flushes,
               100.0 * run.machine_busy, run.peak_backends, sampling ? sampler.samples : 0);
        *ret = run;
        return 0;
}

/* ---- 4. the crowd ---- */

struct crowd_run {
        struct post_counts counts;
        unsigned held;
        long idle_rss_kib, rss_kib, hwm_kib;
        double connect_s;
        long ready_status;
        double ready_ms;
};

/* Established TCP sockets whose local port is port: serve's side of
 * every connection to it, in this network namespace. */
static int count_established(uint16_t port, unsigned *ret)
{
        static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
        unsigned n = 0;

        for (size_t i = 0; i < 2; i++) {
                _cleanup_fclose_ FILE *f = fopen(files[i], "re");
                char line[512];

                if (!f)
                        return -errno;
                while (fgets(line, sizeof(line), f)) {
                        unsigned local_port, state;
                        if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", &local_port, &state) == 2 &&
                            local_port == port && state == 1)
                                n++;
                }
        }
        *ret = n;
        return 0;
}

static int run_crowd(struct bench *b, struct crowd_run *ret)
{
        const struct options *o = b->o;
        struct serve_proc serve = {};
        struct fleet_bodies bodies = {};
        struct posting_agent *agents = calloc(o->connections, sizeof(*agents));
        struct agent_crowd *crowd = NULL;
        struct crowd_run run = {};
        struct proc_sample p;
        size_t n_agents = 0;
        double start;
        int r;

        r = agents ? fleet_bodies_make(b, RANGE_CROWD, o->connections, 1, CROWD_EDGES, "crowd", &bodies) : -ENOMEM;
        if (r >= 0)
                r = serve_start(&b->serve, b->crowd_tokens, SERVE_MAX_CONNECTIONS, &serve);
        for (unsigned i = 0; i < o->connections && r >= 0; i++) {
                r = posting_agent_init(&agents[i], serve.flush_url, b->crowd[i], &bodies.items[i], 1);
                if (r >= 0)
                        n_agents++;
        }
        if (r >= 0 && sample_proc(serve.pid, &p) >= 0)
                run.idle_rss_kib = p.rss_kib;
        if (r >= 0) {
                start = monotonic_s();
                r = agent_crowd_connect(agents, o->connections, b->serve.cert, CROWD_IN_FLIGHT,
                                        start + CROWD_DEADLINE_S, &bench_interrupted, &crowd, &run.counts);
                run.connect_s = monotonic_s() - start;
        }
        if (r >= 0)
                r = sleep_until(monotonic_s() + CROWD_IDLE_S, &bench_interrupted);
        if (r >= 0)
                r = count_established(serve.port, &run.held);
        if (r >= 0) {
                r = sample_proc(serve.pid, &p);
                if (r < 0)
                        bench_error(r, "serve is gone: %m");
                run.rss_kib = p.rss_kib;
                run.hwm_kib = p.hwm_kib;
        }
        if (r >= 0) {
                char url[128];
                double t0 = monotonic_s();

                /* One more connection, while the crowd is held. */
                snprintf(url, sizeof(url), "%s/readyz", serve.base);
                if (http_get_status(url, b->serve.cert, 10000, &run.ready_status) < 0)
                        run.ready_status = 0;
                run.ready_ms = (monotonic_s() - t0) * 1e3;
        }
        crowd = agent_crowd_free(crowd);
        if (serve.pid > 0 && serve_stop(&serve) < 0 && r >= 0)
                r = -ETIMEDOUT;
        for (size_t i = 0; i < n_agents; i++)
                posting_agent_done(&agents[i]);
        free(agents);
        fleet_bodies_done(&bodies);
        if (r < 0)
                return r;

        char a[32], c[32];
        printf("  4. %s agents, one TLS connection each, %d connecting at once: posted in %.1f s; stored %s, "
               "refused %" PRIu64 ", failed %" PRIu64 "%s%s\n",
               grouped(o->connections, a), CROWD_IN_FLIGHT, run.connect_s, grouped((double)run.counts.stored, c),
               run.counts.refused, run.counts.failed, run.counts.first_problem[0] ? ", first: " : "",
               run.counts.first_problem);
        printf("     after %d s idle: serve holds %s connections; VmRSS %.1f MiB, VmHWM %.1f MiB (idle before: "
               "%.1f MiB, so %.1f KiB a connection); one more connection: readyz %ld in %.0f ms\n",
               CROWD_IDLE_S, grouped(run.held, a), mib(run.rss_kib), mib(run.hwm_kib), mib(run.idle_rss_kib),
               run.held ? (double)(run.hwm_kib - run.idle_rss_kib) / run.held : 0, run.ready_status, run.ready_ms);
        *ret = run;
        return 0;
}

/* ---- 5. look --server against look --store ---- */

struct look_run {
        double server_ms, store_ms;
        bool same;
};

/* Runs argv with stdout in a fresh memfd; its wall time in *ret_ms. */
static int time_look(const char *const *argv, int out_fd, double *ret_ms)
{
        struct command_result res;
        int r;

        if (ftruncate(out_fd, 0) < 0 || lseek(out_fd, 0, SEEK_SET) < 0)
                return -errno;
        r = run_command(argv, out_fd, LOOK_TIMEOUT_S, &bench_interrupted, &res);
        if (r >= 0)
                *ret_ms = res.seconds * 1e3;
        return r;
}

static bool same_content(int a, int b)
{
        off_t size = lseek(a, 0, SEEK_END);
        char *x, *y;
        bool same;

        if (size <= 0 || size != lseek(b, 0, SEEK_END))
                return false;
        x = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, a, 0);
        y = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, b, 0);
        same = x != MAP_FAILED && y != MAP_FAILED && memcmp(x, y, (size_t)size) == 0;
        if (x != MAP_FAILED)
                munmap(x, (size_t)size);
        if (y != MAP_FAILED)
                munmap(y, (size_t)size);
        return same;
}

static int run_look(struct bench *b, struct look_run *ret)
{
        const struct options *o = b->o;
        _cleanup_close_ int server_out = memfd_create("look-server", MFD_CLOEXEC);
        _cleanup_close_ int store_out = memfd_create("look-store", MFD_CLOEXEC);
        _cleanup_free_ double *server_ms = calloc(o->look_runs, sizeof(double));
        _cleanup_free_ double *store_ms = calloc(o->look_runs, sizeof(double));
        struct serve_proc serve = {};
        struct look_run run = {};
        char host[ND_ADDR_TEXT_MAX], nodes[32] = "?";
        int r;

        if (server_out < 0 || store_out < 0 || !server_ms || !store_ms)
                return -ENOMEM;
        fleet_host_addr(RANGE_ONE_SERVE, 0, host);
        r = serve_start(&b->serve, b->fleet_tokens, SERVE_MAX_CONNECTIONS, &serve);
        if (r < 0)
                return r;
        const char *remote[] = { o->netdep, "look", "--host", host, "--depth", "2", "--server", serve.base,
                                 "--token-file", b->reader_token, "--ca-file", b->serve.cert, NULL };
        const char *local[] = { o->netdep, "look", "--host", host, "--depth", "2", "--store", o->uri, NULL };

        for (unsigned i = 0; i < o->look_runs && r >= 0; i++) {
                /* Which goes first alternates. */
                if (i % 2 == 0) {
                        r = time_look(remote, server_out, &server_ms[i]);
                        if (r >= 0)
                                r = time_look(local, store_out, &store_ms[i]);
                } else {
                        r = time_look(local, store_out, &store_ms[i]);
                        if (r >= 0)
                                r = time_look(remote, server_out, &server_ms[i]);
                }
                if (r >= 0 && i == 0)
                        run.same = same_content(server_out, store_out);
        }
        if (serve_stop(&serve) < 0 && r >= 0)
                r = -ETIMEDOUT;
        if (r < 0)
                return r;
        {
                /* The tree's size, from the last answer: a line per node. */
                char text[65536];
                unsigned lines = 0;
                off_t at = 0;
                ssize_t n;

                while ((n = pread(store_out, text, sizeof(text), at)) > 0) {
                        for (ssize_t k = 0; k < n; k++)
                                lines += text[k] == '\n';
                        at += n;
                }
                snprintf(nodes, sizeof(nodes), "%u", lines);
        }
        run.server_ms = median(server_ms, o->look_runs);
        run.store_ms = median(store_ms, o->look_runs);
        printf("  5. netdep look --host %s --depth 2 (%s lines), %u runs each: --server median %.1f ms, --store "
               "%.1f ms; same output: %s\n",
               host, nodes, o->look_runs, run.server_ms, run.store_ms, run.same ? "yes" : "NO");
        *ret = run;
        return 0;
}

/* ---- set-up and the summary ---- */

/* The store's schema, and the days' partitions made before anything is
 * timed: a row of no run's addresses at the first and the last round. */
static int prepare_store(const struct bench *b)
{
        struct nd_edge_observation rows[FLOWS];
        struct nd_store *s = NULL;
        char err[512];
        int r;

        if (nd_store_open(b->o->uri, ND_STORE_CREATE, &s, err, sizeof(err)) < 0)
                return bench_error(-EIO, "Failed to open the store: %s", err);
        r = nd_store_migrate(s) < 0 || nd_store_check_schema(s) < 0 ? -EIO : 0;
        for (unsigned k = 0; k < ROUNDS && r >= 0; k += ROUNDS - 1) {
                fleet_make_flush(b->o->agents, FLOWS, RANGE_WARM, 0, k, rows);
                struct nd_ingest warm = { .ts = round_ts(b, k), .first_ts = round_ts(b, k), .rows = rows, .n_rows = 1 };
                r = nd_store_ingest(s, &warm) < 0 ? -EIO : 0;
        }
        if (r < 0)
                bench_error(r, "Failed to prepare the store: %s", nd_store_last_error(s));
        nd_store_close(s);
        return r;
}

/* A summary line: the figure, its peer, the ratio, the target, the verdict. */
static bool verdict(const char *what, const char *figure, const char *peer_name, const char *peer, double ratio,
                    const char *target, bool pass)
{
        char r[16] = "-";

        if (ratio >= 0)
                snprintf(r, sizeof(r), "%.3f", ratio);
        printf("  %-36s %12s   %-26s %12s   %7s   %-16s %s\n", what, figure, peer_name, peer, r, target,
               pass ? "PASS" : "FAIL");
        return pass;
}

struct results {
        struct rate direct[2]; /* before the serve runs, and after */
        struct serve_run serve[MAX_SERVES];
        struct crowd_run crowd;
        struct look_run look;
};

static bool summary(const struct bench *b, const struct results *res)
{
        const struct options *o = b->o;
        double direct_edges = (edges_per_s(&res->direct[0]) + edges_per_s(&res->direct[1])) / 2;
        char f[32], p[32], what[64], peer[64];
        bool pass = true;

        printf("\nserve-bench: summary (figure, peer, ratio, target)\n");
        for (unsigned i = 0; i < MAX_SERVES; i++) {
                const struct serve_run *s = &res->serve[i];
                double flushes = flushes_per_s(&s->rate), edges = edges_per_s(&s->rate);
                unsigned limit = o->pool * s->serves;

                snprintf(what, sizeof(what), "%u serve%s: flushes/s", s->serves, s->serves == 1 ? "" : "s");
                pass &= verdict(what, grouped(flushes, f), "target", grouped(TARGET_FLUSHES_PER_SECOND, p),
                                flushes / TARGET_FLUSHES_PER_SECOND, ">= 1", flushes >= TARGET_FLUSHES_PER_SECOND);
                snprintf(what, sizeof(what), "%u serve%s: edges/s", s->serves, s->serves == 1 ? "" : "s");
                snprintf(peer, sizeof(peer), "direct (mean of 2 runs)");
                pass &= verdict(what, grouped(edges, f), peer, grouped(direct_edges, p), edges / direct_edges, ">= 0.8",
                                edges >= TARGET_OF_DIRECT * direct_edges);
                snprintf(what, sizeof(what), "%u serve%s: peak PG backends", s->serves, s->serves == 1 ? "" : "s");
                snprintf(f, sizeof(f), "%d", s->peak_backends);
                snprintf(p, sizeof(p), "%u", limit);
                pass &= verdict(what, f, "pool x processes", p, s->peak_backends >= 0 ? (double)s->peak_backends / limit : -1,
                                "<= 1", s->peak_backends >= 0 && (unsigned)s->peak_backends <= limit);
        }

        const struct crowd_run *c = &res->crowd;
        uint64_t refused = c->counts.refused + c->counts.failed;

        snprintf(f, sizeof(f), "%.1f MiB", mib(c->hwm_kib));
        snprintf(p, sizeof(p), "%.0f MiB", TARGET_RSS_MIB);
        snprintf(what, sizeof(what), "%s connected: serve VmHWM", grouped(o->connections, peer));
        pass &= verdict(what, f, "target", p, mib(c->hwm_kib) / TARGET_RSS_MIB, "<= 1",
                        mib(c->hwm_kib) <= TARGET_RSS_MIB);
        snprintf(what, sizeof(what), "%s connected: held by serve", grouped(o->connections, peer));
        pass &= verdict(what, grouped(c->held, f), "agents", grouped(o->connections, p),
                        (double)c->held / o->connections, "= 1", c->held >= o->connections);
        snprintf(what, sizeof(what), "%s connected: refused or failed", grouped(o->connections, peer));
        snprintf(f, sizeof(f), "%" PRIu64, refused);
        pass &= verdict(what, f, "target", "0", -1, "= 0", refused == 0);

        snprintf(f, sizeof(f), "%.1f ms", res->look.server_ms);
        snprintf(p, sizeof(p), "%.1f ms", res->look.store_ms);
        pass &= verdict("look --server (median)", f, "look --store", p, res->look.server_ms / res->look.store_ms,
                        "<= 2", res->look.server_ms <= TARGET_LOOK_RATIO * res->look.store_ms && res->look.same);
        return pass;
}

static void help(FILE *out)
{
        fprintf(out,
                "Usage: serve-bench [OPTIONS] [URI]   (as root; URI default $ND_TEST_STORE)\n"
                "\n"
                "Flushes through netdep serve into PostgreSQL against the store ingest API,\n"
                "10,000 agents connected at once, look --server against look --store.\n"
                "\n"
                "      --agents N       hosts of the fleet, each an agent (default 200)\n"
                "      --duration S     seconds of each throughput run (default 10)\n"
                "      --writers N      direct writers, each a store connection (default 4)\n"
                "      --pool N         serve's store connections (default 4)\n"
                "      --connections N  agents connected at once (default 10000)\n"
                "      --look-runs N    runs of each look (default 20)\n"
                "      --netdep PATH    the netdep to run (default %s)\n",
                NETDEP_PATH);
}

static int parse_args(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
                { "agents", required_argument, NULL, 'a' },
                { "duration", required_argument, NULL, 'd' },
                { "writers", required_argument, NULL, 'w' },
                { "pool", required_argument, NULL, 'p' },
                { "connections", required_argument, NULL, 'c' },
                { "look-runs", required_argument, NULL, 'l' },
                { "netdep", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;

        *o = (struct options){ .netdep = NETDEP_PATH, .agents = 200, .duration_s = 10, .writers = 4, .pool = 4,
                               .connections = 10000, .look_runs = 20 };
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                int r = 0;

                switch (c) {
                case 'a': r = bench_parse_uint(optarg, FLEET_CLIENT_FLOWS + 1, 10000, &o->agents); break;
                case 'd': r = bench_parse_uint(optarg, 1, 60, &o->duration_s); break;
                case 'w': r = bench_parse_uint(optarg, 1, 64, &o->writers); break;
                case 'p': r = bench_parse_uint(optarg, 1, 256, &o->pool); break;
                case 'c': r = bench_parse_uint(optarg, 1, 20000, &o->connections); break;
                case 'l': r = bench_parse_uint(optarg, 1, 1000, &o->look_runs); break;
                case 'n': o->netdep = optarg; break;
                case 'h': help(stdout); exit(0);
                default: return -EINVAL;
                }
                if (r < 0)
                        return bench_error(-EINVAL, "invalid value '%s'", optarg);
        }
        if (optind < argc - 1)
                return bench_error(-EINVAL, "one URI at most");
        o->uri = optind < argc ? argv[optind] : getenv("ND_TEST_STORE");
        if (!o->uri || (strncmp(o->uri, "postgres://", 11) != 0 && strncmp(o->uri, "postgresql://", 13) != 0))
                return bench_error(-EINVAL, "give a postgresql:// URI (or run under tests/with-postgres.sh)");
        if (!fleet_size_ok(o->agents))
                return bench_error(-EINVAL, "--agents must not be a multiple of 13");
        return 0;
}

/* Room for every connection of the crowd, on both ends (the serve
 * processes inherit the limit): OPEN_FILES, or the hard limit where it
 * cannot be raised (no CAP_SYS_RESOURCE). */
static int raise_open_files(unsigned connections)
{
        struct rlimit rl = { OPEN_FILES, OPEN_FILES };

        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
                return 0;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return -errno;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                return bench_error(-errno, "Failed to raise RLIMIT_NOFILE: %m");
        if (rl.rlim_cur < (rlim_t)connections + 256)
                return bench_error(-EMFILE, "RLIMIT_NOFILE is %llu, too few for %u connections",
                                   (unsigned long long)rl.rlim_cur, connections);
        return 0;
}

static int run(struct bench *b, struct results *res)
{
        int r;

        r = raise_open_files(b->o->connections);
        if (r >= 0)
                r = hold_enter_fresh_netns();
        if (r >= 0)
                r = make_files(b);
        if (r >= 0)
                r = prepare_store(b);
        if (r < 0)
                return r;
        b->sampler_conn = PQconnectdbParams((const char *[]){ "dbname", "fallback_application_name", NULL },
                                            (const char *[]){ b->o->uri, "serve-bench", NULL }, 1);
        if (PQstatus(b->sampler_conn) != CONNECTION_OK)
                return bench_error(-EIO, "Failed to connect to PostgreSQL: %s", PQerrorMessage(b->sampler_conn));
        printf("serve-bench: %u agents x %d edges a flush, %u s a run; PostgreSQL %d; netdep %s\n", b->o->agents,
               FLOWS, b->o->duration_s, PQserverVersion(b->sampler_conn), b->o->netdep);
        print_load("at start");
        fflush(stdout);
        /* The direct path before and after the serve runs: the peer is
         * the mean, so that a load that drifts over the run (other work
         * on the machine) weighs on both sides alike. */
        r = run_direct(b, RANGE_DIRECT, &res->direct[0]);
        for (unsigned i = 0; i < MAX_SERVES && r >= 0; i++)
                r = run_serve(b, i + 1, RANGE_ONE_SERVE + i, &res->serve[i]);
        if (r >= 0)
                r = run_direct(b, RANGE_DIRECT_AFTER, &res->direct[1]);
        if (r >= 0)
                r = run_crowd(b, &res->crowd);
        if (r >= 0)
                r = run_look(b, &res->look);
        print_load("at end");
        return r;
}

int main(int argc, char **argv)
{
        struct options o;
        struct bench b = { .o = &o };
        struct results res = {};
        double start = monotonic_s();
        int r;

        if (parse_args(argc, argv, &o) < 0)
                return 2;
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_catch_signals();
        b.ts0 = ((int64_t)time(NULL) - 600) / 60 * 60;
        snprintf(b.dir, sizeof(b.dir), "/tmp/serve-bench.XXXXXX");
        if (!mkdtemp(b.dir))
                return bench_error(-errno, "Failed to make a temporary directory: %m"), 1;
        b.serve = (struct serve_setup){ .netdep = o.netdep, .store_uri = o.uri, .dir = b.dir, .pool = o.pool,
                                        .next_port = BASE_PORT };
        r = run(&b, &res);
        if (b.sampler_conn)
                PQfinish(b.sampler_conn);
        remove_temp_dir(b.dir);
        free(b.fleet);
        free(b.crowd);
        if (r < 0)
                return 1;
        bool pass = summary(&b, &res);
        printf("whole run %.0f s\n", monotonic_s() - start);
        return pass ? 0 : 3;
}
