/* agent-bench: what `netdep agent` costs, CPU and memory, while 10,000 TCP
 * connections are held and it snapshots them every second, next to running
 * `ss -tanp` once a second over as long, in the same run.
 *
 *   agent-bench [--duration SECONDS] [--connections N] [--netdep PATH]
 *               [--ss PATH] [--keep] [--setup-timeout SECONDS]
 *
 * In a network namespace of its own (hold.h), the bench holds N (10,000)
 * established loopback connections, 2N sockets (4 holder processes at
 * 10,000). Then, one
 * after the other, for --duration seconds (60) each:
 *
 *   agent   `netdep agent --store sqlite:DIR/store.db --interval 1s
 *           --flush-interval 10s --keep-loopback -v` (the store migrated
 *           first with `netdep db migrate`; --keep-loopback since every
 *           held connection is loopback, and nothing would be stored
 *           otherwise; -v for its "flushes written" line), stopped with
 *           SIGTERM and reaped with wait4: CPU = its utime + stime (every
 *           thread), over the wall time from fork to reap, final flush
 *           included; peak RSS = ru_maxrss. /proc/PID/status (VmRSS,
 *           VmHWM) and /proc/PID/stat are sampled once a second, for the
 *           CPU of each 10-second window.
 *   ss      `ss -tanp`, stdout to /dev/null, started once a second (a tick
 *           is skipped while a run is still going): CPU = the sum of the
 *           runs' utime + stime from wait4, over the phase's wall time.
 *
 * Then it counts what the agent wrote (edges, observations, endpoints,
 * hosts, from the SQLite file) and prints CPU as % of one core, the ratio
 * agent / ss, and PASS when the agent used at most 3% of one core and
 * 10 MiB. A forked child's ru_maxrss starts from the bench's own RSS; the
 * bench prints that floor, and VmHWM, which does not include it.
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

#define TARGET_CPU_PERCENT 3.0
#define TARGET_RSS_KIB (10 * 1024)
#define MAX_DURATION_S 3600
#define WINDOW_S 10 /* of the CPU timeline */
#define STOP_TIMEOUT_S 30 /* SIGTERM to exit: the agent's final flush takes at most 10 s */
#define COMMAND_TIMEOUT_S 60 /* one `netdep db migrate` or one `ss -tanp` */

struct bench_options {
        unsigned duration_s;
        uint32_t connections;
        const char *netdep;
        const char *ss;
        bool keep;
        unsigned setup_timeout_s;
};

/* ---- the two phases ---- */

#define MAX_WINDOWS (MAX_DURATION_S / WINDOW_S + 2)

struct agent_result {
        double wall_s, cpu_s;
        long maxrss_kib, max_vmrss_kib, vmhwm_kib;
        double window_cpu_percent[MAX_WINDOWS];
        unsigned n_windows;
        bool clean_exit;
};

struct ss_result {
        double wall_s, cpu_s;
        unsigned runs, skipped_ticks;
        double longest_run_s, total_run_s;
        long maxrss_kib;
};

