/* flows-bench: how long `netdep flows` takes over many TCP connections,
 * next to ss and to a bare sock_diag dump, all timed in the same run.
 *
 *   flows-bench [--connections N]... [--runs R] [--slow-runs R]
 *               [--netdep PATH] [--ss PATH] [--timeout SECONDS]
 *               [--setup-timeout SECONDS] [--hold SECONDS]
 *
 * For each size N (10k, 50k and 100k unless --connections says otherwise)
 * the bench holds N established TCP connections, 2N sockets, over loopback
 * (hold.h): servers accepting on 2 ports each, clients connecting from 8
 * source addresses with IP_BIND_ADDRESS_NO_PORT, at most 12,500 sockets per
 * process for a 20,000-fd hard limit, so 100k connections take 8 servers
 * and 8 clients. Every size gets a fresh network namespace: the host's own
 * sockets stay out of the counts, nothing outlives the bench, and the
 * commands it runs inherit the namespace.
 *
 * Before timing, a sock_diag count must find the 2N established sockets,
 * and one `netdep flows --json` must account for 2N connections. Then, in
 * interleaved rounds, it times by wall clock (fork to wait4):
 *
 *   netdep flows                  stdout to /dev/null, peak RSS from wait4
 *   netdep flows --no-processes   idem
 *   ss -tanp, ss -tan             stdout to /dev/null (ss -tanp only
 *                                 --slow-runs times: ~13 s at 200k sockets)
 *   sock_diag dump                in-process: SOCK_DIAG_BY_FAMILY dumps of
 *                                 AF_INET and AF_INET6, every state ss -a
 *                                 shows (DUMP_ALL_STATES), replies counted
 *                                 and not decoded; once bare and once with
 *                                 INET_DIAG_INFO (what netdep asks for), to
 *                                 tell kernel from user time; and once
 *                                 bare with states ~0, for comparison
 *
 * and prints medians, the ratios, and the targets (met at N = 100k):
 * netdep flows <= 1/10 of ss -tanp, netdep flows --no-processes <= 1.2x the
 * bare dump, netdep's peak RSS <= 10 MiB.
 *
 * A child's ru_maxrss starts from the RSS of the process it was forked from;
 * the bench keeps its own small and prints it as the floor. The bare dump
 * runs in-process, so netdep's figures alone carry fork, exec and dynamic
 * linking (a few ms: it shows at 10k, not at 100k).
 *
 * Run as root (it unshares a network namespace), from the top of the tree:
 *
 *   ninja -C build && build/bench/flows-bench
 *
 * Exit status: 0 measured and every target met, 1 the bench failed, 2 usage
 * error, 3 measured but a target at N = 100k was missed. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
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

#define MAX_SIZES 8
#define MAX_RUNS 50
#define MIN_CONNECTIONS 100
#define DUMP_TIMEOUT_S 30
#define DUMP_BUFFER (64 * 1024)
/* Every state ss -a shows, TCP_ESTABLISHED (1) to TCP_NEW_SYN_RECV (12).
 * Not TCP_BOUND_INACTIVE (13, Linux 6.5+): asking for it (as ~0 does) makes
 * the kernel walk the whole bind hash too, some 35% more at 200k sockets,
 * work that neither netdep nor ss does. */
#define DUMP_ALL_STATES 0x1ffeu

#define TARGET_CONNECTIONS 100000
#define TARGET_VS_SS 0.10
#define TARGET_VS_DUMP 1.20
#define TARGET_RSS_KIB (10 * 1024)

struct bench_options {
        uint32_t sizes[MAX_SIZES];
        size_t n_sizes;
        unsigned runs;      /* timed runs of each command */
        unsigned slow_runs; /* of ss -tanp, which is slow */
        const char *netdep;
        const char *ss;
        unsigned timeout_s;       /* per command */
        unsigned setup_timeout_s; /* to establish one size's connections */
        unsigned hold_s;          /* pause before timing, for profiling */
};

