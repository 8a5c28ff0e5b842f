/* app-cost-bench: what watching the network costs the applications, in
 * request latency: a small HTTP server under wrk, with nothing running,
 * with `netdep agent`, with `tcpdump -w /dev/null`, and with an nftables
 * log rule on the server's port (the earlier methods netdep's eBPF
 * streaming replaces).
 *
 *   app-cost-bench [--rounds N] [--duration S] [--connections N]
 *                  [--threads N] [--conditions LIST] [--modes LIST]
 *                  [--netdep PATH] [--wrk PATH] [--tcpdump PATH] [--nft PATH]
 *                  [--keep]
 *
 * In --rounds (7) interleaved rounds, for each connection mode and each
 * condition (their order rotated every round), the bench makes a network
 * namespace of its own, lo only (a fresh one for every run: what a run
 * leaves behind, such as close mode's TIME_WAIT sockets, stays out of the
 * next), starts an HTTP server there (libmicrohttpd 0.9, one internal
 * epoll thread, a 13-byte answer to every request) in a child process on
 * 127.0.0.1:8080, starts the condition's helper, waits 3 s (the agent
 * loads its BPF programs and takes its first snapshot), runs
 *
 *   wrk -t THREADS -c CONNECTIONS -d DURATION --latency --timeout 5s \
 *       [-H "Connection: close"] http://127.0.0.1:8080/
 *
 * (1 thread, 8 connections, 10 s), or the bench's own new-connection
 * client (new-conn-client.h), stops the helper and reads the p50 and p99
 * latency and requests/s. Both are closed-loop: each connection sends its
 * next request when the answer to the last one came, as fast as the two
 * CPUs allow. Connection modes (--modes):
 *
 *   keep-alive  8 connections for the whole run: a connection-level
 *               tracer sees almost nothing;
 *   close       `Connection: close`: the server closes after each answer and
 *               wrk opens a new connection per request. wrk's clock runs
 *               from the request's write to the answer: the connection's
 *               opening and closing, where a connection-level tracer works,
 *               are not in it (they are in requests/s);
 *   new-connection
 *               the bench's client, one connection at a time: each request
 *               timed from socket() to close(), connect, request, answer
 *               and the server's close all in it. What an application
 *               without a connection pool waits for, and the worst case
 *               for a connection-level tracer.
 *
 * Conditions (--conditions, default none,none-again,hybrid,streaming,
 * tcpdump,nft):
 *
 *   none        nothing else runs;
 *   none-again  the same, a second time in each round: how far two runs of
 *               nothing differ, the noise floor the other figures sit on;
 *   hybrid, streaming, polling
 *               `netdep agent --store sqlite:DIR/store.db --interval 1s
 *               --flush-interval 10s --keep-loopback --mode MODE` (hybrid is
 *               the agent's default when eBPF loads; the flush at 10 s
 *               falls inside the run);
 *   tcpdump     `tcpdump -i lo -w /dev/null`;
 *   nft         a table of the bench's own namespace (deleted after each
 *               run) logging the SYN of every new connection to the port,
 *               `tcp dport 8080 tcp flags & (syn | ack) == syn log group 1`,
 *               read by `tcpdump -i nflog:1 -w /dev/null`. A syslog `log`
 *               rule would print nothing here: the kernel drops log lines
 *               from namespaces other than the first unless the host sets
 *               net.netfilter.nf_log_all_netns, which would spill into the
 *               host's log.
 *
 * Each run waits (at most 30 s) until the machine is quiet: under 15%
 * of a core busy over a second. A run during which other processes still
 * used more than 15% of a core (busy time in /proc/stat less that of wrk,
 * the server, the helper and ksoftirqd) is run again, up to 4 times; the
 * least disturbed one counts.
 *
 * Per connection mode and condition: medians over the rounds of p50, p99
 * and requests/s, p99's range, the helper's CPU (wait4); and p50 and p99
 * pooled, of every request of every round together (wrk's own 1 µs
 * histogram, written by a Lua done() hook). A median of per-run p99s
 * throws most of the tail away; the pooled p99 uses all of it. Target:
 * the agent (hybrid and streaming) adds less than 2% to p99, in
 * both connection modes. The verdict takes the pooled p99 against none's
 * in the same rounds, with its 95% interval from a bootstrap over rounds
 * (rounds drawn with replacement, a condition's run and none's of the same
 * round always together, 2000 times): PASS when all of the interval is
 * under 2%, FAIL when all of it is over, INCONCLUSIVE otherwise; the worst
 * over the agent's conditions counts. none-again against none shows the
 * same for nothing. The pooled p50 against none's, with its interval the
 * same way, is shown beside it: the median moves by what the agent adds to
 * every request, where the tail moves mostly with the machine.
 *
 * Run as root, from the top of the tree (needs wrk, tcpdump, nftables):
 *
 *   ninja -C build && build/bench/app-cost-bench
 *
 * Exit status: 0 measured and the target met, 1 the bench failed, 2 usage
 * error, 3 measured but the target was missed or could not be shown
 * (INCONCLUSIVE). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "hold.h"
#include "latency-hist.h"
#include "new-conn-client.h"
#include "run-command.h"
#include "shared/cleanup.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define PORT 8080
#define URL "http://127.0.0.1:8080/"
#define REQUEST_NEW_CONNECTION "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n"
#define ANSWER "hello, world\n"
#define NFT_TABLE "netdep_app_cost"
#define NFLOG_GROUP "1"
#define SETTLE_S 3
#define READY_TIMEOUT_S 10
#define STOP_TIMEOUT_S 30
#define COMMAND_TIMEOUT_S 60
#define TARGET_P99_PERCENT 2.0
#define MAX_ROUNDS 100
#define BOOTSTRAP_RESAMPLES 2000
#define MIN_ROUNDS_FOR_INTERVAL 5 /* fewer: a bootstrap of rounds tells next to nothing */
#define MAX_CONDITIONS 8
#define MAX_ATTEMPTS 4
#define QUIET_WAIT_S 30
#define CLIENT_CPU 0
#define SERVER_CPU 1
#define STRINGIFY(x) #x
#define TEXT_OF(x) STRINGIFY(x)
#define CLIENT_CPU_TEXT TEXT_OF(CLIENT_CPU)
#define FOREIGN_LIMIT 0.15 /* of a core, used by other processes during a run: run it again */

