/* bpf-cost-bench: the kernel time netdep's BPF program takes per TCP
 * connection, next to libbpf-tools' tcplife, which hooks the same
 * tracepoint (sock/inet_sock_set_state), over the same churn.
 *
 *   bpf-cost-bench [--connections N] [--rate R] [--rounds N] [--clients N]
 *                  [--netdep PATH] [--tcplife PATH]
 *
 * Every run, in a fresh network namespace of the bench's own (lo only):
 * the tool is started and given until its program shows among its fds (at
 * most 10 s), then 2 s to settle; N short connections (20,000) are made at
 * R a second (5,000) by the load of conn-load.h (--clients processes from
 * 127.0.0.2-9, one server on 127.0.0.1:7000 that closes at once, close by
 * FIN), bounded in time (1.5 x N / R + 2 s); once every connection has
 * reached CLOSE (at most 5 s), the tool is stopped with SIGTERM. The tools:
 *
 *   netdep   `netdep agent --store sqlite:DIR/netdep.db --mode hybrid
 *            --interval 1s --keep-loopback`, started in the bench's
 *            namespace, as the agent runs on a host: its program is
 *            nd_inet_sock_set_state (the agent's iterator, which lists
 *            followed sockets from the agent's own process, is not counted);
 *   tcplife  `tcplife` (stdout to /dev/null), which watches the whole host:
 *            its program is inet_sock_set_state.
 *
 * --rounds rounds (5), the two tools in turn, which goes first alternating
 * every round. The figure is the kernel's own count of the program's run
 * time (BPF_ENABLE_STATS, on for the bench's life; kernel.bpf_stats_enabled
 * is left as it was): the programs of the tool's process only (their ids
 * from /proc/PID/fdinfo), over the load, divided by the connections made.
 * It leaves out the tracepoint's own dispatch, which differs (tcplife is a
 * perf-event tracepoint program, netdep a BTF-typed raw tracepoint), and
 * both tools' user side. Both programs run on every TCP state change of the
 * whole host: other traffic inflates both, and shows in runs a connection
 * (10 from the load: 5 state changes on each side).
 *
 * tcplife finds the tracepoint through tracefs. When neither
 * /sys/kernel/tracing nor /sys/kernel/debug/tracing has it, the bench
 * mounts tracefs at /sys/kernel/tracing and unmounts it at the end.
 *
 * Target: netdep's program at most 1/4 of tcplife's time per connection;
 * the verdict is on the median over rounds of each round's ratio.
 *
 * Run as root, from the top of the tree (needs libbpf-tools):
 *
 *   ninja -C build && build/bench/bpf-cost-bench
 *
 * Exit status: 0 measured and the target met, 1 the bench failed, 2 usage
 * error, 3 measured but the target was missed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "bpf-stats.h"
#include "conn-load.h"
#include "hold.h"
#include "run-command.h"
#include "shared/cleanup.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define PORT 7000
#define MAX_ROUNDS 20
#define TARGET_RATIO 0.25
#define ATTACH_TIMEOUT_S 10.0
#define SETTLE_S 2.0
#define CLOSE_WAIT_MAX_S 5.0
#define STOP_TIMEOUT_S 30
#define TRACEFS "/sys/kernel/tracing"
#define TRACEPOINT "events/sock/inet_sock_set_state"

struct bench_options {
        unsigned connections, rate, rounds, clients;
        const char *netdep, *tcplife;
};

enum tool { TOOL_NETDEP, TOOL_TCPLIFE, _TOOL_MAX };

static const char *const tool_name[_TOOL_MAX] = { "netdep", "tcplife" };
/* Program names, as the kernel cuts them (15 characters). */
static const char *const tool_prog[_TOOL_MAX] = { "nd_inet_sock_se", "inet_sock_set_s" };

struct run {
        struct conn_load_result load;
        struct bpf_run_stats bpf;
        uint64_t still_open;
};

static double ns_per_conn(const struct run *r)
{
        return r->load.made ? (double)r->bpf.run_time_ns / (double)r->load.made : 0;
}

/* Waits until pid holds a program named tool_prog[t], or it exits, or
 * ATTACH_TIMEOUT_S. */