enum tool {
        TOOL_NETDEP,
        TOOL_NETDEP_NO_PROCESSES,
        TOOL_SS_PROCESSES,
        TOOL_SS,
        TOOL_DUMP,
        TOOL_DUMP_INFO,
        TOOL_DUMP_ANY_STATE,
        _TOOL_MAX,
};

static const char *const tool_label[_TOOL_MAX] = {
        [TOOL_NETDEP] = "netdep flows",
        [TOOL_NETDEP_NO_PROCESSES] = "netdep flows --no-processes",
        [TOOL_SS_PROCESSES] = "ss -tanp",
        [TOOL_SS] = "ss -tan",
        [TOOL_DUMP] = "sock_diag dump, count only",
        [TOOL_DUMP_INFO] = "sock_diag dump + tcp_info",
        [TOOL_DUMP_ANY_STATE] = "sock_diag dump, states ~0",
};

struct samples {
        double seconds[MAX_RUNS];
        unsigned n;
        long maxrss_kib; /* highest over the runs; 0 for in-process work */
};

struct netdep_census {
        uint64_t flows, connections, unowned_flows;
};

struct size_result {
        struct hold_layout layout;
        bool measured;
        double setup_s;
        uint64_t sockets, established;
        struct netdep_census census;
        struct samples tools[_TOOL_MAX];
};

/* ---- the bare sock_diag dump ---- */

/* Counts SOCK_DIAG_BY_FAMILY replies up to NLMSG_DONE, decoding none. */
static int count_dump_replies(int fd, void *buf, uint64_t *count)
{
        /* The kernel ends every dump with NLMSG_DONE; SO_RCVTIMEO bounds each wait. */
        for (;;) {
                ssize_t n = recv(fd, buf, DUMP_BUFFER, 0);

                if (n < 0) {
                        if (errno == EINTR && !bench_interrupted)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -ECONNRESET;
                for (const struct nlmsghdr *h = buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error < 0 ? e->error : -EPROTO;
                        }
                        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY)
                                (*count)++;
                }
        }
}

/* TCP sockets in the states mask, IPv4 and IPv6, as sock_diag sees them. */
static int sockdiag_count(uint32_t states, bool with_info, uint64_t *ret_count)
{
        static const uint8_t families[] = { AF_INET, AF_INET6 };
        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        _cleanup_free_ void *buf = malloc(DUMP_BUFFER);
        struct timeval timeout = { .tv_sec = DUMP_TIMEOUT_S };
        uint64_t count = 0;
        int r;

        if (fd < 0)
                return -errno;
        if (!buf)
                return -ENOMEM;
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(families); i++) {
                struct {
                        struct nlmsghdr nlh;
                        struct inet_diag_req_v2 req;
                } msg = {
                        .nlh = {
                                .nlmsg_len = sizeof(msg),
                                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                                .nlmsg_seq = (uint32_t)i + 1,
                        },
                        .req = {
                                .sdiag_family = families[i],
                                .sdiag_protocol = IPPROTO_TCP,
                                .idiag_ext = with_info ? 1u << (INET_DIAG_INFO - 1) : 0,
                                .idiag_states = states,
                        },
                };
                struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

                if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
                        return -errno;
                r = count_dump_replies(fd, buf, &count);
                if (r < 0)
                        return r;
        }
        *ret_count = count;
        return 0;
}

/* ---- running commands ---- */