enum helper {
        HELPER_NONE,
        HELPER_AGENT,
        HELPER_TCPDUMP,
        HELPER_NFT,
};

struct condition {
        const char *name;
        enum helper helper;
        const char *mode; /* HELPER_AGENT: its --mode */
};

static const struct condition known_conditions[] = {
        { "none", HELPER_NONE, NULL },
        { "none-again", HELPER_NONE, NULL },
        { "hybrid", HELPER_AGENT, "hybrid" },
        { "streaming", HELPER_AGENT, "streaming" },
        { "polling", HELPER_AGENT, "polling" },
        { "tcpdump", HELPER_TCPDUMP, NULL },
        { "nft", HELPER_NFT, NULL },
};

enum conn_mode {
        CONN_KEEP_ALIVE,
        CONN_CLOSE,
        CONN_NEW,
        _CONN_MODE_MAX,
};

static const char *const conn_mode_name[_CONN_MODE_MAX] = {
        [CONN_KEEP_ALIVE] = "keep-alive",
        [CONN_CLOSE] = "close",
        [CONN_NEW] = "new-connection",
};

struct bench_options {
        unsigned rounds, duration_s, connections, threads;
        const struct condition *conditions[MAX_CONDITIONS];
        size_t n_conditions;
        bool modes[_CONN_MODE_MAX];
        const char *netdep, *wrk, *tcpdump, *nft;
        bool keep;
        bool pin; /* the client (wrk or ours) on CLIENT_CPU, the server on SERVER_CPU */
        bool agent_has_mode; /* found out at the start: `netdep agent --help` lists --mode */
};

/* ---- the HTTP server ---- */

/* libmicrohttpd calls this first with the request's headers only. A
 * response queued then would be sent with "Connection: close" (the request
 * might still have a body coming): answer on the second call, once the
 * request is complete, and the connection stays open. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **req_cls)
{
        static int headers_seen;

        if (!*req_cls) {
                *req_cls = &headers_seen;
                return MHD_YES;
        }
        return MHD_queue_response(connection, MHD_HTTP_OK, cls);
}

/* In the child: serves until SIGTERM; says "ready" on ready_fd once it
 * listens. */
static _Noreturn void serve(int ready_fd, int cpu)
{
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(PORT),
                                    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct MHD_Response *response;
        struct MHD_Daemon *daemon;
        sigset_t mask;
        int sig;

        prctl(PR_SET_NAME, "http-server");
        if (pin_to_cpu(cpu) < 0)
                _exit(1);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL); /* the daemon's thread inherits it */
        response = MHD_create_response_from_buffer(strlen(ANSWER), (void *)ANSWER, MHD_RESPMEM_PERSISTENT);
        if (!response)
                _exit(1);
        daemon = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO, PORT, NULL, NULL, answer, response,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                                  (unsigned)4096, MHD_OPTION_CONNECTION_LIMIT, (unsigned)10000, MHD_OPTION_END);
        if (!daemon)
                _exit(1);
        if (write(ready_fd, "ready", 5) != 5)
                _exit(1);
        close(ready_fd);
        sigwait(&mask, &sig);
        MHD_stop_daemon(daemon);
        MHD_destroy_response(response);
        _exit(0);
}

static int server_start(int cpu, pid_t *ret)
{
        _cleanup_close_ int rd = -EBADF, wr = -EBADF;
        pid_t pid;
        int fds[2];
        char buf[8];

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        rd = fds[0];
        wr = fds[1];
        pid = fork_child();
        if (pid < 0)
                return pid;
        if (pid == 0) {
                close(rd);
                serve(wr, cpu);
        }
        *ret = pid;
        close(TAKE_FD(wr));
        if (read(rd, buf, sizeof(buf)) != 5)
                return bench_error(-EPROTO, "The HTTP server failed to start");
        return 0;
}

/* ---- helpers: what runs next to the server ---- */

struct helper_run {
        pid_t pids[2]; /* agent or tcpdump; nft: the nflog reader */
        size_t n;
        bool nft_table;
        double cpu_s; /* of the helper processes, from wait4 */
};

struct paths {
        char dir[64]; /* /tmp/app-cost-bench.XXXXXX */
        char store_uri[PATH_MAX + 16], agent_log[PATH_MAX], tcpdump_log[PATH_MAX], nft_rules[PATH_MAX];
        char wrk_out[PATH_MAX], wrk_script[PATH_MAX], wrk_latencies[PATH_MAX];
        pid_t server;
};

/* Waits until `text` shows up in the file at path (a helper's stderr). */
static int wait_for_text(const char *path, const char *text, pid_t pid)
{
        double deadline = monotonic_s() + READY_TIMEOUT_S;

        while (monotonic_s() < deadline) {
                _cleanup_fclose_ FILE *f = fopen(path, "re");
                char line[512];

                while (f && fgets(line, sizeof(line), f))
                        if (strstr(line, text))
                                return 0;
                if (waitpid(pid, NULL, WNOHANG) != 0)
                        return bench_error(-ESRCH, "%s exited before it was ready; see %s", "A helper", path);
                if (bench_interrupted)
                        return -EINTR;
                usleep(20000);
        }
        return bench_error(-ETIMEDOUT, "No \"%s\" in %s after %d s", text, path, READY_TIMEOUT_S);
}

static int start_logged(const char *const *argv, const char *log_path, bool append, pid_t *ret)
{
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), log_fd = -EBADF;
        int r;

        log_fd = open(log_path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
        if (devnull < 0 || log_fd < 0)
                return bench_error(-errno, "Failed to open %s: %m", log_path);
        r = spawn(argv, devnull, log_fd, ret);
        if (r < 0)
                return bench_error(r, "Failed to start %s: %m", argv[0]);
        return 0;
}

