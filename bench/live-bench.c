/* live-bench: the live state serve keeps (src/live), how many probe
 * reports it takes in a second and how fast it answers queries, each
 * beside a peer timed in the same run.
 *
 *   live-bench [--hosts N] [--connections C] [--duration S] [--runs R] [--netdep PATH]
 *
 * The fleet: N (10,000) hosts, host i named h%05u at 10.D.R.K (D = 1 +
 * i % 6, R = 1 + (i / 6) % 10, K = 1 + i / 60), placed by 60 role rules,
 * one a /24: datacenter dcD, role web, lb, app, api, db, cache, queue,
 * search, batch or mon by R. Each host reports 20 links, to the hosts i +
 * 1 + j * (N / 20): 15 TCP (ports 5432, 6379, 8080 in turn) and 5 ICMP,
 * 5 probes each; every 97th host loses every probe of its first 3 links
 * (down from its third report on: disconnects is not 0 everywhere). web
 * and lb hosts report nginx figures, every host its load and CPU. Every
 * report is built once, up front: the struct, and its JSON
 * (nd_report_to_json) gzip'd (nd_gzip) as an agent posts it.
 *
 * 1. Ingest. `netdep serve --store sqlite:TMP/serve.db --listen
 *    127.0.0.1:PORT` (no tokens: loopback only), its store migrated and
 *    the role rules imported first. The bench posts the gzip'd reports to
 *    /api/v1/report over C (16) keep-alive connections (libcurl multi, one
 *    thread), hosts round robin: a first round of N (the inserts) as
 *    warm-up, at most 60 s, then S (10) s measured: reports answered 200
 *    a second, and serve's CPU (/proc/PID/stat, every thread) a report.
 *    Peer: the same report structs folded in by nd_live_apply() in the
 *    bench, one thread, no HTTP, no JSON: a first round of N, then S s.
 * 2. Queries. On the peer's state of 1 (N hosts x 20 links, roles set),
 *    the three queries below, R (200) runs each, interleaved, through
 *      - nd_live_query(): the authorizer, the progress handler and the
 *        JSON answer built (freed after the clock stops);
 *      - plain sqlite3, the peer: a :memory: database made from
 *        nd_live_schema() and filled with the same rows (copied out
 *        through nd_live_query), each run prepared, stepped, every column
 *        read and finalized, no JSON;
 *      - HTTP: GET /api/v1/query?sql=... on the serve of 1, whose state
 *        the same reports built, keep-alive, the whole answer read.
 *    Median and p99 of each, CLOCK_MONOTONIC.
 *
 * Targets: >= 5,000 reports/s through serve; median nd_live_query <= 5 ms
 * for each query. Loopback only, no root; under 2 minutes with the
 * defaults. Exit status: 0 measured and every target met, 1 the bench
 * failed, 2 usage error, 3 measured but a target was missed. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "live/live_db.h"
#include "live/report.h"
#include "run-command.h"
#include "shared/cleanup.h"
#include "shared/gzip.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define LINKS 20
#define DCS 6
#define ROLES 10
#define HOSTS_PER_BLOCK 254
#define MAX_HOSTS (DCS * ROLES * HOSTS_PER_BLOCK)
#define BROKEN_EVERY 97 /* every 97th host ... */
#define BROKEN_LINKS 3 /* ... loses every probe of its first 3 links */
#define PROBES 5
#define INTERVAL_S 60 /* stale after 3 of them: longer than the run */
#define WARMUP_MAX_S 60.0
#define START_TIMEOUT_S 10.0
#define COMMAND_TIMEOUT_S 60
#define COPY_PAGE 10000

#define TARGET_REPORTS_PER_S 5000.0
#define TARGET_QUERY_MEDIAN_MS 5.0

DEFINE_TRIVIAL_CLEANUP_FUNC(CURL *, curl_easy_cleanup);

static const char *const role_names[ROLES] = { "web", "lb", "app", "api", "db", "cache", "queue", "search", "batch", "mon" };

static const char *const queries[] = {
        "SELECT name, disconnects FROM hosts ORDER BY disconnects DESC, name LIMIT 20",
        "SELECT dc, sum(nginx_request_rate) AS requests, sum(nginx_error_rate) AS errors FROM hosts GROUP BY dc ORDER BY dc",
        "SELECT name, load, nginx_error_rate FROM hosts WHERE role = 'web' ORDER BY load DESC",
};
#define N_QUERIES ELEMENTSOF(queries)

enum way {
        WAY_LIVE,
        WAY_PLAIN,
        WAY_HTTP,
        _WAY_MAX,
};

