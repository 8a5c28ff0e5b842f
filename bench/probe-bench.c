/* probe-bench: what probing 20 links costs the host.
 *
 *   probe-bench [--links N] [--rounds R] [--interval-ms I]
 *
 * In a network namespace of its own (as root; otherwise on the host's
 * loopback), the prober runs R rounds of I ms over N ICMP targets
 * (127.0.0.1 and on, all local) and then over N TCP listeners of the
 * bench's own, 5 probes per target per round. Its CPU time (getrusage
 * RUSAGE_THREAD: the prober runs in the calling thread) per probe sent,
 * times 20 links x 5 probes every 30 s, is its share of one core in the
 * agent's default setting. fping then sends the same number of echoes to
 * the same addresses in the same run; its CPU (the child's rusage) per
 * probe, and the ratio, follow. The figures include the kernel's work in
 * the prober's system calls; on loopback that is the far end's too (the
 * echo reply, the SYN-ACK), so they overstate the cost on a real link.
 * Bounded: at most 100 rounds of at most 1 s each per kind, and fping
 * killed after 60 s. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-util.h"
#include "hold.h"
#include "probe/prober.h"
#include "shared/cleanup.h"

#define PROBES_PER_ROUND 5
#define AGENT_INTERVAL_S 30.0
#define AGENT_LINKS 20
#define TARGET_CORE_FRACTION 0.001
#define FPING_TIMEOUT_S 60
#define MAX_LINKS 200

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_prober *, nd_prober_free);

struct bench_options {
        unsigned links, rounds, interval_ms;
};

struct cost {
        unsigned sent, lost, refused;
        double cpu_s, wall_s;
};

static double per_probe_us(const struct cost *c)
{
        return c->sent ? c->cpu_s / c->sent * 1e6 : 0;
}

static double thread_cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_THREAD, &ru);
        return cpu_seconds(&ru);
}

static int run_prober(const struct bench_options *o, const struct nd_probe_target *t, struct cost *ret)
{
        struct nd_prober_options po = {
                .probes_per_round = PROBES_PER_ROUND,
                .interval_ms = o->interval_ms,
                .timeout_ms = o->interval_ms / 4,
                .max_probes_per_s = 1000000, /* the cap is not what is measured */
                .phase_key = 1,
        };
        _cleanup_(nd_prober_freep) struct nd_prober *p = NULL;
        struct cost c = {};
        double cpu0, wall0;
        int r;

        r = nd_prober_new(&po, &p);
        if (r < 0)
                return bench_error(r, "Failed to make the prober: %m");
        r = nd_prober_set_targets(p, t, o->links);
        if (r < 0)
                return bench_error(r, "Failed to set the targets: %m");
        cpu0 = thread_cpu_s();
        wall0 = monotonic_s();
        for (unsigned round = 0; round < o->rounds && !bench_interrupted; round++) {
                _cleanup_free_ struct nd_probe_result *res = NULL;
                size_t n = 0;

                r = nd_prober_run_round(p, &res, &n);
                if (r < 0)
                        return bench_error(r, "Round failed: %m");
                for (size_t i = 0; i < n; i++) {
                        c.sent += res[i].sent;
                        c.lost += res[i].lost;
                        c.refused += res[i].refused;
                }
        }
        c.cpu_s = thread_cpu_s() - cpu0;
        c.wall_s = monotonic_s() - wall0;
        if (bench_interrupted)
                return -EINTR;
        *ret = c;
        return 0;
}