static int nft_table(const struct bench_options *o, const struct paths *p, bool add)
{
        const char *add_argv[] = { o->nft, "-f", p->nft_rules, NULL };
        const char *delete_argv[] = { o->nft, "delete", "table", "inet", NFT_TABLE, NULL };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

        if (devnull < 0)
                return -errno;
        return run_command(add ? add_argv : delete_argv, devnull, COMMAND_TIMEOUT_S, &bench_interrupted, NULL);
}

static int helper_start(const struct bench_options *o, const struct paths *p, const struct condition *c,
                        struct helper_run *h)
{
        const char *agent[] = { o->netdep, "agent", "--store", p->store_uri, "--interval", "1s", "--flush-interval",
                                "10s", "--keep-loopback", o->agent_has_mode ? "--mode" : NULL, c->mode, NULL };
        const char *tcpdump[] = { o->tcpdump, "-i", "lo", "-w", "/dev/null", NULL };
        const char *nflog[] = { o->tcpdump, "-i", "nflog:" NFLOG_GROUP, "-w", "/dev/null", NULL };
        int r;

        *h = (struct helper_run){};
        switch (c->helper) {
        case HELPER_NONE:
                return 0;
        case HELPER_AGENT:
                r = start_logged(agent, p->agent_log, true, &h->pids[0]);
                if (r < 0)
                        return r;
                h->n = 1;
                return 0;
        case HELPER_TCPDUMP:
                r = start_logged(tcpdump, p->tcpdump_log, false, &h->pids[0]);
                if (r < 0)
                        return r;
                h->n = 1;
                return wait_for_text(p->tcpdump_log, "listening on", h->pids[0]);
        case HELPER_NFT:
                r = nft_table(o, p, true);
                if (r < 0)
                        return r;
                h->nft_table = true;
                r = start_logged(nflog, p->tcpdump_log, false, &h->pids[0]);
                if (r < 0)
                        return r;
                h->n = 1;
                return wait_for_text(p->tcpdump_log, "listening on", h->pids[0]);
        }
        return -EINVAL;
}

/* Stops the helpers (SIGTERM; the agent writes a final flush) and drops
 * the nft table. Returns 0, or -errno when one did not exit cleanly. */
static int helper_stop(const struct bench_options *o, const struct paths *p, struct helper_run *h)
{
        int r = 0;

        for (size_t i = 0; i < h->n; i++)
                kill(h->pids[i], SIGTERM);
        for (size_t i = 0; i < h->n; i++) {
                struct rusage ru = {};
                int status = 0, k;

                k = reap(h->pids[i], monotonic_s() + STOP_TIMEOUT_S, &bench_interrupted, &status, &ru);
                h->cpu_s += cpu_seconds(&ru);
                if (k < 0 && r == 0)
                        r = k;
                /* tcpdump exits 0 on SIGTERM; so does the agent. */
                if (k == 0 && !exited_ok(status) && r == 0)
                        r = bench_error(-EPROTO, "A helper failed (status 0x%x); see the logs in %s", status, p->dir);
        }
        h->n = 0;
        if (h->nft_table) {
                int k = nft_table(o, p, false);
                if (k < 0 && r == 0)
                        r = k;
                h->nft_table = false;
        }
        return r;
}

/* ---- the load: wrk, or the bench's own new-connection client ---- */

struct load_result {
        double p50_us, p99_us, rps;
        struct latency_hist *latencies; /* every request's, owned */
        uint64_t requests, errors;
        double client_cpu_s, seconds; /* the client's own CPU (wait4), its wall time */
};

static double to_us(double v, const char *unit)
{
        if (strcmp(unit, "us") == 0)
                return v;
        if (strcmp(unit, "ms") == 0)
                return v * 1e3;
        if (strcmp(unit, "s") == 0)
                return v * 1e6;
        if (strcmp(unit, "m") == 0)
                return v * 60e6;
        return -1;
}

static int parse_wrk(const char *path, struct load_result *ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct load_result w = { .p50_us = -1, .p99_us = -1 };
        char line[512];

        if (!f)
                return bench_error(-errno, "Failed to read %s: %m", path);
        while (fgets(line, sizeof(line), f)) {
                unsigned long long n, a, b, c, d;
                char unit[16];
                double v;
                int pct;

                if (sscanf(line, " %d%% %lf%15s", &pct, &v, unit) == 3) {
                        if (pct == 50)
                                w.p50_us = to_us(v, unit);
                        else if (pct == 99)
                                w.p99_us = to_us(v, unit);
                } else if (sscanf(line, " %llu requests in", &n) == 1)
                        w.requests = n;
                else if (sscanf(line, "Requests/sec: %lf", &v) == 1)
                        w.rps = v;
                else if (sscanf(line, " Socket errors: connect %llu, read %llu, write %llu, timeout %llu", &a, &b, &c,
                                &d) == 4)
                        w.errors += a + b + c + d;
                else if (sscanf(line, " Non-2xx or 3xx responses: %llu", &n) == 1)
                        w.errors += n;
        }
        if (w.p50_us < 0 || w.p99_us < 0 || w.requests == 0)
                return bench_error(-EBADMSG, "wrk printed no latency distribution; see %s", path);
        *ret = w;
        return 0;
}