static int wait_attached(enum tool t, pid_t pid, const char *log_path)
{
        double deadline = monotonic_s() + ATTACH_TIMEOUT_S;
        struct bpf_run_stats b;

        for (;;) {
                if (bpf_run_stats_of(pid, tool_prog[t], &b) == 0 && b.programs > 0)
                        return sleep_until(monotonic_s() + SETTLE_S, &bench_interrupted);
                if (waitpid(pid, NULL, WNOHANG) != 0)
                        return bench_error(-ESRCH, "%s exited before its program was loaded; see %s", tool_name[t],
                                           log_path);
                if (monotonic_s() > deadline)
                        return bench_error(-ETIMEDOUT, "%s loaded no program named %s* in %.0f s; see %s",
                                           tool_name[t], tool_prog[t], ATTACH_TIMEOUT_S, log_path);
                if (sleep_until(monotonic_s() + 0.05, &bench_interrupted) < 0)
                        return -EINTR;
        }
}

static int run_tool(const struct bench_options *o, struct conn_load *l, enum tool t, const char *dir,
                    struct run *ret)
{
        struct agent_files files;
        const char *agent[] = { o->netdep, "agent", "--store", files.uri, "--mode", "hybrid", "--interval", "1s",
                                "--keep-loopback", NULL };
        const char *tcplife[] = { o->tcplife, NULL };
        struct conn_load_spec spec = {
                .rate = o->rate,
                .count = o->connections,
                .max_s = 1.5 * o->connections / o->rate + 2,
                .clients = o->clients,
        };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), log_fd = -EBADF;
        struct bpf_run_stats b0 = {}, b1 = {};
        struct run res = {};
        int r, reaped;
        pid_t pid;

        if (devnull < 0)
                return -errno;
        if (t == TOOL_NETDEP)
                log_fd = agent_files_make(o->netdep, dir, tool_name[t], &bench_interrupted, &files);
        else {
                snprintf(files.log_path, sizeof(files.log_path), "%s/%s.log", dir, tool_name[t]);
                log_fd = open(files.log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (log_fd < 0)
                        log_fd = bench_error(-errno, "Failed to create %s: %m", files.log_path);
        }
        if (log_fd < 0)
                return log_fd;
        /* A fresh namespace: no TIME_WAIT sockets of the runs before. */
        conn_load_close(l);
        r = hold_enter_fresh_netns();
        if (r >= 0)
                r = conn_load_open(l, PORT, 1);
        if (r < 0)
                return r;

        r = spawn(t == TOOL_NETDEP ? agent : tcplife, devnull, log_fd, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start %s: %m", tool_name[t]);
        r = wait_attached(t, pid, files.log_path);
        if (r == 0)
                r = bpf_run_stats_of(pid, tool_prog[t], &b0);
        if (r == 0)
                r = conn_load_run(l, &spec, -1, 0, NULL, NULL, &bench_interrupted, &res.load);
        if (r == 0) {
                res.still_open = conn_load_wait_closed(CLOSE_WAIT_MAX_S);
                r = bpf_run_stats_of(pid, tool_prog[t], &b1);
        }
        kill(pid, SIGTERM);
        reaped = reap(pid, monotonic_s() + STOP_TIMEOUT_S, &bench_interrupted, NULL, NULL);
        if (r < 0)
                return r;
        if (reaped < 0)
                return bench_error(reaped, "%s did not exit within %d s of SIGTERM", tool_name[t], STOP_TIMEOUT_S);
        if (b1.programs == 0)
                return bench_error(-ESRCH, "%s's program was gone before the end of the load", tool_name[t]);
        res.bpf = bpf_run_stats_diff(&b1, &b0);
        *ret = res;
        return 0;
}

static void print_run(unsigned round, enum tool t, const struct run *r)
{
        double made = (double)r->load.made;

        printf("  %5u %-8s %7" PRIu64 " %7.0f %9.2f %7.0f %8.0f %8" PRIu64 "%s\n", round + 1, tool_name[t],
               r->load.made, r->load.seconds > 0 ? made / r->load.seconds : 0,
               made > 0 ? (double)r->bpf.run_cnt / made : 0,
               r->bpf.run_cnt ? (double)r->bpf.run_time_ns / (double)r->bpf.run_cnt : 0, ns_per_conn(r),
               r->bpf.recursion_misses, r->load.failed || r->still_open ? "  (connects failed or still open)" : "");
        fflush(stdout);
}

/* tcplife reads the tracepoint's id from tracefs. Mounts it when neither
 * place has it; *ret_mounted tells whether the bench did. */
static int tracefs_ensure(bool *ret_mounted)
{
        *ret_mounted = false;
        if (access(TRACEFS "/" TRACEPOINT, F_OK) == 0 || access("/sys/kernel/debug/tracing/" TRACEPOINT, F_OK) == 0)
                return 0;
        if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) < 0)
                return bench_error(-errno, "Failed to mount tracefs at %s: %m", TRACEFS);
        *ret_mounted = true;
        if (access(TRACEFS "/" TRACEPOINT, F_OK) < 0)
                return bench_error(-ENOENT, "This kernel has no tracepoint sock/inet_sock_set_state");
        return 0;
}