struct bench_options {
        unsigned hosts, connections, duration_s, runs;
        const char *netdep;
};

/* Every report, as a struct and as the gzip'd JSON an agent posts. */
struct fleet {
        unsigned n;
        struct nd_report *reports;
        char (*addrs)[ND_ADDR_TEXT_MAX];
        struct nd_link_result *links; /* LINKS a host */
        uint8_t **bodies;
        size_t *body_sizes;
        size_t json_bytes, gzip_bytes; /* in all */
};

struct rate {
        unsigned warmup; /* reports in the first round */
        double warmup_s;
        unsigned reports, failed; /* in the measured window */
        double seconds;
        double cpu_s; /* serve's, or the applying thread's */
        double client_cpu_s; /* the posting thread's (HTTP only) */
};

static double reports_per_s(const struct rate *r)
{
        return r->seconds > 0 ? r->reports / r->seconds : 0;
}

static double cpu_us_per_report(const struct rate *r)
{
        return r->reports ? r->cpu_s / r->reports * 1e6 : 0;
}

static double thread_cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_THREAD, &ru);
        return cpu_seconds(&ru);
}

/* v sorted: the smallest value at least fraction p of them do not exceed. */
static double percentile(const double *v, size_t n, double p)
{
        size_t i = (size_t)ceil(p * (double)n);

        return n ? v[i ? i - 1 : 0] : 0;
}

/* ---- the fleet ---- */

static void host_place(unsigned i, unsigned *ret_dc, unsigned *ret_role, unsigned *ret_k)
{
        *ret_dc = i % DCS;
        *ret_role = (i / DCS) % ROLES;
        *ret_k = i / (DCS * ROLES);
}

static int write_roles(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "we");

        if (!f)
                return bench_error(-errno, "Failed to create %s: %m", path);
        for (unsigned dc = 0; dc < DCS; dc++)
                for (unsigned role = 0; role < ROLES; role++)
                        fprintf(f, "10.%u.%u.0/24 shop:%s dc=dc%u\n", dc + 1, role + 1, role_names[role], dc + 1);
        if (fflush(f) != 0)
                return bench_error(-errno, "Failed to write %s: %m", path);
        return 0;
}

static int read_roles(const char *path, struct nd_role_rules *ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char why[256];

        if (!f)
                return bench_error(-errno, "Failed to open %s: %m", path);
        if (nd_role_rules_parse(f, ret, why, sizeof(why)) < 0)
                return bench_error(-EINVAL, "%s:%s", path, why);
        return 0;
}

static void fleet_done(struct fleet *f)
{
        for (unsigned i = 0; f->bodies && i < f->n; i++)
                free(f->bodies[i]);
        free(f->bodies);
        free(f->body_sizes);
        free(f->links);
        free(f->addrs);
        free(f->reports);
        *f = (struct fleet){};
}

static void make_report(struct fleet *f, unsigned i, int64_t now)
{
        struct nd_report *r = &f->reports[i];
        struct nd_report_indicators *ind = &r->indicators;
        unsigned dc, role, k, stride = f->n / LINKS;
        static const uint16_t ports[] = { 5432, 6379, 8080 };

        host_place(i, &dc, &role, &k);
        snprintf(f->addrs[i], ND_ADDR_TEXT_MAX, "10.%u.%u.%u", dc + 1, role + 1, k + 1);
        *r = (struct nd_report){ .ts = now, .interval_s = INTERVAL_S, .addrs = &f->addrs[i], .n_addrs = 1,
                                 .links = &f->links[(size_t)i * LINKS], .n_links = LINKS };
        snprintf(r->hostname, sizeof(r->hostname), "h%05u", i);
        ind->has_load = ind->has_cpu = true;
        ind->load[0] = (double)(i % 400) / 100.0;
        ind->load[1] = (double)(i % 300) / 100.0;
        ind->load[2] = (double)(i % 200) / 100.0;
        ind->cpu = (double)(i % 100) / 100.0;
        if (strcmp(role_names[role], "web") == 0 || strcmp(role_names[role], "lb") == 0) {
                ind->has_nginx = true;
                ind->nginx_requests_per_s = 50.0 + i % 200;
                ind->nginx_active = i % 40;
                ind->n_errors = 2;
                ind->errors[0] = (struct nd_status_rate){ 404, 0.5 };
                ind->errors[1] = (struct nd_status_rate){ 502, (double)(i % 13) / 10.0 };
        }
        for (unsigned j = 0; j < LINKS; j++) {
                struct nd_link_result *l = &r->links[j];
                unsigned dst = (i + 1 + j * stride) % f->n;
                bool icmp = j % 4 == 3, lost = i % BROKEN_EVERY == 0 && j < BROKEN_LINKS;
                int64_t p50 = 200 + (i + j) % 300;

                host_place(dst, &dc, &role, &k);
                *l = (struct nd_link_result){ .port = icmp ? 0 : ports[j % 3], .kind = icmp ? ND_LINK_ICMP : ND_LINK_TCP,
                                              .sent = PROBES, .lost = lost ? PROBES : 0,
                                              .rtt_p50_us = lost ? -1 : p50, .rtt_p99_us = lost ? -1 : 3 * p50 };
                snprintf(l->addr, sizeof(l->addr), "10.%u.%u.%u", dc + 1, role + 1, k + 1);
        }
}