static int run_wrk(const struct bench_options *o, const struct paths *p, enum conn_mode mode, struct load_result *ret)
{
        char threads[16], connections[16], duration[16];
        const char *argv[20] = { o->wrk,     "-t",    threads, "-c", connections,    "-d", duration,
                                 "--latency", "--timeout", "5s",    "-s", p->wrk_script };
        const char *pinned[20] = { "taskset", "-c", CLIENT_CPU_TEXT };
        size_t n = 12;
        _cleanup_close_ int out = -EBADF;
        struct command_result c;
        int r;

        if (mode == CONN_CLOSE) {
                argv[n++] = "-H";
                argv[n++] = "Connection: close";
        }
        argv[n++] = URL;
        snprintf(threads, sizeof(threads), "%u", o->threads);
        snprintf(connections, sizeof(connections), "%u", o->connections);
        snprintf(duration, sizeof(duration), "%us", o->duration_s);
        out = open(p->wrk_out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0)
                return bench_error(-errno, "Failed to create %s: %m", p->wrk_out);
        if (o->pin)
                memcpy(pinned + 3, argv, (n + 1) * sizeof(*argv));
        if (unlink(p->wrk_latencies) < 0 && errno != ENOENT)
                return bench_error(-errno, "Failed to remove %s: %m", p->wrk_latencies);
        r = run_command(o->pin ? pinned : argv, out, o->duration_s + COMMAND_TIMEOUT_S, &bench_interrupted, &c);
        if (r >= 0)
                r = parse_wrk(p->wrk_out, ret);
        if (r >= 0) {
                ret->latencies = malloc(sizeof(*ret->latencies));
                r = ret->latencies ? latency_hist_load(p->wrk_latencies, ret->latencies) : -ENOMEM;
        }
        if (r < 0)
                return r;
        ret->client_cpu_s = c.cpu_s;
        ret->seconds = c.seconds;
        return 0;
}

static int run_new_conn_client(const struct bench_options *o, struct load_result *ret)
{
        const struct sockaddr_in server = { .sin_family = AF_INET, .sin_port = htons(PORT),
                                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        const struct latency_hist *h;
        struct new_conn_result c;
        int r;

        r = new_conn_client_run(&server, REQUEST_NEW_CONNECTION, "HTTP/1.1 200 ", o->duration_s,
                                o->pin ? CLIENT_CPU : -1, &bench_interrupted, &c);
        if (r < 0)
                return r;
        h = c.latencies;
        *ret = (struct load_result){
                .p50_us = latency_hist_pooled_quantile(&h, 1, 0.50),
                .p99_us = latency_hist_pooled_quantile(&h, 1, 0.99),
                .rps = (double)c.requests / c.seconds,
                .latencies = c.latencies,
                .requests = c.requests,
                .errors = c.errors,
                .client_cpu_s = c.cpu_s,
                .seconds = c.seconds,
        };
        return 0;
}

/* ---- rounds ---- */

struct sample {
        struct load_result load;
        uint64_t opened; /* TCP connections opened in the bench's namespace during the load */
        double helper_cpu_s, server_cpu_s, seconds;
        double foreign_cores; /* CPU other processes used during the load, in cores */
        unsigned attempts;
};

struct results {
        struct sample s[_CONN_MODE_MAX][MAX_CONDITIONS][MAX_ROUNDS];
};

/* What else ran during a run of the load. */
struct cpu_snapshot {
        uint64_t machine_busy, machine_total, server, helpers, ksoftirqd;
};

static int take_cpu_snapshot(const struct paths *p, const struct helper_run *h, struct cpu_snapshot *ret)
{
        struct cpu_snapshot c = { .ksoftirqd = ksoftirqd_ticks() };
        struct proc_sample ps;
        int r;

        r = machine_ticks(&c.machine_busy, &c.machine_total);
        if (r < 0)
                return r;
        r = sample_proc(p->server, &ps);
        if (r < 0)
                return bench_error(r, "The HTTP server is gone");
        c.server = ps.cpu_ticks;
        for (size_t i = 0; i < h->n; i++)
                if (sample_proc(h->pids[i], &ps) == 0)
                        c.helpers += ps.cpu_ticks;
        *ret = c;
        return 0;
}

/* Connections opened in this network namespace so far: ActiveOpens of
 * /proc/self/net/snmp, which counts per namespace. */
static int tcp_active_opens(uint64_t *ret)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/self/net/snmp", "re");
        char names[1024], values[1024];

        if (!f)
                return bench_error(-errno, "Failed to open /proc/self/net/snmp: %m");
        while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
                char *n_save, *v_save, *n, *v;

                if (strncmp(names, "Tcp:", 4) != 0)
                        continue;
                for (n = strtok_r(names, " \n", &n_save), v = strtok_r(values, " \n", &v_save); n && v;
                     n = strtok_r(NULL, " \n", &n_save), v = strtok_r(NULL, " \n", &v_save))
                        if (strcmp(n, "ActiveOpens") == 0) {
                                *ret = strtoull(v, NULL, 10);
                                return 0;
                        }
        }
        return bench_error(-EBADMSG, "No Tcp ActiveOpens in /proc/self/net/snmp");
}

static int measure_once(const struct bench_options *o, const struct paths *p, enum conn_mode mode,
                        const struct condition *c, struct sample *ret)
{
        struct helper_run h = {};
        struct cpu_snapshot c0 = {}, c1 = {};
        double start = monotonic_s(), ours;
        uint64_t opens0 = 0, opens1 = 0;
        int r, k;

        r = helper_start(o, p, c, &h);
        if (r >= 0)
                r = sleep_until(start + SETTLE_S, &bench_interrupted);
        if (r >= 0)
                r = take_cpu_snapshot(p, &h, &c0);
        if (r >= 0)
                r = tcp_active_opens(&opens0);
        if (r >= 0)
                r = mode == CONN_NEW ? run_new_conn_client(o, &ret->load) : run_wrk(o, p, mode, &ret->load);
        if (r >= 0)
                r = tcp_active_opens(&opens1);
        if (r >= 0)
                r = take_cpu_snapshot(p, &h, &c1);
        k = helper_stop(o, p, &h);
        if (r < 0)
                return r;
        if (k < 0)
                return k;
        ret->opened = opens1 - opens0;
        /* Keep-alive must be what it says: a run whose connections were
         * opened again and again would measure the close mode twice. */
        if (mode == CONN_KEEP_ALIVE && ret->opened > 2 * (uint64_t)o->connections)
                return bench_error(-EPROTO, "keep-alive: wrk opened %llu connections for %u: the server closes them",
                                   (unsigned long long)ret->opened, o->connections);
        ret->helper_cpu_s = h.cpu_s;
        ret->server_cpu_s = ticks_to_seconds(c1.server - c0.server);
        ret->seconds = monotonic_s() - start;
        /* Busy CPU time that was not the client's, the server's, the helper's or
         * ksoftirqd's (loopback traffic). */
        ours = ret->server_cpu_s + ret->load.client_cpu_s + ticks_to_seconds(c1.helpers - c0.helpers) +
               ticks_to_seconds(c1.ksoftirqd - c0.ksoftirqd);
        ret->foreign_cores = (ticks_to_seconds(c1.machine_busy - c0.machine_busy) - ours) / ret->load.seconds;
        if (ret->foreign_cores < 0)
                ret->foreign_cores = 0;
        return 0;
}