static int measure_once(const struct bench_options *o, enum tool t, int devnull, struct samples *s)
{
        const char *argv[4] = {};
        struct command_result c = {};
        uint64_t count;
        double start;
        int r;

        switch (t) {
        case TOOL_NETDEP:
                argv[0] = o->netdep, argv[1] = "flows";
                break;
        case TOOL_NETDEP_NO_PROCESSES:
                argv[0] = o->netdep, argv[1] = "flows", argv[2] = "--no-processes";
                break;
        case TOOL_SS_PROCESSES:
                argv[0] = o->ss, argv[1] = "-tanp";
                break;
        case TOOL_SS:
                argv[0] = o->ss, argv[1] = "-tan";
                break;
        case TOOL_DUMP:
        case TOOL_DUMP_INFO:
        case TOOL_DUMP_ANY_STATE:
                start = monotonic_s();
                r = sockdiag_count(t == TOOL_DUMP_ANY_STATE ? UINT32_MAX : DUMP_ALL_STATES,
                                   t == TOOL_DUMP_INFO, &count);
                if (r < 0)
                        return bench_error(r, "sock_diag dump failed: %m");
                c.seconds = monotonic_s() - start;
                break;
        default:
                return -EINVAL;
        }
        if (argv[0]) {
                r = run_command(argv, devnull, o->timeout_s, &bench_interrupted, &c);
                if (r < 0)
                        return r;
        }
        if (s && s->n < MAX_RUNS) {
                s->seconds[s->n++] = c.seconds;
                if (c.maxrss_kib > s->maxrss_kib)
                        s->maxrss_kib = c.maxrss_kib;
        }
        return 0;
}

/* Runs `netdep flows --json` once and adds up what it reports. */
static int netdep_census(const struct bench_options *o, struct netdep_census *ret)
{
        const char *argv[] = { o->netdep, "flows", "--json", NULL };
        _cleanup_close_ int fd = memfd_create("netdep-flows", MFD_CLOEXEC);
        _cleanup_free_ char *json = NULL;
        struct netdep_census census = {};
        struct command_result c;
        struct stat st;
        ssize_t n;
        int r;

        if (fd < 0)
                return -errno;
        r = run_command(argv, fd, o->timeout_s, &bench_interrupted, &c);
        if (r < 0)
                return r;
        if (fstat(fd, &st) < 0)
                return -errno;
        json = malloc((size_t)st.st_size + 1);
        if (!json)
                return -ENOMEM;
        n = pread(fd, json, (size_t)st.st_size, 0);
        if (n < 0)
                return -errno;
        json[n] = 0;

        /* Compact JSON from jansson: a flow is {..., "connections":N, ...}. */
        for (const char *p = json; (p = strstr(p, "\"connections\":")); ) {
                char *end;

                census.connections += strtoull(p + strlen("\"connections\":"), &end, 10);
                census.flows++;
                p = end;
        }
        for (const char *p = json; (p = strstr(p, "\"process\":null")); p++)
                census.unowned_flows++;
        *ret = census;
        return 0;
}

/* ---- one size ---- */

static double samples_median(const struct samples *s)
{
        double v[MAX_RUNS];

        memcpy(v, s->seconds, s->n * sizeof(v[0]));
        return median(v, s->n);
}

static double min_of(const struct samples *s)
{
        double m = s->n ? s->seconds[0] : 0;

        for (unsigned i = 1; i < s->n; i++)
                if (s->seconds[i] < m)
                        m = s->seconds[i];
        return m;
}

static double max_of(const struct samples *s)
{
        double m = 0;

        for (unsigned i = 0; i < s->n; i++)
                if (s->seconds[i] > m)
                        m = s->seconds[i];
        return m;
}

static double ratio(double a, double b)
{
        return b > 0 ? a / b : 0;
}

static long netdep_maxrss_kib(const struct size_result *res)
{
        long a = res->tools[TOOL_NETDEP].maxrss_kib, b = res->tools[TOOL_NETDEP_NO_PROCESSES].maxrss_kib;

        return a > b ? a : b;
}