static int fleet_make(unsigned n, struct fleet *ret)
{
        struct fleet f = { .n = n };
        int64_t now = (int64_t)time(NULL);
        int r;

        f.reports = calloc(n, sizeof(*f.reports));
        f.addrs = calloc(n, sizeof(*f.addrs));
        f.links = calloc((size_t)n * LINKS, sizeof(*f.links));
        f.bodies = calloc(n, sizeof(*f.bodies));
        f.body_sizes = calloc(n, sizeof(*f.body_sizes));
        if (!f.reports || !f.addrs || !f.links || !f.bodies || !f.body_sizes) {
                fleet_done(&f);
                return bench_error(-ENOMEM, "Failed to make the fleet: %m");
        }
        for (unsigned i = 0; i < n; i++) {
                _cleanup_free_ char *json = NULL;
                size_t size;

                make_report(&f, i, now);
                r = nd_report_to_json(&f.reports[i], &json, &size);
                if (r >= 0)
                        r = nd_gzip(json, size, &f.bodies[i], &f.body_sizes[i]);
                if (r < 0) {
                        fleet_done(&f);
                        return bench_error(r, "Failed to make report %u: %m", i);
                }
                f.json_bytes += size;
                f.gzip_bytes += f.body_sizes[i];
        }
        *ret = f;
        return 0;
}

/* ---- netdep serve ---- */

struct server {
        pid_t pid;
        char base[64]; /* http://127.0.0.1:PORT */
        struct agent_files files;
};

static int free_port(uint16_t *ret)
{
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sin);

        if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
                return -errno;
        *ret = ntohs(sin.sin_port);
        return 0;
}

static size_t keep_body(char *data, size_t size, size_t n, void *userdata)
{
        size_t *total = userdata;

        *total += size * n;
        return size * n;
}

static long http_get(CURL *curl, const char *url, size_t *ret_bytes)
{
        long code = 0;
        size_t bytes = 0;

        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &bytes);
        if (curl_easy_perform(curl) != CURLE_OK)
                return -1;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (ret_bytes)
                *ret_bytes = bytes;
        return code;
}

static void print_log(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[512];

        fprintf(stderr, "--- %s ---\n", path);
        while (f && fgets(line, sizeof(line), f))
                fputs(line, stderr);
}

static int server_start(const struct bench_options *o, const char *dir, struct server *ret)
{
        _cleanup_close_ int log_fd = -EBADF, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        char roles[PATH_MAX], listen[32];
        struct server s = {};
        uint16_t port = 0;
        int r;

        if (devnull < 0)
                return -errno;
        log_fd = agent_files_make(o->netdep, dir, "serve", &bench_interrupted, &s.files);
        if (log_fd < 0)
                return log_fd;
        snprintf(roles, sizeof(roles), "%s/roles", dir);
        r = write_roles(roles);
        if (r < 0)
                return r;
        r = run_command((const char *const[]){ o->netdep, "roles", "import", roles, "--store", s.files.uri, NULL },
                        devnull, COMMAND_TIMEOUT_S, &bench_interrupted, NULL);
        if (r < 0)
                return r;
        r = free_port(&port);
        if (r < 0)
                return bench_error(r, "Failed to find a free port: %m");
        snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
        snprintf(s.base, sizeof(s.base), "http://%s", listen);
        r = spawn((const char *const[]){ o->netdep, "serve", "--store", s.files.uri, "--listen", listen, NULL }, devnull,
                  log_fd, &s.pid);
        if (r < 0)
                return bench_error(r, "Failed to start netdep serve: %m");
        *ret = s;
        return 0;
}