static int read_bpf_stats_sysctl(void)
{
        _cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
        int v = -1;

        if (!f || fscanf(f, "%d", &v) != 1)
                return -1;
        return v;
}

/* ---- the run ---- */

struct spread {
        double median, min, max;
};

static struct spread spread_of(const double *v, size_t n)
{
        double sorted[MAX_ROUNDS];
        struct spread s = {};

        if (n == 0)
                return s;
        memcpy(sorted, v, n * sizeof(*v));
        s.median = median(sorted, n); /* sorts */
        s.min = sorted[0];
        s.max = sorted[n - 1];
        return s;
}

/* Returns 0 when the target was met, 1 when it was missed, or -errno. */
static int run(const struct bench_options *o, const char *dir)
{
        double ns[_TOOL_MAX][MAX_ROUNDS], ratio[MAX_ROUNDS];
        _cleanup_close_ int stats_fd = -EBADF;
        struct conn_load l = CONN_LOAD_INIT;
        struct spread s[_TOOL_MAX], q;
        int r;

        stats_fd = bpf_run_stats_enable();
        if (stats_fd < 0)
                return bench_error(stats_fd, "Failed to switch on BPF run-time statistics: %m");
        printf("load: %u connections a run at %u conn/s, %u client process(es) from 127.0.0.2-%u, 1 server "
               "process on 127.0.0.1:%d, close by FIN, a fresh network namespace a run\n",
               o->connections, o->rate, o->clients, 1 + LOOPBACK_SOURCES, PORT);
        printf("\n  %5s %-8s %7s %7s %9s %7s %8s %8s\n", "round", "tool", "made", "made/s", "runs/conn", "ns/run",
               "ns/conn", "skipped");
        for (unsigned round = 0; round < o->rounds; round++) {
                struct run runs[_TOOL_MAX];

                for (unsigned j = 0; j < _TOOL_MAX; j++) {
                        enum tool t = (enum tool)((round + j) % _TOOL_MAX); /* alternate which goes first */

                        r = run_tool(o, &l, t, dir, &runs[t]);
                        if (r < 0)
                                goto finish;
                        print_run(round, t, &runs[t]);
                        ns[t][round] = ns_per_conn(&runs[t]);
                }
                ratio[round] = ns[TOOL_TCPLIFE][round] > 0 ? ns[TOOL_NETDEP][round] / ns[TOOL_TCPLIFE][round] : 0;
                printf("  %5u netdep/tcplife %.3f\n", round + 1, ratio[round]);
        }

        for (unsigned t = 0; t < _TOOL_MAX; t++)
                s[t] = spread_of(ns[t], o->rounds);
        q = spread_of(ratio, o->rounds);
        printf("\n== BPF program time per connection, median over %u rounds (min-max)\n", o->rounds);
        for (unsigned t = 0; t < _TOOL_MAX; t++)
                printf("  %-8s %8.0f ns (%.0f-%.0f)\n", tool_name[t], s[t].median, s[t].min, s[t].max);
        printf("  netdep/tcplife, per round: %.3f (%.3f-%.3f)\n", q.median, q.min, q.max);
        printf("\n  target: netdep <= 1/4 of tcplife per connection: %.3f  %s\n", q.median,
               q.median <= TARGET_RATIO ? "PASS" : "FAIL");
        r = q.median <= TARGET_RATIO ? 0 : 1;
finish:
        conn_load_close(&l);
        if (r == -EINTR)
                bench_error(r, "Interrupted by signal %d; children stopped", (int)bench_interrupted);
        return r;
}