/* Checks that 2N established sockets exist, and what netdep makes of them. */
static int verify_size(const struct bench_options *o, struct size_result *res)
{
        uint64_t expected = 2 * (uint64_t)res->layout.connections;
        int r;

        r = sockdiag_count(DUMP_ALL_STATES, false, &res->sockets);
        if (r >= 0)
                r = sockdiag_count(1u << TCP_ESTABLISHED, false, &res->established);
        if (r < 0)
                return bench_error(r, "sock_diag count failed: %m");
        printf("  sock_diag: %lu TCP sockets, %lu established (expected %lu)\n",
               (unsigned long)res->sockets, (unsigned long)res->established, (unsigned long)expected);
        if (res->established != expected || res->sockets < expected)
                return bench_error(-EPROTO, "Expected %lu established sockets, found %lu",
                                   (unsigned long)expected, (unsigned long)res->established);

        r = netdep_census(o, &res->census);
        if (r < 0)
                return bench_error(r, "netdep flows --json failed: %m");
        printf("  netdep flows --json: %lu connections in %lu flows, %lu flows without a process%s\n",
               (unsigned long)res->census.connections, (unsigned long)res->census.flows,
               (unsigned long)res->census.unowned_flows,
               res->census.connections == expected ? "" : "  <-- MISMATCH");
        return 0;
}

static int measure_size(const struct bench_options *o, struct size_result *res)
{
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        bool progress = isatty(STDERR_FILENO);
        int r;

        if (devnull < 0)
                return -errno;
        fflush(stdout);
        /* One untimed round warms /proc's dentries and the page cache for
         * everyone; ss -tanp would only add its slowness. */
        for (int t = 0; t < _TOOL_MAX; t++)
                if (t != TOOL_SS_PROCESSES) {
                        r = measure_once(o, (enum tool)t, devnull, NULL);
                        if (r < 0)
                                return r;
                }

        /* Interleaved, so that drift over the run hits every tool alike. */
        for (unsigned round = 0; round < o->runs; round++) {
                if (progress)
                        fprintf(stderr, "  round %u/%u\r", round + 1, o->runs);
                for (int t = 0; t < _TOOL_MAX; t++) {
                        if (t == TOOL_SS_PROCESSES && round >= o->slow_runs)
                                continue;
                        if (bench_interrupted)
                                return -EINTR;
                        r = measure_once(o, (enum tool)t, devnull, &res->tools[t]);
                        if (r < 0)
                                return r;
                }
        }
        if (progress)
                fprintf(stderr, "%20s\r", "");
        res->measured = true;
        return 0;
}

static const char *verdict(bool pass)
{
        return pass ? "PASS" : "FAIL";
}

/* Prints one size's figures; returns how many targets it missed. */
static unsigned print_size(const struct size_result *res)
{
        const struct samples *t = res->tools;
        double netdep = samples_median(&t[TOOL_NETDEP]), bare = samples_median(&t[TOOL_DUMP]);
        double vs_ss = ratio(netdep, samples_median(&t[TOOL_SS_PROCESSES]));
        double vs_dump = ratio(samples_median(&t[TOOL_NETDEP_NO_PROCESSES]), bare);
        long rss = netdep_maxrss_kib(res);
        unsigned failed = 0;

        printf("\n  %-30s %4s %9s %9s %9s %10s\n", "command", "runs", "median", "min", "max", "peak RSS");
        for (int i = 0; i < _TOOL_MAX; i++) {
                printf("  %-30s %4u %8.3fs %8.3fs %8.3fs", tool_label[i], t[i].n, samples_median(&t[i]),
                       min_of(&t[i]), max_of(&t[i]));
                if (t[i].maxrss_kib)
                        printf(" %6.1f MiB\n", mib(t[i].maxrss_kib));
                else
                        printf(" %10s\n", "-");
        }

        printf("\n  %-40s %8s   %-14s %s\n", "ratio of medians", "value", "target", "");
        printf("  %-40s %8.3f   <= %-11.2f %s\n", "netdep flows / ss -tanp", vs_ss, TARGET_VS_SS,
               verdict(vs_ss <= TARGET_VS_SS));
        printf("  %-40s %8.3f   <= %-11.2f %s\n", "netdep --no-processes / bare dump", vs_dump, TARGET_VS_DUMP,
               verdict(vs_dump <= TARGET_VS_DUMP));
        printf("  %-40s %8.3f\n", "netdep flows / bare dump", ratio(netdep, bare));
        printf("  %-40s %8.3f\n", "dump + tcp_info / bare dump", ratio(samples_median(&t[TOOL_DUMP_INFO]), bare));
        printf("  %-40s %8.3f\n", "netdep --no-processes / dump + tcp_info",
               ratio(samples_median(&t[TOOL_NETDEP_NO_PROCESSES]), samples_median(&t[TOOL_DUMP_INFO])));
        printf("  %-40s %8.3f\n", "netdep --no-processes / dump, states ~0",
               ratio(samples_median(&t[TOOL_NETDEP_NO_PROCESSES]), samples_median(&t[TOOL_DUMP_ANY_STATE])));
        printf("  %-40s %4.1f MiB   <= %-4d MiB    %s\n", "netdep peak RSS (max of both)", mib(rss),
               TARGET_RSS_KIB / 1024, verdict(rss <= TARGET_RSS_KIB));
        if (res->layout.connections == TARGET_CONNECTIONS)
                failed = (vs_ss > TARGET_VS_SS) + (vs_dump > TARGET_VS_DUMP) + (rss > TARGET_RSS_KIB);
        else
                printf("  (the targets are set for N = %d; at this size they are for information)\n",
                       TARGET_CONNECTIONS);
        fflush(stdout);
        return failed;
}