/* Waits, at most QUIET_WAIT_S, until the machine is quiet: less than
 * FOREIGN_LIMIT of a core busy over a second while only the idle server of
 * ours runs. Returns the seconds waited, or -errno. */
static int wait_for_quiet(double *ret_waited)
{
        double start = monotonic_s();

        for (;;) {
                uint64_t b0, t0, b1, t1;
                int r = machine_ticks(&b0, &t0);

                if (r >= 0)
                        r = sleep_until(monotonic_s() + 1, &bench_interrupted);
                if (r >= 0)
                        r = machine_ticks(&b1, &t1);
                if (r < 0)
                        return r;
                if (ticks_to_seconds(b1 - b0) <= FOREIGN_LIMIT || monotonic_s() - start > QUIET_WAIT_S) {
                        *ret_waited = monotonic_s() - start - 1;
                        return 0;
                }
        }
}

static void server_stop(struct paths *p)
{
        if (p->server > 0) {
                kill(p->server, SIGTERM);
                reap(p->server, monotonic_s() + STOP_TIMEOUT_S, NULL, NULL, NULL);
        }
        p->server = 0;
}

/* A fresh network namespace and server for every run: what one run leaves
 * in the kernel (tens of thousands of TIME_WAIT sockets in close mode,
 * for 60 s) would otherwise weigh on the runs after it. */
static int stage_fresh(const struct bench_options *o, struct paths *p)
{
        int r;

        server_stop(p);
        r = hold_enter_fresh_netns();
        if (r < 0)
                return r;
        return server_start(o->pin ? SERVER_CPU : -1, &p->server);
}

/* One measurement, on a fresh stage. It starts once the machine is quiet
 * (this VM is shared); a run during which other processes still used more
 * than FOREIGN_LIMIT of a core is run again, up to MAX_ATTEMPTS times; the
 * least disturbed attempt counts. */
static int run_one(const struct bench_options *o, struct paths *p, enum conn_mode mode,
                   const struct condition *c, struct sample *ret)
{
        struct sample best = { .foreign_cores = 1e9 };

        for (unsigned attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
                struct sample x = { .attempts = attempt };
                double waited = 0;
                int r = stage_fresh(o, p);

                if (r >= 0)
                        r = wait_for_quiet(&waited);
                if (r >= 0)
                        r = measure_once(o, p, mode, c, &x);
                if (r < 0) {
                        free(x.load.latencies);
                        free(best.load.latencies);
                        return r;
                }
                if (waited >= 1)
                        printf("  (waited %.0f s for other processes to quiet down)\n", waited);
                printf("  %-10s %-11s p50 %7.1f us  p99 %7.1f us  %7.0f req/s  %7llu conns  CPU %%: server %3.0f "
                       "client %3.0f helper %4.1f other %3.0f%s%s\n",
                       conn_mode_name[mode], c->name, x.load.p50_us, x.load.p99_us, x.load.rps,
                       (unsigned long long)x.opened,
                       100.0 * x.server_cpu_s / x.load.seconds, 100.0 * x.load.client_cpu_s / x.load.seconds,
                       100.0 * x.helper_cpu_s / x.seconds, 100.0 * x.foreign_cores,
                       x.load.errors ? "  (the client reported errors)" : "",
                       x.foreign_cores > FOREIGN_LIMIT ? (attempt < MAX_ATTEMPTS ? "  <- disturbed, again"
                                                                                 : "  <- disturbed, kept the least")
                                                       : "");
                fflush(stdout);
                if (x.foreign_cores < best.foreign_cores) {
                        free(best.load.latencies);
                        best = x;
                } else
                        free(x.load.latencies);
                if (x.foreign_cores <= FOREIGN_LIMIT)
                        break;
        }
        *ret = best;
        return 0;
}

static double change_percent(double x, double base)
{
        return base > 0 ? 100.0 * (x / base - 1) : 0;
}

/* A pooled percentile against none's in the same rounds, in %, and its 95%
 * interval: rounds drawn with replacement BOOTSTRAP_RESAMPLES times, a
 * condition's run and none's of a round always drawn together. With fewer
 * than MIN_ROUNDS_FOR_INTERVAL rounds, or no room to draw, the interval is
 * unbounded: no verdict. */
struct change {
        double at, low, high;
};

struct summary {
        double p50, p99, p99_min, p99_max, rps, helper_cpu_percent; /* medians over rounds */
        double pooled_p50, pooled_p99; /* of every request of every round */
        struct change p50_change, p99_change;
        unsigned reruns;
};

/* A small generator with a fixed start: the same results give the same interval. */
static uint64_t next_random(uint64_t *state)
{
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        return *state;
}

/* The pooled q-quantile of condition ci's runs in the given rounds against
 * none's in the same rounds, in %. */
static double pooled_change(const struct results *res, enum conn_mode mode, size_t ci, size_t none_i,
                            const unsigned *rounds, size_t n, double q)
{
        const struct latency_hist *ours[MAX_ROUNDS], *none[MAX_ROUNDS];

        for (size_t i = 0; i < n; i++) {
                ours[i] = res->s[mode][ci][rounds[i]].load.latencies;
                none[i] = res->s[mode][none_i][rounds[i]].load.latencies;
        }
        return change_percent(latency_hist_pooled_quantile(ours, n, q), latency_hist_pooled_quantile(none, n, q));
}