/* fping: the same echoes to the same addresses, paced as the prober's. */
static int run_fping(const struct bench_options *o, char addrs[][INET_ADDRSTRLEN], struct cost *ret)
{
        char count[16], period[16];
        const char *argv[8 + MAX_LINKS] = { "fping", "-q", "-C", count, "-p", period, "-i", "1" };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        double start = monotonic_s();
        struct rusage ru;
        int status, r;
        pid_t pid;

        if (devnull < 0)
                return -errno;
        snprintf(count, sizeof(count), "%u", o->rounds * PROBES_PER_ROUND);
        snprintf(period, sizeof(period), "%u", o->interval_ms / PROBES_PER_ROUND < 10 ? 10 : o->interval_ms / PROBES_PER_ROUND);
        for (unsigned i = 0; i < o->links; i++)
                argv[8 + i] = addrs[i];
        /* -C prints its per-target summary on stderr. */
        r = spawn(argv, devnull, devnull, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start fping: %m (apt-get install fping)");
        r = reap(pid, start + FPING_TIMEOUT_S, &bench_interrupted, &status, &ru);
        if (r < 0)
                return bench_error(r, "fping: %m");
        if (!exited_ok(status))
                return bench_error(-EPROTO, "fping failed (status %d): not every address answered, or no fping", status);
        *ret = (struct cost){ .sent = o->links * o->rounds * PROBES_PER_ROUND,
                              .cpu_s = cpu_seconds(&ru),
                              .wall_s = monotonic_s() - start };
        return 0;
}

static int parse_args(int argc, char **argv, struct bench_options *o)
{
        for (int i = 1; i < argc; i++) {
                unsigned *v = NULL;
                long long max = 0;

                if (strcmp(argv[i], "--links") == 0)
                        v = &o->links, max = MAX_LINKS;
                else if (strcmp(argv[i], "--rounds") == 0)
                        v = &o->rounds, max = 100;
                else if (strcmp(argv[i], "--interval-ms") == 0)
                        v = &o->interval_ms, max = 1000;
                if (!v || i + 1 >= argc || bench_parse_uint(argv[++i], 1, max, v) < 0) {
                        bool help = strcmp(argv[i], "--help") == 0;

                        fprintf(help ? stdout : stderr,
                                "Usage: probe-bench [--links N<=%d] [--rounds R<=100] [--interval-ms I<=1000]\n",
                                MAX_LINKS);
                        return help ? 1 : -EINVAL;
                }
        }
        if (o->interval_ms < 50) {
                fprintf(stderr, "probe-bench: --interval-ms must be at least 50\n");
                return -EINVAL;
        }
        return 0;
}

static void print_cost(const char *what, const struct cost *c)
{
        printf("%-28s %6u probes (%u lost, %u refused) in %.2f s: CPU %.2f ms, %.2f µs/probe\n", what, c->sent,
               c->lost, c->refused, c->wall_s, c->cpu_s * 1e3, per_probe_us(c));
}

/* The share of one core at AGENT_LINKS links x 5 probes every 30 s. */
static double core_fraction(const struct cost *c)
{
        return per_probe_us(c) * 1e-6 * AGENT_LINKS * PROBES_PER_ROUND / AGENT_INTERVAL_S;
}

int main(int argc, char **argv)
{
        struct bench_options o = { .links = AGENT_LINKS, .rounds = 25, .interval_ms = 200 };
        struct nd_probe_target icmp[MAX_LINKS], tcp[MAX_LINKS];
        char addrs[MAX_LINKS][INET_ADDRSTRLEN];
        int listeners[MAX_LINKS];
        struct cost c_icmp, c_tcp, c_fping;
        char ping_range[64] = "?";
        FILE *f;
        bool netns;
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();
        netns = getuid() == 0 && hold_enter_fresh_netns() == 0;
        f = fopen("/proc/sys/net/ipv4/ping_group_range", "re");
        if (f) {
                if (fgets(ping_range, sizeof(ping_range), f))
                        ping_range[strcspn(ping_range, "\n")] = 0;
                fclose(f);
        }
        printf("probe-bench: %u links, %d probes a round, %u rounds of %u ms, %s\n", o.links, PROBES_PER_ROUND,
               o.rounds, o.interval_ms, netns ? "in a network namespace of its own" : "on the host's loopback");
        printf("ping_group_range %s (%s ICMP sockets for a root prober)\n", ping_range,
               strcmp(ping_range, "1\t0") == 0 ? "raw, as fping's," : "ping or raw");
        print_load("before");

        for (unsigned i = 0; i < o.links; i++) {
                struct sockaddr_in sin;
                socklen_t len = sizeof(sin);

                snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.%hhu", (unsigned char)(i + 1));
                icmp[i] = (struct nd_probe_target){ .kind = ND_PROBE_ICMP };
                if (nd_addr_parse(addrs[i], &icmp[i].addr) < 0)
                        return EXIT_FAILURE;
                /* Never accepted: the backlog holds rounds x 5 connections. */
                listeners[i] = loopback_listen(0, 0);
                if (listeners[i] < 0 || getsockname(listeners[i], (struct sockaddr *)&sin, &len) < 0)
                        return bench_error(listeners[i] < 0 ? listeners[i] : -errno, "Failed to listen: %m"), EXIT_FAILURE;
                tcp[i] = (struct nd_probe_target){ .kind = ND_PROBE_TCP, .port = ntohs(sin.sin_port) };
                nd_addr_parse("127.0.0.1", &tcp[i].addr);
        }

        r = run_prober(&o, icmp, &c_icmp);
        if (r >= 0)
                r = run_prober(&o, tcp, &c_tcp);
        if (r >= 0)
                r = run_fping(&o, addrs, &c_fping);
        for (unsigned i = 0; i < o.links; i++)
                close(listeners[i]);
        if (r < 0)
                return EXIT_FAILURE;

        printf("\n");
        print_cost("netdep prober, ICMP echo:", &c_icmp);
        print_cost("netdep prober, TCP connect:", &c_tcp);
        print_cost("fping, ICMP echo:", &c_fping);
        if (per_probe_us(&c_fping) > 0)
                printf("CPU per ICMP probe, netdep / fping: %.2f\n", per_probe_us(&c_icmp) / per_probe_us(&c_fping));
        printf("\nAt %d links x %d probes every %.0f s: ICMP %.5f%%, TCP %.5f%% of a core (fping %.5f%%)\n",
               AGENT_LINKS, PROBES_PER_ROUND, AGENT_INTERVAL_S, core_fraction(&c_icmp) * 100,
               core_fraction(&c_tcp) * 100, core_fraction(&c_fping) * 100);
        r = core_fraction(&c_icmp) <= TARGET_CORE_FRACTION && core_fraction(&c_tcp) <= TARGET_CORE_FRACTION;
        printf("Target ≤ 0.1%% of a core: %s\n", r ? "met" : "MISSED");
        print_load("after");
        return r ? EXIT_SUCCESS : 3;
}