/* Keeps the connections up for hold_s seconds, for a profiler run from
 * another shell. */
static int hold_for_profiling(unsigned hold_s)
{
        double deadline = monotonic_s() + hold_s;

        printf("  holding for %u s; profile from another shell with e.g.\n"
               "    nsenter --net=/proc/%d/ns/net perf record -g -- netdep flows\n",
               hold_s, (int)getpid());
        fflush(stdout);
        while (monotonic_s() < deadline) {
                if (bench_interrupted)
                        return -EINTR;
                poll(NULL, 0, 250);
        }
        return 0;
}

static int run_size(const struct bench_options *o, uint32_t connections, struct size_result *res)
{
        /* Longer than any schedule the options allow: a last resort. */
        struct hold_options ho = {
                .setup_timeout_s = o->setup_timeout_s,
                .lifetime_s = o->setup_timeout_s + o->hold_s + (o->runs + 2) * _TOOL_MAX * o->timeout_s,
                .interrupted = &bench_interrupted,
        };
        struct hold h = HOLD_INIT;
        double start;
        int r;

        res->layout = hold_layout_for(connections);
        printf("\n== N = %u connections: %u sockets in %u processes (%u servers, %u clients), "
               "%u listening ports, %d source addresses\n",
               connections, 2 * connections, 2 * res->layout.per_side, res->layout.per_side,
               res->layout.per_side, res->layout.per_side * HOLD_PORTS_PER_SERVER, LOOPBACK_SOURCES);
        fflush(stdout);

        r = hold_enter_fresh_netns();
        if (r < 0)
                return r;
        start = monotonic_s();
        r = hold_start(&h, &res->layout, &ho);
        if (r < 0)
                goto finish;
        res->setup_s = monotonic_s() - start;
        printf("  established in %.1f s\n", res->setup_s);
        r = verify_size(o, res);
        if (r >= 0 && o->hold_s > 0)
                r = hold_for_profiling(o->hold_s);
        if (r >= 0)
                r = measure_size(o, res);
finish:
        hold_stop(&h);
        if (r == -EINTR)
                bench_error(r, "Interrupted by signal %d; holder processes stopped", (int)bench_interrupted);
        return r;
}

/* ---- the summary ---- */