/* pooled_change() over all rounds, with its bootstrap interval. */
static struct change pooled_change_interval(const struct bench_options *o, const struct results *res,
                                            enum conn_mode mode, size_t ci, size_t none_i, double q)
{
        _cleanup_free_ double *draws = calloc(BOOTSTRAP_RESAMPLES, sizeof(*draws));
        struct change c = { .low = -HUGE_VAL, .high = HUGE_VAL };
        uint64_t state = 0x9e3779b97f4a7c15ull;
        unsigned all[MAX_ROUNDS], drawn[MAX_ROUNDS];

        for (unsigned r = 0; r < o->rounds; r++)
                all[r] = r;
        c.at = pooled_change(res, mode, ci, none_i, all, o->rounds, q);
        if (!draws || o->rounds < MIN_ROUNDS_FOR_INTERVAL)
                return c;
        for (size_t b = 0; b < BOOTSTRAP_RESAMPLES; b++) {
                for (unsigned r = 0; r < o->rounds; r++)
                        drawn[r] = (unsigned)(next_random(&state) % o->rounds);
                draws[b] = pooled_change(res, mode, ci, none_i, drawn, o->rounds, q);
        }
        qsort(draws, BOOTSTRAP_RESAMPLES, sizeof(*draws), compare_double);
        c.low = draws[BOOTSTRAP_RESAMPLES * 25 / 1000];
        c.high = draws[BOOTSTRAP_RESAMPLES * 975 / 1000 - 1];
        return c;
}

static void summarize(const struct bench_options *o, const struct results *res, enum conn_mode mode, size_t ci,
                      size_t none_i, struct summary *ret)
{
        double p50[MAX_ROUNDS], p99[MAX_ROUNDS], rps[MAX_ROUNDS], cpu[MAX_ROUNDS];
        const struct latency_hist *hists[MAX_ROUNDS];
        struct summary s = { .p99_min = 1e18 };

        for (unsigned r = 0; r < o->rounds; r++) {
                const struct sample *x = &res->s[mode][ci][r];

                p50[r] = x->load.p50_us;
                p99[r] = x->load.p99_us;
                rps[r] = x->load.rps;
                cpu[r] = x->seconds > 0 ? 100.0 * x->helper_cpu_s / x->seconds : 0;
                hists[r] = x->load.latencies;
                s.reruns += x->attempts - 1;
                if (p99[r] < s.p99_min)
                        s.p99_min = p99[r];
                if (p99[r] > s.p99_max)
                        s.p99_max = p99[r];
        }
        s.p50 = median(p50, o->rounds);
        s.p99 = median(p99, o->rounds);
        s.rps = median(rps, o->rounds);
        s.helper_cpu_percent = median(cpu, o->rounds);
        s.pooled_p50 = latency_hist_pooled_quantile(hists, o->rounds, 0.50);
        s.pooled_p99 = latency_hist_pooled_quantile(hists, o->rounds, 0.99);
        s.p50_change = pooled_change_interval(o, res, mode, ci, none_i, 0.50);
        s.p99_change = pooled_change_interval(o, res, mode, ci, none_i, 0.99);
        *ret = s;
}

/* In order of severity: the worst over the agent's conditions is the verdict. */
enum verdict {
        VERDICT_PASS,
        VERDICT_INCONCLUSIVE,
        VERDICT_FAIL,
};

static const char *const verdict_name[] = {
        [VERDICT_PASS] = "PASS",
        [VERDICT_INCONCLUSIVE] = "INCONCLUSIVE",
        [VERDICT_FAIL] = "FAIL",
};

/* The agent's pooled p99 against none's, with its 95% interval: all of
 * the interval under the target passes, all of it over fails, the rest
 * cannot be told from noise. */
static enum verdict judge(const struct summary *s)
{
        if (s->p99_change.high < TARGET_P99_PERCENT)
                return VERDICT_PASS;
        if (s->p99_change.low >= TARGET_P99_PERCENT)
                return VERDICT_FAIL;
        return VERDICT_INCONCLUSIVE;
}

static void format_change(const struct change *c, char *buf, size_t size)
{
        if (isinf(c->low) || isinf(c->high))
                snprintf(buf, size, "%+.1f%% (no interval)", c->at);
        else
                snprintf(buf, size, "%+.1f%% (%+.1f to %+.1f)", c->at, c->low, c->high);
}

/* Returns 0 when the target was met, 1 when it was missed or could not be
 * shown, or -errno. */
