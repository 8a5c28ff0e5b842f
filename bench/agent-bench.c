/* agent-bench: what a steady `netdep agent` costs, CPU and memory, while
 * 10,000 TCP connections are held and nothing opens or closes, in each mode,
 * next to running `ss -tanp` once a second over as long, in the same run.
 *
 *   agent-bench [--modes LIST] [--warmup S] [--duration S] [--connections N]
 *               [--no-ss] [--netdep PATH] [--ss PATH] [--keep]
 *               [--setup-timeout S]
 *
 * In a network namespace of its own (hold.h), the bench holds N (10,000)
 * established loopback connections, 2N sockets (4 holder processes at
 * 10,000). Then, one after the other:
 *
 *   agent   for each mode M of --modes (hybrid, polling), `netdep agent
 *           --store sqlite:DIR/agent-M.db --mode M --interval 1s
 *           --flush-interval 10s --keep-loopback -v` (the store migrated
 *           first with `netdep db migrate`; --keep-loopback since every
 *           held connection is loopback, and nothing would be stored
 *           otherwise; -v for its "flushes written" line), for --warmup
 *           (10) + --duration (60) seconds, then SIGTERM and wait4.
 *           /proc/PID/stat (utime + stime of every thread) and
 *           /proc/PID/status (VmRSS, VmHWM) are sampled once a second.
 *           Steady CPU = the ticks over the --duration seconds after the
 *           warm-up (the first scan, BPF load and first flush fall in the
 *           warm-up), also per 10-second window; whole-run CPU = wait4's,
 *           fork to exit; peak RSS = ru_maxrss (children included: the BPF
 *           loader) and VmHWM (the agent process alone).
 *   ss      `ss -tanp`, stdout to /dev/null, started once a second for
 *           --duration seconds (a tick is skipped while a run is still
 *           going): CPU = the sum of the runs' utime + stime from wait4,
 *           over the phase's wall time. --no-ss skips it.
 *
 * Then it counts what each agent wrote (edges, observations, endpoints,
 * hosts, from its SQLite file) and prints CPU as % of one core. Targets:
 * steady CPU at most 1% of one core in hybrid mode, at most 3% in the
 * other modes; peak RSS at most 10 MiB. A forked child's ru_maxrss starts
 * from the bench's own RSS; the bench prints that floor.
 *
 * Run as root (it unshares a network namespace), from the top of the tree:
 *
 *   ninja -C build && build/bench/agent-bench
 *
 * Exit status: 0 measured and the targets met, 1 the bench failed, 2 usage
 * error, 3 measured but a target was missed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
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

#include "bench-util.h"
#include "hold.h"
#include "run-command.h"
#include "shared/cleanup.h"
#include "shared/parse.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define TARGET_HYBRID_CPU_PERCENT 1.0
#define TARGET_CPU_PERCENT 3.0 /* polling, streaming */
#define TARGET_RSS_KIB (10 * 1024)
#define MAX_DURATION_S 3600
#define WINDOW_S 10 /* of the CPU timeline */
#define STOP_TIMEOUT_S 30 /* SIGTERM to exit: the agent's final flush takes at most 10 s */
#define COMMAND_TIMEOUT_S 60 /* one `netdep db migrate` or one `ss -tanp` */


struct bench_options {
        unsigned duration_s, warmup_s;
        uint32_t connections;
        const char *modes[AGENT_MODES_MAX];
        size_t n_modes;
        const char *netdep;
        const char *ss;
        bool keep, no_ss;
        unsigned setup_timeout_s;
};

/* ---- the two phases ---- */

static double percent(double cpu_s, double wall_s)
{
        return wall_s > 0 ? 100.0 * cpu_s / wall_s : 0;
}


#define MAX_WINDOWS (MAX_DURATION_S / WINDOW_S + 2)

struct agent_result {
        const char *mode;
        double steady_s, steady_cpu_s; /* after the warm-up, from /proc/PID/stat */
        uint64_t steady_ticks;
        double wall_s, cpu_s; /* from fork to wait4, start and final flush included */
        long maxrss_kib, max_vmrss_kib, vmhwm_kib;
        double window_cpu_percent[MAX_WINDOWS];
        unsigned n_windows;
        bool clean_exit;
        int64_t edges; /* what it wrote */
};