static void print_summary(const struct bench_options *o, const struct size_result *results, size_t n)
{
        printf("\n== Summary (medians, seconds; Markdown)\n\n");
        printf("| N | sockets | netdep flows | netdep --no-processes | ss -tanp | ss -tan | bare dump | "
               "dump + tcp_info | dump, states ~0 | netdep peak RSS |\n");
        printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < n; i++) {
                const struct samples *t = results[i].tools;

                if (!results[i].measured)
                        continue;
                printf("| %u | %lu | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f MiB |\n",
                       results[i].layout.connections, (unsigned long)results[i].established,
                       samples_median(&t[TOOL_NETDEP]), samples_median(&t[TOOL_NETDEP_NO_PROCESSES]),
                       samples_median(&t[TOOL_SS_PROCESSES]), samples_median(&t[TOOL_SS]), samples_median(&t[TOOL_DUMP]),
                       samples_median(&t[TOOL_DUMP_INFO]), samples_median(&t[TOOL_DUMP_ANY_STATE]),
                       mib(netdep_maxrss_kib(&results[i])));
        }
        printf("\n| N | netdep / ss -tanp | --no-processes / bare dump | netdep / bare dump |\n");
        printf("|---:|---:|---:|---:|\n");
        for (size_t i = 0; i < n; i++) {
                const struct samples *t = results[i].tools;
                double bare = samples_median(&t[TOOL_DUMP]);

                if (!results[i].measured)
                        continue;
                printf("| %u | %.3f | %.3f | %.2f |\n", results[i].layout.connections,
                       ratio(samples_median(&t[TOOL_NETDEP]), samples_median(&t[TOOL_SS_PROCESSES])),
                       ratio(samples_median(&t[TOOL_NETDEP_NO_PROCESSES]), bare), ratio(samples_median(&t[TOOL_NETDEP]), bare));
        }
        printf("\nRuns: %u per command, %u of ss -tanp. RSS floor (the bench's own peak, which a "
               "forked child starts from): %.1f MiB\n",
               o->runs, o->slow_runs < o->runs ? o->slow_runs : o->runs, mib(self_maxrss_kib()));
}

static void print_machine(const struct bench_options *o)
{
        _cleanup_closedir_ DIR *proc = opendir("/proc");
        struct utsname u = {};
        struct rlimit rl = {};
        unsigned processes = 0;
        struct dirent *de;

        uname(&u);
        getrlimit(RLIMIT_NOFILE, &rl);
        /* /proc is walked by netdep and ss -tanp alike: its size matters. */
        while (proc && (de = readdir(proc)))
                processes += de->d_name[0] >= '1' && de->d_name[0] <= '9';
        printf("flows-bench: kernel %s, %ld CPUs online, %u processes on the host, fd hard limit %lu\n",
               u.release, sysconf(_SC_NPROCESSORS_ONLN), processes, (unsigned long)rl.rlim_max);
        printf("netdep: %s; ss: %s\n", o->netdep, o->ss);
        fflush(stdout);
}

/* ---- options ---- */