static int report(const struct bench_options *o, const struct results *res)
{
        enum verdict worst = VERDICT_PASS;
        size_t none_i = 0;
        bool judged = false;

        for (size_t ci = 0; ci < o->n_conditions; ci++)
                if (strcmp(o->conditions[ci]->name, "none") == 0)
                        none_i = ci; /* there always is one (parse_conditions) */
        printf("\n== %u rounds (wrk -t %u -c %u -d %us)\n", o->rounds, o->threads, o->connections, o->duration_s);
        for (int mode = 0; mode < _CONN_MODE_MAX; mode++) {
                if (!o->modes[mode])
                        continue;
                printf("\n  %s\n  %-11s %8s %8s %19s %8s %8s %8s %24s %24s %8s %6s  %s\n", conn_mode_name[mode],
                       "condition", "p50 us", "p99 us", "p99 range us", "req/s", "pooled", "pooled",
                       "pooled p50 vs none", "pooled p99 vs none", "helper", "reruns", "verdict");
                printf("  %-11s %8s %8s %19s %8s %8s %8s %24s %24s %8s %6s\n", "", "(median)", "(median)", "",
                       "(median)", "p50 us", "p99 us", "(95% interval)", "(95% interval)", "CPU", "");
                for (size_t ci = 0; ci < o->n_conditions; ci++) {
                        const struct condition *c = o->conditions[ci];
                        bool agent = c->helper == HELPER_AGENT && c->mode && strcmp(c->mode, "polling") != 0;
                        struct summary s;
                        char p50_change[64] = "-", p99_change[64] = "-";

                        summarize(o, res, mode, ci, none_i, &s);
                        if (ci != none_i) {
                                format_change(&s.p50_change, p50_change, sizeof(p50_change));
                                format_change(&s.p99_change, p99_change, sizeof(p99_change));
                        }
                        printf("  %-11s %8.1f %8.1f %9.1f-%-9.1f %8.0f %8.0f %8.0f %24s %24s %7.2f%% %6u  %s\n",
                               c->name, s.p50, s.p99, s.p99_min, s.p99_max, s.rps, s.pooled_p50, s.pooled_p99,
                               p50_change, p99_change, s.helper_cpu_percent, s.reruns,
                               agent ? verdict_name[judge(&s)] : "");
                        if (agent) {
                                enum verdict v = judge(&s);

                                judged = true;
                                if (v > worst)
                                        worst = v;
                        }
                }
        }
        printf("\n  (pooled: every request of every round together, from the clients' 1 us histograms; pooled p50 "
               "and p99 vs none: against none's runs of the same rounds, with the 95%% interval of %d bootstrap "
               "draws of rounds; none-again shows it for two runs of nothing; helper: its CPU in %% of one core "
               "over the run, settle included; reruns: runs done again because other processes used more than %.0f%% of a "
               "core)\n",
               BOOTSTRAP_RESAMPLES, 100 * FOREIGN_LIMIT);
        if (!judged) {
                printf("  target: no agent condition (hybrid, streaming) was run\n");
                return 0;
        }
        printf("  target: the agent (hybrid, streaming) adds less than %.0f%% to the pooled p99, all of its 95%% "
               "interval, every connection mode: %s\n",
               TARGET_P99_PERCENT, verdict_name[worst]);
        if (worst == VERDICT_INCONCLUSIVE && o->rounds < MIN_ROUNDS_FOR_INTERVAL)
                printf("  (no interval from fewer than %d rounds)\n", MIN_ROUNDS_FOR_INTERVAL);
        else if (worst == VERDICT_INCONCLUSIVE)
                printf("  (the target lies inside the interval: more rounds, or a quieter machine)\n");
        return worst == VERDICT_PASS ? 0 : 1;
}

static int run(struct bench_options *o, struct paths *p)
{
        const char *migrate[] = { o->netdep, "db", "migrate", "--store", p->store_uri, NULL };
        const char *agent_help[] = { o->netdep, "agent", "--help", NULL };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        _cleanup_free_ struct results *res = calloc(1, sizeof(*res));
        FILE *rules;
        int r;

        if (devnull < 0 || !res)
                return -ENOMEM;
        rules = fopen(p->nft_rules, "we");
        if (!rules)
                return bench_error(-errno, "Failed to create %s: %m", p->nft_rules);
        fprintf(rules,
                "table inet " NFT_TABLE " {\n"
                "        chain input {\n"
                "                type filter hook input priority filter; policy accept;\n"
                "                tcp dport %d tcp flags & (syn | ack) == syn log prefix \"netdep-app-cost \" group "
                NFLOG_GROUP "\n"
                "        }\n"
                "}\n",
                PORT);
        fclose(rules);
        r = latency_hist_write_wrk_script(p->wrk_script, p->wrk_latencies);
        if (r >= 0)
                r = run_command(migrate, devnull, COMMAND_TIMEOUT_S, &bench_interrupted, NULL);
        if (r >= 0)
                r = command_output_contains(agent_help, "--mode", COMMAND_TIMEOUT_S, &bench_interrupted, &o->agent_has_mode);
        if (r < 0)
                return r;
        if (!o->agent_has_mode)
                printf("this netdep's agent has no --mode: the agent conditions run it as built\n");

        printf("HTTP server: libmicrohttpd %s, one epoll thread, on %s, in a fresh network namespace for "
               "every run\n",
               MHD_get_version(), URL);

        for (unsigned round = 0; round < o->rounds; round++) {
                printf("\n== round %u of %u\n", round + 1, o->rounds);
                for (int mode = 0; mode < _CONN_MODE_MAX; mode++) {
                        if (!o->modes[mode])
                                continue;
                        for (size_t j = 0; j < o->n_conditions; j++) {
                                size_t ci = (j + round) % o->n_conditions; /* rotated: no condition always first */

                                r = run_one(o, p, mode, o->conditions[ci], &res->s[mode][ci][round]);
                                if (r < 0)
                                        goto finish;
                        }
                }
        }
        r = report(o, res);
finish:
        server_stop(p);
        for (int mode = 0; mode < _CONN_MODE_MAX; mode++)
                for (size_t ci = 0; ci < MAX_CONDITIONS; ci++)
                        for (unsigned round = 0; round < MAX_ROUNDS; round++)
                                free(res->s[mode][ci][round].load.latencies);
        if (r == -EINTR)
                bench_error(r, "Interrupted by signal %d; children stopped", (int)bench_interrupted);
        return r;
}

/* ---- options ---- */

static void help(FILE *out)
{
        fprintf(out,
                "Usage: app-cost-bench [OPTIONS]\n"
                "\n"
                "wrk (and a new-connection client of the bench's own) against a local HTTP\n"
                "server with nothing, netdep agent, tcpdump and an nftables log rule: p50 and\n"
                "p99 side by side. Needs root, wrk, tcpdump, nft.\n"
                "\n"
                "Options:\n"
                "      --rounds N          interleaved rounds (default 7)\n"
                "      --duration S        of each run (default 10)\n"
                "      --connections N     wrk -c (default 8)\n"
                "      --threads N         wrk -t (default 1)\n"
                "      --conditions LIST   of none, none-again, hybrid, streaming, polling, tcpdump, nft\n"
                "                          (default none,none-again,hybrid,streaming,tcpdump,nft)\n"
                "      --modes LIST        keep-alive, close, new-connection (default all three)\n"
                "      --netdep PATH       (default %s)\n"
                "      --wrk PATH, --tcpdump PATH, --nft PATH\n"
                "      --pin               the client on CPU " CLIENT_CPU_TEXT ", the server on CPU "
                TEXT_OF(SERVER_CPU) "\n"
                "                          (the helpers go anywhere)\n"
                "      --keep              keep the store, the logs and wrk's last output, and say where\n"
                "  -h, --help              this help\n",
                NETDEP_PATH);
}