static int run_agent(const struct bench_options *o, const char *uri, int log_fd, struct agent_result *res)
{
        const char *argv[] = { o->netdep, "agent", "--store", uri, "--interval", "1s", "--flush-interval", "10s",
                               "--keep-loopback", "-v", NULL };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        long ticks_per_s = sysconf(_SC_CLK_TCK);
        uint64_t window_start_ticks = 0;
        double start, stop, window_start;
        struct rusage ru;
        int status, r;
        pid_t pid;

        if (devnull < 0)
                return -errno;
        start = window_start = monotonic_s();
        r = spawn(argv, devnull, log_fd, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start the agent: %m");

        /* One sample a second, duration_s of them. */
        for (unsigned t = 1; r == 0 && t <= o->duration_s; t++) {
                struct proc_sample s = {};

                r = sleep_until(start + t, &bench_interrupted);
                if (r < 0)
                        break;
                if (sample_proc(pid, &s) < 0) {
                        r = bench_error(-ESRCH, "The agent exited early; see its log above");
                        break;
                }
                if (s.rss_kib > res->max_vmrss_kib)
                        res->max_vmrss_kib = s.rss_kib;
                res->vmhwm_kib = s.hwm_kib;
                if (t % WINDOW_S == 0 || t == o->duration_s) {
                        double now = monotonic_s();
                        if (res->n_windows < MAX_WINDOWS && ticks_per_s > 0)
                                res->window_cpu_percent[res->n_windows++] =
                                        100.0 * (double)(s.cpu_ticks - window_start_ticks) / (double)ticks_per_s /
                                        (now - window_start);
                        window_start_ticks = s.cpu_ticks;
                        window_start = now;
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

static double percent(double cpu_s, double wall_s)
{
        return wall_s > 0 ? 100.0 * cpu_s / wall_s : 0;
}

static const char *verdict(bool pass)
{
        return pass ? "PASS" : "FAIL";
}

/* Returns 0 when every target was met, 1 when one was missed, or -errno. */
static int run(const struct bench_options *o, const char *dir)
{
        struct hold_options ho = {
                .setup_timeout_s = o->setup_timeout_s,
                .lifetime_s = o->setup_timeout_s + 2 * o->duration_s + STOP_TIMEOUT_S + 2 * COMMAND_TIMEOUT_S + 60,
                .interrupted = &bench_interrupted,
        };
        struct hold_layout layout = hold_layout_for(o->connections);
        char path[PATH_MAX], uri[PATH_MAX + 16], log_path[PATH_MAX];
        const char *migrate[] = { o->netdep, "db", "migrate", "--store", uri, NULL };
        _cleanup_close_ int log_fd = -EBADF, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        struct agent_result agent = {};
        struct ss_result ss = {};
        struct hold h = HOLD_INIT;
        struct census census = {};
        double setup_s;
        bool cpu_ok, rss_ok;
        long peak_kib;
        int r;

        if (devnull < 0)
                return -errno;
        snprintf(path, sizeof(path), "%s/store.db", dir);
        snprintf(uri, sizeof(uri), "sqlite:%s", path);
        snprintf(log_path, sizeof(log_path), "%s/agent.log", dir);
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_fd < 0)
                return bench_error(-errno, "Failed to create %s: %m", log_path);

        r = run_command(migrate, devnull, COMMAND_TIMEOUT_S, &bench_interrupted, NULL);
        if (r < 0)
                return r;
        printf("store: %s (migrated with netdep db migrate)\n", uri);

        r = hold_enter_fresh_netns();
        if (r < 0)
                return r;
        setup_s = monotonic_s();
        r = hold_start(&h, &layout, &ho);
        if (r < 0)
                goto finish;
        printf("held: %u connections, %u sockets in %u processes, in a fresh network namespace, "
               "established in %.1f s\n",
               layout.connections, 2 * layout.connections, 2 * layout.per_side, monotonic_s() - setup_s);

        printf("\n== netdep agent, %u s (interval 1 s, flush interval 10 s, --keep-loopback)\n", o->duration_s);
        fflush(stdout);
        r = run_agent(o, uri, log_fd, &agent);
        printf("  agent log (stderr, -v):\n");
        print_log(log_path);
        if (r < 0)
                goto finish;

        printf("\n== ss -tanp once a second, %u s\n", o->duration_s);
        fflush(stdout);
        r = run_ss(o, &ss);
        if (r < 0)
                goto finish;
        hold_stop(&h);

        r = store_census(path, &census);
        if (r < 0)
                goto finish;

        printf("\n  %-32s %8s %8s %8s %10s %10s %10s\n", "", "wall s", "CPU s", "CPU %", "peak RSS", "VmHWM",
               "max VmRSS");
        printf("  %-32s %8.1f %8.2f %8.2f %6.1f MiB %6.1f MiB %6.1f MiB\n", "netdep agent", agent.wall_s, agent.cpu_s,
               percent(agent.cpu_s, agent.wall_s), mib(agent.maxrss_kib), mib(agent.vmhwm_kib),
               mib(agent.max_vmrss_kib));
        printf("  %-32s %8.1f %8.2f %8.2f %6.1f MiB %10s %10s\n", "ss -tanp once a second", ss.wall_s, ss.cpu_s,
               percent(ss.cpu_s, ss.wall_s), mib(ss.maxrss_kib), "-", "-");
        printf("\n  ss: %u runs, %u ticks skipped, %.3f s per run on average, %.3f s the longest\n", ss.runs,
               ss.skipped_ticks, ss.runs ? ss.total_run_s / ss.runs : 0, ss.longest_run_s);
        printf("  agent CPU %% per %d s window:", WINDOW_S);
        for (unsigned i = 0; i < agent.n_windows; i++)
                printf(" %.2f", agent.window_cpu_percent[i]);
        printf("\n  agent / ss -tanp, CPU: %.3f\n", ss.cpu_s > 0 ? agent.cpu_s / ss.cpu_s : 0);
        printf("  the store after: %" PRId64 " edges, %" PRId64 " observations, %" PRId64 " endpoints, %" PRId64
               " hosts%s\n",
               census.edges, census.observations, census.endpoints, census.hosts,
               census.edges > 0 ? "" : "  <-- the agent wrote nothing");
        printf("  RSS floor (the bench's own peak, which a forked child's ru_maxrss starts from): %.1f MiB\n",
               mib(self_maxrss_kib()));

        /* The kernel's RSS counters are per-CPU and summed approximately:
         * ru_maxrss and VmHWM can differ by a few hundred KiB. The higher. */
        peak_kib = agent.maxrss_kib > agent.vmhwm_kib ? agent.maxrss_kib : agent.vmhwm_kib;
        cpu_ok = percent(agent.cpu_s, agent.wall_s) <= TARGET_CPU_PERCENT;
        rss_ok = peak_kib <= TARGET_RSS_KIB;
        printf("\n  target: agent CPU <= %.0f%% of one core: %.2f%%  %s\n", TARGET_CPU_PERCENT,
               percent(agent.cpu_s, agent.wall_s), verdict(cpu_ok));
        printf("  target: agent peak RSS <= %d MiB: %.1f MiB (%ld KiB; ru_maxrss %ld, VmHWM %ld)  %s\n",
               TARGET_RSS_KIB / 1024, mib(peak_kib), peak_kib, agent.maxrss_kib, agent.vmhwm_kib, verdict(rss_ok));
        if (!agent.clean_exit || census.edges == 0)
                r = bench_error(-EPROTO, "The agent failed or wrote nothing: the figures do not count");
        else
                r = cpu_ok && rss_ok ? 0 : 1;
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
                "CPU and RSS of netdep agent (1 s interval) over N held loopback TCP\n"
                "connections, against ss -tanp once a second. Needs root.\n"
                "\n"
                "Options:\n"
                "      --duration S        of each phase (default 60)\n"
                "      --connections N     held connections (default 10000)\n"
                "      --netdep PATH       the netdep to run (default %s)\n"
                "      --ss PATH           the ss to run (default ss)\n"
                "      --keep              keep the store and the agent's log, and say where\n"
                "      --setup-timeout S   longest the connections may take (default 300)\n"
                "  -h, --help              this help\n",
                NETDEP_PATH);
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_DURATION = 0x100,
                OPT_CONNECTIONS,
                OPT_NETDEP,
                OPT_SS,
                OPT_KEEP,
                OPT_SETUP_TIMEOUT,
        };
        static const struct option options[] = {
                { "duration", required_argument, NULL, OPT_DURATION },
                { "connections", required_argument, NULL, OPT_CONNECTIONS },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "ss", required_argument, NULL, OPT_SS },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "setup-timeout", required_argument, NULL, OPT_SETUP_TIMEOUT },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned v = 0;
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_DURATION:
                        r = bench_parse_uint(optarg, WINDOW_S, MAX_DURATION_S, &o->duration_s);
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
                        return bench_error(-EINVAL, "invalid value '%s' for %s (see --help)", optarg,
                                           argv[optind - 1]);
        }
        if (optind < argc)
                return bench_error(-EINVAL, "Unexpected argument '%s'", argv[optind]);
        return 0;
}

int main(int argc, char **argv)
{
        struct bench_options o = {
                .duration_s = 60,
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
                printf("\nkept the store and the agent's log in %s\n", dir);
        else
                remove_temp_dir(dir);
        if (r < 0)
                return EXIT_FAILURE;
        return r > 0 ? 3 : EXIT_SUCCESS;
}