/* Until /healthz answers 200, START_TIMEOUT_S at most. */
static int server_wait(struct server *s)
{
        _cleanup_(curl_easy_cleanupp) CURL *curl = curl_easy_init();
        double deadline = monotonic_s() + START_TIMEOUT_S;
        char url[96];
        int status;

        if (!curl)
                return -ENOMEM;
        snprintf(url, sizeof(url), "%s/healthz", s->base);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 1000L);
        while (monotonic_s() < deadline && !bench_interrupted) {
                if (http_get(curl, url, NULL) == 200)
                        return 0;
                if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                        s->pid = 0;
                        print_log(s->files.log_path);
                        return bench_error(-EPROTO, "netdep serve exited at start (status %d)", status);
                }
                usleep(50 * 1000);
        }
        print_log(s->files.log_path);
        return bench_error(bench_interrupted ? -EINTR : -ETIMEDOUT, "netdep serve did not answer /healthz: %m");
}

static void server_stop(struct server *s)
{
        if (s->pid <= 0)
                return;
        kill(s->pid, SIGTERM);
        (void)reap(s->pid, monotonic_s() + 5.0, NULL, NULL, NULL);
        s->pid = 0;
}

/* ---- 1. ingest ---- */

struct poster {
        CURL *curl;
        size_t bytes;
};

static int post_reports(const struct bench_options *o, const struct fleet *f, const struct server *s, struct rate *ret)
{
        _cleanup_free_ struct poster *posters = calloc(o->connections, sizeof(*posters));
        struct curl_slist *headers = NULL;
        CURLM *multi = curl_multi_init();
        struct proc_sample p0 = {}, p1;
        struct rate rate = {};
        double start = monotonic_s(), t0 = 0, cpu0 = 0, now;
        unsigned next = 0, done = 0, failed_warmup = 0;
        long first_error = 0;
        char url[96];
        int running, r = 0;

        if (!posters || !multi) {
                curl_multi_cleanup(multi);
                return bench_error(-ENOMEM, "Failed to set up libcurl: %m");
        }
        snprintf(url, sizeof(url), "%s/api/v1/report", s->base);
        headers = curl_slist_append(headers, "Content-Type: application/json");
        headers = curl_slist_append(headers, "Content-Encoding: gzip");
        headers = curl_slist_append(headers, "Expect:");
        curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->connections);
        for (unsigned c = 0; c < o->connections; c++) {
                CURL *curl = posters[c].curl = curl_easy_init();

                if (!curl || !headers) {
                        r = bench_error(-ENOMEM, "Failed to set up libcurl: %m");
                        goto out;
                }
                curl_easy_setopt(curl, CURLOPT_URL, url);
                curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
                curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
                curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
                curl_easy_setopt(curl, CURLOPT_WRITEDATA, &posters[c].bytes);
                curl_easy_setopt(curl, CURLOPT_PRIVATE, &posters[c]);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->body_sizes[next % f->n]);
                curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)f->bodies[next % f->n]);
                next++;
                curl_multi_add_handle(multi, curl);
        }

        for (;;) {
                CURLMsg *msg;
                int left;

                if (bench_interrupted) {
                        r = -EINTR;
                        goto out;
                }
                if (curl_multi_perform(multi, &running) != CURLM_OK ||
                    curl_multi_poll(multi, NULL, 0, 100, NULL) != CURLM_OK) {
                        r = bench_error(-EIO, "libcurl failed");
                        goto out;
                }
                while ((msg = curl_multi_info_read(multi, &left))) {
                        CURL *curl = msg->easy_handle;
                        long code = 0;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        if (msg->data.result == CURLE_OK)
                                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
                        if (code != 200 && !first_error)
                                first_error = code ? code : -(long)msg->data.result;
                        done++;
                        if (t0 == 0)
                                failed_warmup += code != 200;
                        else if (code == 200)
                                rate.reports++;
                        else
                                rate.failed++;
                        curl_multi_remove_handle(multi, curl);
                        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)f->body_sizes[next % f->n]);
                        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)f->bodies[next % f->n]);
                        next++;
                        curl_multi_add_handle(multi, curl);
                }
                now = monotonic_s();
                if (t0 == 0 && done >= f->n) {
                        rate.warmup = done;
                        rate.warmup_s = now - start;
                        r = sample_proc(s->pid, &p0);
                        if (r < 0) {
                                r = bench_error(r, "netdep serve is gone: %m");
                                goto out;
                        }
                        t0 = now;
                        cpu0 = thread_cpu_s();
                } else if (t0 == 0 && now - start > WARMUP_MAX_S) {
                        r = bench_error(-ETIMEDOUT, "Only %u reports of %u in the first %.0f s", done, f->n,
                                        WARMUP_MAX_S);
                        goto out;
                }
                if (t0 > 0 && now - t0 >= o->duration_s) {
                        r = sample_proc(s->pid, &p1);
                        if (r < 0) {
                                r = bench_error(r, "netdep serve is gone: %m");
                                goto out;
                        }
                        rate.seconds = now - t0;
                        rate.client_cpu_s = thread_cpu_s() - cpu0;
                        rate.cpu_s = ticks_to_seconds(p1.cpu_ticks - p0.cpu_ticks);
                        break;
                }
        }
        if (failed_warmup + rate.failed > 0)
                fprintf(stderr, "live-bench: %u reports not answered 200 (the first: %ld)\n",
                        failed_warmup + rate.failed, first_error);
        *ret = rate;