static int parse_conditions(const char *s, struct bench_options *o)
{
        char buf[256], *save = NULL;
        size_t n = 0;
        bool none = false;

        if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
                return -EINVAL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                size_t k = 0;

                while (k < ELEMENTSOF(known_conditions) && strcmp(tok, known_conditions[k].name) != 0)
                        k++;
                if (k == ELEMENTSOF(known_conditions) || n == MAX_CONDITIONS)
                        return -EINVAL;
                none = none || k == 0;
                o->conditions[n++] = &known_conditions[k];
        }
        if (!none) /* everything is compared to it */
                return -EINVAL;
        o->n_conditions = n;
        return 0;
}

static int parse_modes(const char *s, struct bench_options *o)
{
        char buf[64], *save = NULL;
        bool any = false;

        if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
                return -EINVAL;
        memset(o->modes, 0, sizeof(o->modes));
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int m = 0;

                while (m < _CONN_MODE_MAX && strcmp(tok, conn_mode_name[m]) != 0)
                        m++;
                if (m == _CONN_MODE_MAX)
                        return -EINVAL;
                o->modes[m] = any = true;
        }
        return any ? 0 : -EINVAL;
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_ROUNDS = 0x100,
                OPT_DURATION,
                OPT_CONNECTIONS,
                OPT_THREADS,
                OPT_CONDITIONS,
                OPT_MODES,
                OPT_NETDEP,
                OPT_WRK,
                OPT_TCPDUMP,
                OPT_NFT,
                OPT_KEEP,
                OPT_PIN,
        };
        static const struct option options[] = {
                { "pin", no_argument, NULL, OPT_PIN },
                { "rounds", required_argument, NULL, OPT_ROUNDS },
                { "duration", required_argument, NULL, OPT_DURATION },
                { "connections", required_argument, NULL, OPT_CONNECTIONS },
                { "threads", required_argument, NULL, OPT_THREADS },
                { "conditions", required_argument, NULL, OPT_CONDITIONS },
                { "modes", required_argument, NULL, OPT_MODES },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "wrk", required_argument, NULL, OPT_WRK },
                { "tcpdump", required_argument, NULL, OPT_TCPDUMP },
                { "nft", required_argument, NULL, OPT_NFT },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c, index = 0, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_ROUNDS:
                        r = bench_parse_uint(optarg, 1, MAX_ROUNDS, &o->rounds);
                        break;
                case OPT_DURATION:
                        r = bench_parse_uint(optarg, 1, 600, &o->duration_s);
                        break;
                case OPT_CONNECTIONS:
                        r = bench_parse_uint(optarg, 1, 10000, &o->connections);
                        break;
                case OPT_THREADS:
                        r = bench_parse_uint(optarg, 1, 64, &o->threads);
                        break;
                case OPT_CONDITIONS:
                        r = parse_conditions(optarg, o);
                        break;
                case OPT_MODES:
                        r = parse_modes(optarg, o);
                        break;
                case OPT_NETDEP:
                        o->netdep = optarg;
                        break;
                case OPT_WRK:
                        o->wrk = optarg;
                        break;
                case OPT_TCPDUMP:
                        o->tcpdump = optarg;
                        break;
                case OPT_NFT:
                        o->nft = optarg;
                        break;
                case OPT_KEEP:
                        o->keep = true;
                        break;
                case OPT_PIN:
                        o->pin = true;
                        break;
                default:
                        return -EINVAL;
                }
                if (r < 0)
                        return bench_error(-EINVAL, "invalid value '%s' for --%s (see --help)", optarg,
                                           options[index].name);
        }
        if (optind < argc)
                return bench_error(-EINVAL, "Unexpected argument '%s'", argv[optind]);
        if (o->threads > o->connections)
                return bench_error(-EINVAL, "--threads must be at most --connections (wrk's rule)");
        return 0;
}

int main(int argc, char **argv)
{
        struct bench_options o = {
                .rounds = 7,
                .duration_s = 10,
                .connections = 8,
                .threads = 1,
                .modes = { true, true, true },
                .netdep = NETDEP_PATH,
                .wrk = "wrk",
                .tcpdump = "tcpdump",
                .nft = "nft",
        };
        struct paths p = {};
        int r;

        r = parse_conditions("none,none-again,hybrid,streaming,tcpdump,nft", &o);
        if (r == 0)
                r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();

        snprintf(p.dir, sizeof(p.dir), "/tmp/app-cost-bench.XXXXXX");
        if (!mkdtemp(p.dir)) {
                bench_error(-errno, "Failed to make a temporary directory: %m");
                return EXIT_FAILURE;
        }
        snprintf(p.store_uri, sizeof(p.store_uri), "sqlite:%s/store.db", p.dir);
        snprintf(p.agent_log, sizeof(p.agent_log), "%s/agent.log", p.dir);
        snprintf(p.tcpdump_log, sizeof(p.tcpdump_log), "%s/tcpdump.log", p.dir);
        snprintf(p.nft_rules, sizeof(p.nft_rules), "%s/rules.nft", p.dir);
        snprintf(p.wrk_out, sizeof(p.wrk_out), "%s/wrk.txt", p.dir);
        snprintf(p.wrk_script, sizeof(p.wrk_script), "%s/latencies.lua", p.dir);
        snprintf(p.wrk_latencies, sizeof(p.wrk_latencies), "%s/latencies.txt", p.dir);

        printf("app-cost-bench: %ld CPUs online, netdep %s\n", sysconf(_SC_NPROCESSORS_ONLN), o.netdep);
        print_load("at the start");
        r = run(&o, &p);
        print_load("at the end");

        if (o.keep)
                printf("\nkept the store, the logs and wrk's last output in %s\n", p.dir);
        else
                remove_temp_dir(p.dir);
        if (r < 0)
                return EXIT_FAILURE;
        return r > 0 ? 3 : EXIT_SUCCESS;
}