struct ss_result {
        double wall_s, cpu_s;
        unsigned runs, skipped_ticks;
        double longest_run_s, total_run_s;
        long maxrss_kib;
};

/* Runs the agent for warmup_s + duration_s, sampling /proc/PID/stat and
 * status once a second; the steady figures are those of the duration_s
 * after the warm-up. */
static int run_agent(const struct bench_options *o, const char *mode, const char *uri, int log_fd,
                     struct agent_result *res)
{
        const char *argv[] = { o->netdep, "agent", "--store", uri, "--mode", mode, "--interval", "1s",
                               "--flush-interval", "10s", "--keep-loopback", "-v", NULL };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        unsigned total_s = o->warmup_s + o->duration_s;
        uint64_t window_start_ticks = 0, steady_start_ticks = 0;
        double start, stop, window_start = 0, steady_start = 0;
        struct rusage ru;
        int status, r;
        pid_t pid;

        if (devnull < 0)
                return -errno;
        start = monotonic_s();
        r = spawn(argv, devnull, log_fd, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start the agent: %m");

        /* One sample a second; windows of WINDOW_S from the warm-up's end. */
        for (unsigned t = 1; r == 0 && t <= total_s; t++) {
                struct proc_sample s = {};
                double now;

                r = sleep_until(start + t, &bench_interrupted);
                if (r < 0)
                        break;
                if (sample_proc(pid, &s) < 0) {
                        r = bench_error(-ESRCH, "The agent exited early; see its log above");
                        break;
                }
                now = monotonic_s();
                if (s.rss_kib > res->max_vmrss_kib)
                        res->max_vmrss_kib = s.rss_kib;
                res->vmhwm_kib = s.hwm_kib;
                if (t == o->warmup_s) {
                        steady_start_ticks = window_start_ticks = s.cpu_ticks;
                        steady_start = window_start = now;
                } else if (t > o->warmup_s && ((t - o->warmup_s) % WINDOW_S == 0 || t == total_s)) {
                        if (res->n_windows < MAX_WINDOWS)
                                res->window_cpu_percent[res->n_windows++] =
                                        percent(ticks_to_seconds(s.cpu_ticks - window_start_ticks), now - window_start);
                        window_start_ticks = s.cpu_ticks;
                        window_start = now;
                }
                if (t == total_s) {
                        res->steady_ticks = s.cpu_ticks - steady_start_ticks;
                        res->steady_cpu_s = ticks_to_seconds(res->steady_ticks);
                        res->steady_s = now - steady_start;
                }
        }

        /* Stopped however the loop ended; reap() SIGKILLs it on a signal. */
        kill(pid, SIGTERM);
        stop = monotonic_s();
        int reaped = reap(pid, stop + STOP_TIMEOUT_S, &bench_interrupted, &status, &ru);
        if (r < 0)
                return r;
        if (reaped == -ETIMEDOUT)
                return bench_error(reaped, "The agent did not exit within %d s of SIGTERM", STOP_TIMEOUT_S);
        if (reaped < 0)
                return reaped;
        res->wall_s = monotonic_s() - start;
        res->cpu_s = cpu_seconds(&ru);
        res->maxrss_kib = ru.ru_maxrss;
        res->clean_exit = exited_ok(status);
        printf("  agent: SIGTERM to exit %.2f s, %s\n", monotonic_s() - stop,
               res->clean_exit ? "exit status 0" : "FAILED (see its log)");
        return 0;
}

static int run_ss(const struct bench_options *o, struct ss_result *res)
{
        const char *argv[] = { o->ss, "-tanp", NULL };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        double start = monotonic_s();
        int r = 0;

        if (devnull < 0)
                return -errno;
        for (unsigned t = 0; t < o->duration_s; t++) {
                struct command_result c;

                if (monotonic_s() > start + t + 1) { /* the last run took the whole tick */
                        res->skipped_ticks++;
                        continue;
                }
                r = sleep_until(start + t, &bench_interrupted);
                if (r < 0)
                        return r;
                r = run_command(argv, devnull, COMMAND_TIMEOUT_S, &bench_interrupted, &c);
                if (r < 0)
                        return r;
                res->runs++;
                res->cpu_s += c.cpu_s;
                res->total_run_s += c.seconds;
                if (c.seconds > res->longest_run_s)
                        res->longest_run_s = c.seconds;
                if (c.maxrss_kib > res->maxrss_kib)
                        res->maxrss_kib = c.maxrss_kib;
        }
        r = sleep_until(start + o->duration_s, &bench_interrupted);
        if (r < 0)
                return r;
        res->wall_s = monotonic_s() - start;
        return 0;
}

/* ---- what the agent wrote ---- */

struct census {
        int64_t edges, observations, endpoints, hosts;
};

static int store_census(const char *path, struct census *ret)
{
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int rc;

        rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_prepare_v2(db,
                                        "SELECT (SELECT count(*) FROM edges), (SELECT count(*) FROM observations), "
                                        "(SELECT count(*) FROM endpoints), (SELECT count(*) FROM hosts)",
                                        -1, &st, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = (struct census){ sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1),
                                        sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3) };
        else
                bench_error(-EIO, "Failed to count the store's rows: %s", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_finalize(st);
        sqlite3_close_v2(db);
        return rc == SQLITE_ROW ? 0 : -EIO;
}

/* Prints the agent's log lines (it was run with -v: a handful). */
static void print_log(const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[512];

        for (unsigned n = 0; f && n < 40 && fgets(line, sizeof(line), f); n++)
                printf("    | %s", line);
}

/* ---- the run ---- */

static const char *verdict(bool pass)
{
        return pass ? "PASS" : "FAIL";
}

/* One agent run in mode m: its own store, migrated first, and its log. */
static int measure_mode(const struct bench_options *o, const char *dir, const char *mode, struct agent_result *res)
{
        _cleanup_close_ int log_fd = -EBADF;
        struct census census = {};
        struct agent_files files;
        char name[32];
        int r;

        *res = (struct agent_result){ .mode = mode };
        snprintf(name, sizeof(name), "agent-%s", mode);
        log_fd = agent_files_make(o->netdep, dir, name, &bench_interrupted, &files);
        if (log_fd < 0)
                return log_fd;

        printf("\n== netdep agent --mode %s, %u s warm-up then %u s measured (interval 1 s, flush interval 10 s, "
               "--keep-loopback)\n",
               mode, o->warmup_s, o->duration_s);
        fflush(stdout);
        r = run_agent(o, mode, files.uri, log_fd, res);
        printf("  agent log (stderr, -v):\n");
        print_log(files.log_path);
        if (r < 0)
                return r;
        r = store_census(agent_files_db(&files), &census);
        if (r < 0)
                return r;
        res->edges = census.edges;
        printf("  the store after: %" PRId64 " edges, %" PRId64 " observations, %" PRId64 " endpoints, %" PRId64
               " hosts%s\n",
               census.edges, census.observations, census.endpoints, census.hosts,
               census.edges > 0 ? "" : "  <-- the agent wrote nothing");
        printf("  CPU %% per %d s window after the warm-up:", WINDOW_S);
        for (unsigned i = 0; i < res->n_windows; i++)
                printf(" %.2f", res->window_cpu_percent[i]);
        printf("\n");
        return 0;
}

static double target_cpu_percent(const char *mode)
{
        return strcmp(mode, "hybrid") == 0 ? TARGET_HYBRID_CPU_PERCENT : TARGET_CPU_PERCENT;
}

/* The kernel's RSS counters are per-CPU and summed approximately:
 * ru_maxrss and VmHWM can differ by a few hundred KiB. The higher. */
static long peak_kib(const struct agent_result *a)
{
        return a->maxrss_kib > a->vmhwm_kib ? a->maxrss_kib : a->vmhwm_kib;
}

/* Returns 0 when every target was met, 1 when one was missed, or -errno. */
static int run(const struct bench_options *o, const char *dir)
{
        struct hold_options ho = {
                .setup_timeout_s = o->setup_timeout_s,
                .lifetime_s = o->setup_timeout_s +
                              o->n_modes * (o->warmup_s + o->duration_s + STOP_TIMEOUT_S + COMMAND_TIMEOUT_S) +
                              o->duration_s + COMMAND_TIMEOUT_S + 60,
                .interrupted = &bench_interrupted,
        };
        struct hold_layout layout = hold_layout_for(o->connections);
        struct agent_result agents[AGENT_MODES_MAX] = {};
        struct ss_result ss = {};
        struct hold h = HOLD_INIT;
        bool pass = true, failed = false;
        double setup_s;
        int r;

        r = hold_enter_fresh_netns();
        if (r < 0)
                return r;
        setup_s = monotonic_s();
        r = hold_start(&h, &layout, &ho);
        if (r < 0)
                goto finish;
        printf("held: %u connections, %u sockets in %u processes, in a fresh network namespace, "
               "established in %.1f s; nothing opens or closes from here on\n",
               layout.connections, 2 * layout.connections, 2 * layout.per_side, monotonic_s() - setup_s);

        for (size_t m = 0; m < o->n_modes; m++) {
                r = measure_mode(o, dir, o->modes[m], &agents[m]);
                if (r < 0)
                        goto finish;
        }
        if (!o->no_ss) {
                printf("\n== ss -tanp once a second, %u s\n", o->duration_s);
                fflush(stdout);
                r = run_ss(o, &ss);
                if (r < 0)
                        goto finish;
                printf("  ss: %u runs, %u ticks skipped, %.3f s per run on average, %.3f s the longest\n", ss.runs,
                       ss.skipped_ticks, ss.runs ? ss.total_run_s / ss.runs : 0, ss.longest_run_s);
        }
        hold_stop(&h);

        printf("\n  %-24s %9s %7s %11s %10s %10s %10s\n", "", "steady %", "ticks", "whole run %", "peak RSS", "VmHWM",
               "max VmRSS");
        for (size_t m = 0; m < o->n_modes; m++) {
                const struct agent_result *a = &agents[m];
                char label[64];

                snprintf(label, sizeof(label), "netdep agent %s", a->mode);
                printf("  %-24s %9.3f %7" PRIu64 " %11.2f %6.1f MiB %6.1f MiB %6.1f MiB\n", label,
                       percent(a->steady_cpu_s, a->steady_s), a->steady_ticks, percent(a->cpu_s, a->wall_s),
                       mib(a->maxrss_kib), mib(a->vmhwm_kib), mib(a->max_vmrss_kib));
        }
        if (!o->no_ss)
                printf("  %-24s %9.3f %7s %11s %6.1f MiB\n", "ss -tanp once a second", percent(ss.cpu_s, ss.wall_s),
                       "-", "-", mib(ss.maxrss_kib));
        printf("  (%% of one core: steady = utime + stime from /proc/PID/stat over the %u s after the warm-up, "
               "%ld ticks a second; whole run = wait4, fork to exit)\n",
               o->duration_s, sysconf(_SC_CLK_TCK));
        for (size_t m = 0; !o->no_ss && m < o->n_modes; m++)
                printf("  agent %s / ss -tanp, CPU: %.4f\n", agents[m].mode,
                       ss.cpu_s > 0 ? percent(agents[m].steady_cpu_s, agents[m].steady_s) /
                                              percent(ss.cpu_s, ss.wall_s)
                                    : 0);
        printf("  RSS floor (the bench's own peak, which a forked child's ru_maxrss starts from): %.1f MiB\n",
               mib(self_maxrss_kib()));

        printf("\n");
        for (size_t m = 0; m < o->n_modes; m++) {
                const struct agent_result *a = &agents[m];
                double cpu = percent(a->steady_cpu_s, a->steady_s), target = target_cpu_percent(a->mode);
                bool cpu_ok = cpu <= target, rss_ok = peak_kib(a) <= TARGET_RSS_KIB;

                printf("  target: %s agent steady CPU <= %.0f%% of one core: %.3f%%  %s\n", a->mode, target, cpu,
                       verdict(cpu_ok));
                printf("  target: %s agent peak RSS <= %d MiB: %.1f MiB (ru_maxrss %ld KiB, with its children; "
                       "VmHWM %ld KiB)  %s\n",
                       a->mode, TARGET_RSS_KIB / 1024, mib(peak_kib(a)), a->maxrss_kib, a->vmhwm_kib,
                       verdict(rss_ok));
                pass = pass && cpu_ok && rss_ok;
                failed = failed || !a->clean_exit || a->edges == 0;
        }
        if (failed)
                r = bench_error(-EPROTO, "An agent failed or wrote nothing: the figures do not count");
        else
                r = pass ? 0 : 1;
finish:
        hold_stop(&h);
        if (r == -EINTR)
                bench_error(r, "Interrupted by signal %d; children stopped", (int)bench_interrupted);
        return r;
}

/* ---- options ---- */

static void help(FILE *out)
{
        fprintf(out,
                "Usage: agent-bench [OPTIONS]\n"
                "\n"
                "Steady CPU and RSS of netdep agent (1 s interval) over N held loopback\n"
                "TCP connections, in each mode, against ss -tanp once a second. Needs root.\n"
                "\n"
                "Options:\n"
                "      --modes LIST        agent --mode values (default hybrid,polling)\n"
                "      --warmup S          of each agent run, not measured (default 10)\n"
                "      --duration S        measured, of each agent run and of ss (default 60)\n"
                "      --connections N     held connections (default 10000)\n"
                "      --no-ss             skip the ss -tanp phase\n"
                "      --netdep PATH       the netdep to run (default %s)\n"
                "      --ss PATH           the ss to run (default ss)\n"
                "      --keep              keep the stores and the agents' logs, and say where\n"
                "      --setup-timeout S   longest the connections may take (default 300)\n"
                "  -h, --help              this help\n",
                NETDEP_PATH);
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_DURATION = 0x100,
                OPT_WARMUP,
                OPT_MODES,
                OPT_NO_SS,
                OPT_CONNECTIONS,
                OPT_NETDEP,
                OPT_SS,
                OPT_KEEP,
                OPT_SETUP_TIMEOUT,
        };
        static const struct option options[] = {
                { "duration", required_argument, NULL, OPT_DURATION },
                { "warmup", required_argument, NULL, OPT_WARMUP },
                { "modes", required_argument, NULL, OPT_MODES },
                { "no-ss", no_argument, NULL, OPT_NO_SS },
                { "connections", required_argument, NULL, OPT_CONNECTIONS },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "ss", required_argument, NULL, OPT_SS },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "setup-timeout", required_argument, NULL, OPT_SETUP_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned v = 0;
        int c, index = 0, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_DURATION:
                        r = bench_parse_uint(optarg, WINDOW_S, MAX_DURATION_S, &o->duration_s);
                        break;
                case OPT_WARMUP:
                        r = bench_parse_uint(optarg, 1, 600, &o->warmup_s);
                        break;
                case OPT_MODES:
                        r = parse_agent_modes(optarg, o->modes, &o->n_modes);
                        break;
                case OPT_NO_SS:
                        o->no_ss = true;
                        break;
                case OPT_CONNECTIONS:
                        r = bench_parse_uint(optarg, 100, HOLD_MAX_CONNECTIONS, &v);
                        o->connections = v;
                        break;
                case OPT_NETDEP:
                        o->netdep = optarg;
                        break;
                case OPT_SS:
                        o->ss = optarg;
                        break;
                case OPT_KEEP:
                        o->keep = true;
                        break;
                case OPT_SETUP_TIMEOUT:
                        r = bench_parse_uint(optarg, 1, 3600, &o->setup_timeout_s);
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
        return 0;
}

int main(int argc, char **argv)
{
        struct bench_options o = {
                .duration_s = 60,
                .warmup_s = 10,
                .modes = { "hybrid", "polling" },
                .n_modes = 2,
                .connections = 10000,
                .netdep = NETDEP_PATH,
                .ss = "ss",
                .setup_timeout_s = 300,
        };
        char dir[] = "/tmp/agent-bench.XXXXXX";
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();

        if (!mkdtemp(dir)) {
                bench_error(-errno, "Failed to make a temporary directory: %m");
                return EXIT_FAILURE;
        }
        printf("agent-bench: %ld CPUs online, netdep %s, ss %s\n", sysconf(_SC_NPROCESSORS_ONLN), o.netdep, o.ss);
        fflush(stdout);

        print_load("at the start");
        r = run(&o, dir);
        print_load("at the end");

        if (o.keep)
                printf("\nkept the stores and the agents' logs in %s\n", dir);
        else
                remove_temp_dir(dir);
        if (r < 0)
                return EXIT_FAILURE;
        return r > 0 ? 3 : EXIT_SUCCESS;
}