out:
        for (unsigned c = 0; c < o->connections; c++)
                if (posters[c].curl) {
                        curl_multi_remove_handle(multi, posters[c].curl);
                        curl_easy_cleanup(posters[c].curl);
                }
        curl_multi_cleanup(multi);
        curl_slist_free_all(headers);
        return r;
}

static int apply_reports(struct nd_live *live, const struct bench_options *o, const struct fleet *f,
                         struct rate *ret)
{
        struct rate rate = {};
        double start = monotonic_s(), t0, cpu0;
        char why[512];
        int r;

        for (unsigned i = 0; i < f->n; i++) {
                r = nd_live_apply(live, &f->reports[i], (int64_t)time(NULL), why, sizeof(why));
                if (r < 0)
                        return bench_error(r, "nd_live_apply: %s", why);
        }
        t0 = monotonic_s();
        rate.warmup = f->n;
        rate.warmup_s = t0 - start;
        cpu0 = thread_cpu_s();
        for (unsigned k = 0;; k++) {
                if ((k & 63) == 0) {
                        double now = monotonic_s();

                        if (bench_interrupted)
                                return -EINTR;
                        if (now - t0 >= o->duration_s) {
                                rate.seconds = now - t0;
                                break;
                        }
                }
                r = nd_live_apply(live, &f->reports[k % f->n], (int64_t)time(NULL), why, sizeof(why));
                if (r < 0)
                        return bench_error(r, "nd_live_apply: %s", why);
                rate.reports++;
        }
        rate.cpu_s = thread_cpu_s() - cpu0;
        *ret = rate;
        return 0;
}

/* ---- 2. queries ---- */

/* Copies table's rows out of the live state into db, COPY_PAGE at a time. */
static int copy_table(struct nd_live *live, sqlite3 *db, const char *table, size_t *ret_rows)
{
        const struct nd_query_limits limits = { .time_ms = 60000, .max_rows = COPY_PAGE };
        sqlite3_stmt *insert = NULL;
        size_t copied = 0;
        char sql[256], why[512];
        int r = 0;

        for (;;) {
                json_t *res = NULL, *rows, *row;
                size_t n, i;

                snprintf(sql, sizeof(sql), "SELECT * FROM %s LIMIT %d OFFSET %zu", table, COPY_PAGE, copied);
                r = nd_live_query(live, sql, &limits, &res, why, sizeof(why));
                if (r < 0) {
                        r = bench_error(r, "%s: %s", sql, why);
                        break;
                }
                rows = json_object_get(res, "rows");
                n = json_array_size(rows);
                if (!insert) {
                        size_t columns = json_array_size(json_object_get(res, "columns"));
                        int len = snprintf(sql, sizeof(sql), "INSERT INTO %s VALUES (?", table);

                        for (size_t c = 1; c < columns; c++)
                                len += snprintf(sql + len, sizeof(sql) - (size_t)len, ", ?");
                        snprintf(sql + len, sizeof(sql) - (size_t)len, ")");
                        if (sqlite3_prepare_v2(db, sql, -1, &insert, NULL) != SQLITE_OK) {
                                json_decref(res);
                                r = bench_error(-EIO, "%s: %s", sql, sqlite3_errmsg(db));
                                break;
                        }
                }
                json_array_foreach(rows, i, row) {
                        json_t *v;
                        size_t c;

                        sqlite3_reset(insert);
                        json_array_foreach(row, c, v) {
                                int k = (int)c + 1;

                                if (json_is_integer(v))
                                        sqlite3_bind_int64(insert, k, json_integer_value(v));
                                else if (json_is_real(v))
                                        sqlite3_bind_double(insert, k, json_real_value(v));
                                else if (json_is_string(v))
                                        sqlite3_bind_text(insert, k, json_string_value(v),
                                                          (int)json_string_length(v), SQLITE_TRANSIENT);
                                else
                                        sqlite3_bind_null(insert, k);
                        }
                        if (sqlite3_step(insert) != SQLITE_DONE) {
                                r = bench_error(-EIO, "INSERT INTO %s: %s", table, sqlite3_errmsg(db));
                                break;
                        }
                }
                json_decref(res);
                copied += n;
                if (r < 0 || n < COPY_PAGE)
                        break;
        }
        sqlite3_finalize(insert);
        if (r < 0)
                return r;
        *ret_rows = copied;
        return 0;
}