/* ---- options ---- */

static void help(FILE *out)
{
        fprintf(out,
                "Usage: bpf-cost-bench [OPTIONS]\n"
                "\n"
                "Kernel time of netdep's BPF program per short loopback connection,\n"
                "against libbpf-tools' tcplife on the same tracepoint. Needs root.\n"
                "\n"
                "Options:\n"
                "      --connections N   per run (default 20000)\n"
                "      --rate R          conn/s (default 5000)\n"
                "      --rounds N        rounds of both tools (default 5)\n"
                "      --clients N       client processes (default 2)\n"
                "      --netdep PATH     the netdep to run (default %s)\n"
                "      --tcplife PATH    the tcplife to run (default tcplife)\n"
                "  -h, --help            this help\n",
                NETDEP_PATH);
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_CONNECTIONS = 0x100,
                OPT_RATE,
                OPT_ROUNDS,
                OPT_CLIENTS,
                OPT_NETDEP,
                OPT_TCPLIFE,
        };
        static const struct option options[] = {
                { "connections", required_argument, NULL, OPT_CONNECTIONS },
                { "rate", required_argument, NULL, OPT_RATE },
                { "rounds", required_argument, NULL, OPT_ROUNDS },
                { "clients", required_argument, NULL, OPT_CLIENTS },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "tcplife", required_argument, NULL, OPT_TCPLIFE },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c, index = 0, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_CONNECTIONS:
                        r = bench_parse_uint(optarg, 1000, 1000000, &o->connections);
                        break;
                case OPT_RATE:
                        r = bench_parse_uint(optarg, 100, 100000, &o->rate);
                        break;
                case OPT_ROUNDS:
                        r = bench_parse_uint(optarg, 1, MAX_ROUNDS, &o->rounds);
                        break;
                case OPT_CLIENTS:
                        r = bench_parse_uint(optarg, 1, CONN_LOAD_MAX_PROCESSES, &o->clients);
                        break;
                case OPT_NETDEP:
                        o->netdep = optarg;
                        break;
                case OPT_TCPLIFE:
                        o->tcplife = optarg;
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
                .connections = 20000,
                .rate = 5000,
                .rounds = 5,
                .clients = 2,
                .netdep = NETDEP_PATH,
                .tcplife = "tcplife",
        };
        char dir[] = "/tmp/bpf-cost-bench.XXXXXX";
        int sysctl_before, r;
        bool mounted;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();

        if (!mkdtemp(dir)) {
                bench_error(-errno, "Failed to make a temporary directory: %m");
                return EXIT_FAILURE;
        }
        printf("bpf-cost-bench: %ld CPUs online, netdep %s, tcplife %s\n", sysconf(_SC_NPROCESSORS_ONLN), o.netdep,
               o.tcplife);
        sysctl_before = read_bpf_stats_sysctl();
        r = tracefs_ensure(&mounted);
        if (r >= 0) {
                printf("tracefs: %s\n", mounted ? "mounted at " TRACEFS " by the bench (unmounted at the end)"
                                                : "already mounted");
                print_load("at the start");
                r = run(&o, dir);
                print_load("at the end");
        }
        if (mounted && umount(TRACEFS) < 0)
                bench_error(-errno, "Failed to unmount %s: %m", TRACEFS);
        /* The statistics were on through the bench's own fd, closed by now. */
        printf("kernel.bpf_stats_enabled: %d before, %d after\n", sysctl_before, read_bpf_stats_sysctl());
        if (r < 0)
                printf("kept the tools' logs in %s\n", dir);
        else
                remove_temp_dir(dir);
        if (r < 0)
                return EXIT_FAILURE;
        return r > 0 ? 3 : EXIT_SUCCESS;
}