static void help(FILE *out)
{
        fprintf(out,
                "Usage: flows-bench [OPTIONS]\n"
                "\n"
                "Times netdep flows against ss and a bare sock_diag dump over N held\n"
                "loopback TCP connections, in a network namespace of its own. Needs root.\n"
                "\n"
                "Options:\n"
                "      --connections N     one size (repeatable; default 10000, 50000, 100000)\n"
                "      --runs R            timed runs of each command (default 5)\n"
                "      --slow-runs R       timed runs of ss -tanp (default 3)\n"
                "      --netdep PATH       the netdep to time (default %s)\n"
                "      --ss PATH           the ss to time (default ss)\n"
                "      --timeout S         longest one command may take (default 120)\n"
                "      --setup-timeout S   longest one size may take to connect (default 300)\n"
                "      --hold S            before timing each size, keep its connections up\n"
                "                          S seconds for a profiler run from another shell\n"
                "  -h, --help              this help\n",
                NETDEP_PATH);
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_CONNECTIONS = 0x100,
                OPT_RUNS,
                OPT_SLOW_RUNS,
                OPT_NETDEP,
                OPT_SS,
                OPT_TIMEOUT,
                OPT_SETUP_TIMEOUT,
                OPT_HOLD,
        };
        static const struct option options[] = {
                { "connections", required_argument, NULL, OPT_CONNECTIONS },
                { "runs", required_argument, NULL, OPT_RUNS },
                { "slow-runs", required_argument, NULL, OPT_SLOW_RUNS },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "ss", required_argument, NULL, OPT_SS },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                { "setup-timeout", required_argument, NULL, OPT_SETUP_TIMEOUT },
                { "hold", required_argument, NULL, OPT_HOLD },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned v;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_CONNECTIONS:
                        if (o->n_sizes == MAX_SIZES ||
                            bench_parse_uint(optarg, MIN_CONNECTIONS, HOLD_MAX_CONNECTIONS, &v) < 0)
                                return bench_error(-EINVAL, "--connections takes at most %d sizes from %d to %d",
                                                   MAX_SIZES, MIN_CONNECTIONS, HOLD_MAX_CONNECTIONS);
                        o->sizes[o->n_sizes++] = v;
                        break;
                case OPT_RUNS:
                        if (bench_parse_uint(optarg, 1, MAX_RUNS, &o->runs) < 0)
                                return bench_error(-EINVAL, "--runs takes 1 to %d", MAX_RUNS);
                        break;
                case OPT_SLOW_RUNS:
                        if (bench_parse_uint(optarg, 1, MAX_RUNS, &o->slow_runs) < 0)
                                return bench_error(-EINVAL, "--slow-runs takes 1 to %d", MAX_RUNS);
                        break;
                case OPT_NETDEP:
                        o->netdep = optarg;
                        break;
                case OPT_SS:
                        o->ss = optarg;
                        break;
                case OPT_TIMEOUT:
                        if (bench_parse_uint(optarg, 1, 3600, &o->timeout_s) < 0)
                                return bench_error(-EINVAL, "--timeout takes 1 to 3600 seconds");
                        break;
                case OPT_SETUP_TIMEOUT:
                        if (bench_parse_uint(optarg, 1, 3600, &o->setup_timeout_s) < 0)
                                return bench_error(-EINVAL, "--setup-timeout takes 1 to 3600 seconds");
                        break;
                case OPT_HOLD:
                        if (bench_parse_uint(optarg, 0, 3600, &o->hold_s) < 0)
                                return bench_error(-EINVAL, "--hold takes 0 to 3600 seconds");
                        break;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return bench_error(-EINVAL, "Unexpected argument '%s'", argv[optind]);
        if (o->n_sizes == 0) {
                static const uint32_t defaults[] = { 10000, 50000, 100000 };

                memcpy(o->sizes, defaults, sizeof(defaults));
                o->n_sizes = ELEMENTSOF(defaults);
        }
        return 0;
}

int main(int argc, char **argv)
{
        struct bench_options o = {
                .runs = 5,
                .slow_runs = 3,
                .netdep = NETDEP_PATH,
                .ss = "ss",
                .timeout_s = 120,
                .setup_timeout_s = 300,
        };
        _cleanup_free_ struct size_result *results = NULL;
        unsigned failed = 0;
        size_t done = 0;
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;

        results = calloc(o.n_sizes, sizeof(*results));
        if (!results)
                return EXIT_FAILURE;
        bench_catch_signals();

        print_machine(&o);
        for (; done < o.n_sizes; done++) {
                r = run_size(&o, o.sizes[done], &results[done]);
                if (r < 0)
                        break;
                failed += print_size(&results[done]);
        }
        if (done > 0)
                print_summary(&o, results, done);
        if (r < 0)
                return EXIT_FAILURE;
        if (failed > 0) {
                printf("\n%u target(s) missed at N = %d.\n", failed, TARGET_CONNECTIONS);
                return 3;
        }
        return EXIT_SUCCESS;
}