/* The peer: a plain :memory: database with the live state's schema and rows. */
static int plain_copy(struct nd_live *live, sqlite3 **ret)
{
        static const char *const tables[] = { "hosts", "links", "host_addrs", "nginx_errors", "alerts" };
        sqlite3 *db = NULL;
        size_t rows;
        int r = 0;

        if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
                    SQLITE_OK ||
            sqlite3_exec(db, nd_live_schema(), NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
                r = bench_error(-EIO, "Failed to make the plain database: %s", db ? sqlite3_errmsg(db) : "?");
                sqlite3_close(db);
                return r;
        }
        printf("plain sqlite3 copy:");
        for (size_t t = 0; r >= 0 && t < ELEMENTSOF(tables); t++) {
                r = copy_table(live, db, tables[t], &rows);
                if (r >= 0)
                        printf(" %s %zu", tables[t], rows);
        }
        printf(" rows\n");
        if (r >= 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
                r = bench_error(-EIO, "COMMIT: %s", sqlite3_errmsg(db));
        if (r < 0) {
                sqlite3_close(db);
                return r;
        }
        *ret = db;
        return 0;
}

/* Prepares, steps through every row reading every column, finalizes.
 * Returns the number of rows or -EIO. */
static long plain_query(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *st = NULL;
        volatile size_t touched = 0;
        long rows = 0;
        int r, n;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        n = sqlite3_column_count(st);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                for (int i = 0; i < n; i++)
                        switch (sqlite3_column_type(st, i)) {
                        case SQLITE_INTEGER:
                                touched += (size_t)sqlite3_column_int64(st, i);
                                break;
                        case SQLITE_FLOAT:
                                touched += (size_t)sqlite3_column_double(st, i);
                                break;
                        case SQLITE_NULL:
                                break;
                        default:
                                touched += (size_t)sqlite3_column_bytes(st, i) + (sqlite3_column_text(st, i) != NULL);
                        }
                rows++;
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? rows : -EIO;
}

struct query_times {
        double *ms[N_QUERIES][_WAY_MAX];
        long rows[N_QUERIES][_WAY_MAX];
        size_t http_bytes[N_QUERIES];
};

static int time_queries(const struct bench_options *o, struct nd_live *live, sqlite3 *db, const struct server *s,
                        struct query_times *t)
{
        const struct nd_query_limits limits = ND_QUERY_LIMITS_DEFAULT;
        _cleanup_(curl_easy_cleanupp) CURL *curl = curl_easy_init();
        char *urls[N_QUERIES] = {};
        int r = 0;

        if (!curl)
                return -ENOMEM;
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
        for (size_t q = 0; q < N_QUERIES; q++) {
                char *escaped = curl_easy_escape(curl, queries[q], 0);

                if (!escaped || asprintf(&urls[q], "%s/api/v1/query?sql=%s", s->base, escaped) < 0) {
                        urls[q] = NULL;
                        r = -ENOMEM;
                }
                curl_free(escaped);
        }
        for (unsigned run = 0; r >= 0 && run < o->runs && !bench_interrupted; run++)
                for (size_t q = 0; r >= 0 && q < N_QUERIES; q++)
                        for (unsigned w = 0; r >= 0 && w < _WAY_MAX; w++) {
                                enum way way = (enum way)((w + run) % _WAY_MAX); /* who goes first rotates */
                                char why[512];
                                json_t *res = NULL;
                                size_t bytes = 0;
                                long rows = 0, code;
                                double t0 = monotonic_s(), t1;

                                switch (way) {
                                case WAY_LIVE:
                                        r = nd_live_query(live, queries[q], &limits, &res, why, sizeof(why));
                                        t1 = monotonic_s();
                                        if (r < 0)
                                                r = bench_error(r, "nd_live_query: %s", why);
                                        else
                                                rows = (long)json_array_size(json_object_get(res, "rows"));
                                        json_decref(res);
                                        break;
                                case WAY_PLAIN:
                                        rows = plain_query(db, queries[q]);
                                        t1 = monotonic_s();
                                        if (rows < 0)
                                                r = bench_error(-EIO, "plain sqlite3: %s", sqlite3_errmsg(db));
                                        break;
                                default:
                                        code = http_get(curl, urls[q], &bytes);
                                        t1 = monotonic_s();
                                        if (code != 200)
                                                r = bench_error(-EPROTO, "GET /api/v1/query: status %ld", code);
                                        t->http_bytes[q] = bytes;
                                        rows = -1; /* not parsed */
                                        break;
                                }
                                t->ms[q][way][run] = (t1 - t0) * 1e3;
                                t->rows[q][way] = rows;
                        }
        for (size_t q = 0; q < N_QUERIES; q++)
                free(urls[q]);
        if (r >= 0 && bench_interrupted)
                r = -EINTR;
        return r;
}

/* ---- main ---- */

static int parse_args(int argc, char **argv, struct bench_options *o)
{
        for (int i = 1; i < argc; i++) {
                unsigned *v = NULL;
                long long min = 1, max = 0;

                if (strcmp(argv[i], "--netdep") == 0 && i + 1 < argc) {
                        o->netdep = argv[++i];
                        continue;
                }
                if (strcmp(argv[i], "--hosts") == 0)
                        v = &o->hosts, min = 2 * LINKS, max = MAX_HOSTS;
                else if (strcmp(argv[i], "--connections") == 0)
                        v = &o->connections, max = 256;
                else if (strcmp(argv[i], "--duration") == 0)
                        v = &o->duration_s, max = 60;
                else if (strcmp(argv[i], "--runs") == 0)
                        v = &o->runs, min = 10, max = 1000;
                if (!v || i + 1 >= argc || bench_parse_uint(argv[++i], min, max, v) < 0) {
                        bool help = strcmp(argv[i], "--help") == 0;

                        fprintf(help ? stdout : stderr,
                                "Usage: live-bench [--hosts N<=%d] [--connections C<=256] [--duration S<=60]\n"
                                "                  [--runs R<=1000] [--netdep PATH]\n",
                                MAX_HOSTS);
                        return help ? 1 : -EINVAL;
                }
        }
        return 0;
}

static void print_rate(const char *what, const struct rate *r)
{
        printf("%-34s first round %u in %.2f s (%.0f/s); then %u in %.2f s: %.0f reports/s\n", what, r->warmup,
               r->warmup_s, r->warmup_s > 0 ? r->warmup / r->warmup_s : 0, r->reports, r->seconds, reports_per_s(r));
}

static bool print_queries(const struct bench_options *o, struct query_times *t)
{
        static const char *const way_names[] = { "nd_live_query", "plain sqlite3", "HTTP GET /api/v1/query" };
        double med[_WAY_MAX];
        bool met = true;

        printf("\n2. Query latency over %u hosts x %d links, %u runs each, ms (median / p99)\n", o->hosts, LINKS,
               o->runs);
        for (size_t q = 0; q < N_QUERIES; q++) {
                printf("\nQ%zu  %s\n", q + 1, queries[q]);
                for (unsigned w = 0; w < _WAY_MAX; w++) {
                        qsort(t->ms[q][w], o->runs, sizeof(double), compare_double);
                        med[w] = percentile(t->ms[q][w], o->runs, 0.5);
                        printf("    %-24s %8.3f / %8.3f", way_names[w], med[w], percentile(t->ms[q][w], o->runs, 0.99));
                        if (w == WAY_HTTP)
                                printf("   (%zu bytes of JSON)\n", t->http_bytes[q]);
                        else
                                printf("   (%ld rows)\n", t->rows[q][w]);
                }
                if (t->rows[q][WAY_LIVE] != t->rows[q][WAY_PLAIN])
                        printf("    note: the two in-process answers differ in rows\n");
                printf("    nd_live_query / plain sqlite3: %.2f; HTTP / nd_live_query: %.2f\n",
                       med[WAY_PLAIN] > 0 ? med[WAY_LIVE] / med[WAY_PLAIN] : 0,
                       med[WAY_LIVE] > 0 ? med[WAY_HTTP] / med[WAY_LIVE] : 0);
                printf("    Target median nd_live_query <= %.0f ms: %s\n", TARGET_QUERY_MEDIAN_MS,
                       med[WAY_LIVE] <= TARGET_QUERY_MEDIAN_MS ? "PASS" : "FAIL");
                met = met && med[WAY_LIVE] <= TARGET_QUERY_MEDIAN_MS;
        }
        return met;
}

static int run(const struct bench_options *o, const char *dir)
{
        _cleanup_free_ double *all_ms = calloc((size_t)N_QUERIES * _WAY_MAX * o->runs, sizeof(double));
        struct nd_link_policy policy = ND_LINK_POLICY_DEFAULT;
        struct nd_role_rules roles = {};
        struct nd_live *live = NULL;
        struct server s = {};
        struct fleet f = {};
        struct rate http = {}, inproc = {};
        struct query_times t = {};
        sqlite3 *db = NULL;
        char roles_path[PATH_MAX];
        double t0;
        bool met;
        int r;

        if (!all_ms)
                return -ENOMEM;
        for (size_t q = 0; q < N_QUERIES; q++)
                for (unsigned w = 0; w < _WAY_MAX; w++)
                        t.ms[q][w] = all_ms + (q * _WAY_MAX + w) * o->runs;
        t0 = monotonic_s();
        r = fleet_make(o->hosts, &f);
        if (r < 0)
                return r;
        printf("reports: %u hosts x %d links, built in %.2f s: %.0f bytes of JSON each, %.0f gzip'd (mean)\n", f.n,
               LINKS, monotonic_s() - t0, (double)f.json_bytes / f.n, (double)f.gzip_bytes / f.n);

        r = server_start(o, dir, &s);
        if (r >= 0)
                r = server_wait(&s);
        if (r >= 0) {
                printf("netdep serve on %s (store %s), %u connections\n", s.base, s.files.uri, o->connections);
                fflush(stdout);
                r = post_reports(o, &f, &s, &http);
        }
        if (r >= 0) {
                snprintf(roles_path, sizeof(roles_path), "%s/roles", dir);
                r = read_roles(roles_path, &roles);
        }
        if (r >= 0 && ((r = nd_live_new(&policy, &live)) < 0 || (r = nd_live_set_roles(live, &roles)) < 0))
                bench_error(r, "Failed to make the live state: %m");
        if (r >= 0)
                r = apply_reports(live, o, &f, &inproc);
        if (r < 0)
                goto out;

        printf("\n1. Reports ingested (%d links each), %u s measured after a first round of %u\n", LINKS,
               o->duration_s, f.n);
        print_rate("serve, POST /api/v1/report:", &http);
        printf("    %u not answered 200; serve's CPU %.2f s (%.0f%% of a core), %.0f µs a report; "
               "the posting thread's %.0f µs a report\n",
               http.failed, http.cpu_s, http.seconds > 0 ? http.cpu_s / http.seconds * 100 : 0,
               cpu_us_per_report(&http), http.reports ? http.client_cpu_s / http.reports * 1e6 : 0);
        print_rate("in-process nd_live_apply, 1 thread:", &inproc);
        printf("    CPU %.0f µs a report\n", cpu_us_per_report(&inproc));
        printf("serve / in-process, reports/s: %.2f; CPU a report: %.2f\n",
               reports_per_s(&inproc) > 0 ? reports_per_s(&http) / reports_per_s(&inproc) : 0,
               cpu_us_per_report(&inproc) > 0 ? cpu_us_per_report(&http) / cpu_us_per_report(&inproc) : 0);
        met = reports_per_s(&http) >= TARGET_REPORTS_PER_S;
        printf("Target >= %.0f reports/s through serve: %s\n", TARGET_REPORTS_PER_S, met ? "PASS" : "FAIL");
        fflush(stdout);

        r = plain_copy(live, &db);
        if (r >= 0)
                r = time_queries(o, live, db, &s, &t);
        if (r < 0)
                goto out;
        met = print_queries(o, &t) && met;
        r = met ? 0 : 1;
out:
        server_stop(&s);
        sqlite3_close(db);
        nd_live_free(live);
        nd_role_rules_done(&roles);
        fleet_done(&f);
        return r;
}

int main(int argc, char **argv)
{
        struct bench_options o = { .hosts = 10000, .connections = 16, .duration_s = 10, .runs = 200,
                                   .netdep = NETDEP_PATH };
        char dir[] = "/tmp/live-bench.XXXXXX";
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return bench_error(-EIO, "libcurl failed to start"), EXIT_FAILURE;
        if (!mkdtemp(dir))
                return bench_error(-errno, "Failed to make a temporary directory: %m"), EXIT_FAILURE;
        printf("live-bench: %ld CPUs online, netdep %s, SQLite %s\n", sysconf(_SC_NPROCESSORS_ONLN), o.netdep,
               sqlite3_libversion());
        print_load("before");
        r = run(&o, dir);
        print_load("after");
        remove_temp_dir(dir);
        curl_global_cleanup();
        if (r < 0)
                return EXIT_FAILURE;
        return r > 0 ? 3 : EXIT_SUCCESS;
}
