/* conn-rate-bench: how many short connections a second the eBPF collector
 * follows without losing an event, and what `netdep agent` costs in CPU
 * while it follows them, next to the polling-only agent.
 *
 *   conn-rate-bench [--rates LIST] [--step S] [--max-rounds N]
 *                   [--agent-rates LIST] [--agent-duration S]
 *                   [--agent-modes LIST] [--no-agent] [--clients N]
 *                   [--servers N] [--reset] [--ring-bytes N] [--drain-ms MS]
 *                   [--no-bpf-stats] [--netdep PATH] [--keep]
 *
 * Everything runs in network namespaces of the bench's own, lo only. The
 * load (conn-load.h): server processes accept on 127.0.0.1:7000 and close
 * at once; client processes connect from 127.0.0.2-9 and close, paced to
 * the asked rate, each run bounded in count (rate x step) and in time
 * (1.5 x step + 2 s). Each connection gives the collector four events:
 * connect, accept, and a close on each side.
 *
 * 1. Ladder. The collector (nd_tcp_events_open(), default options: the
 *    agent's 1 MiB ring buffer, this namespace) is opened in the bench, and
 *    the main thread reads it while the clients run, at most every 20 ms
 *    (--drain-ms) as the agent does. For each rate of --rates (1k, 2k, 5k,
 *    10k, 15k, 20k, 30k, 50k), one step of --step seconds (5); after the clients
 *    end, the bench waits until every connection was accepted and its four
 *    events came, or 3 s without a new one. A step is *sustained* when the
 *    clients reached 95% of the rate, no connect failed and every event
 *    arrived: lost (ring buffer full), untracked (table full) and skipped
 *    (the kernel skipped the BPF program: it was already running on that
 *    CPU, see bpf-stats.h; the collector's own count) all 0. The highest
 *    such step, with every step below it sustained too, is the lossless
 *    rate; the summary gives the runs skipped per connection at each step.
 *    The ladder stops when the clients cannot reach the rate.
 * 2. Ceiling. --max-rounds (3) rounds of an unpaced step, interleaved:
 *    without any collector (the peer: what the generator does alone) and
 *    with the collector open and read; medians of the rate and of the CPU
 *    per connection (clients + servers + ksoftirqd + the bench's reader).
 * 3. Agent. For each rate of --agent-rates (1k, 10k), --agent-duration
 *    seconds (20) of load under `netdep agent --store sqlite:… --interval 1s
 *    --flush-interval 10s --keep-loopback -v --mode M`, for each M of
 *    --agent-modes (polling, streaming, hybrid) when `netdep agent --help`
 *    lists --mode; otherwise once, as built, and the bench says so.
 *    Each run in a fresh network namespace (no TIME_WAIT sockets left
 *    by the runs before it). CPU is /proc/PID/stat utime + stime over the
 *    load (after a 3 s settle: BPF load, first snapshot), and wait4 over
 *    the whole run; the agent's BPF program's time and skipped runs from the
 *    kernel's statistics; its own eBPF totals (opened, closed) from its log,
 *    checked against 2 opens and 2 closes per connection made. Before it
 *    stops the agent, the bench waits (at most 5 s) until none of the
 *    load's connections is still on its way to CLOSE, so every close has
 *    fired.
 *
 * CPU is in % of one core. The BPF program's time is charged by the kernel
 * to the clients, servers and softirqs that fire it, never to the
 * collector's process: the bench reads it from the kernel's run-time
 * statistics (BPF_ENABLE_STATS, on for the bench's life; --no-bpf-stats to
 * measure without their two clock reads per run).
 *
 * Target: zero lost and zero skipped events at every ladder step up
 * to 10,000 connections a second, and every connection seen by the eBPF
 * agent modes at the agent rates up to 10,000.
 *
 * Run as root, from the top of the tree:
 *
 *   ninja -C build && build/bench/conn-rate-bench
 *
 * Exit status: 0 measured and the target met, 1 the bench failed, 2 usage
 * error, 3 measured but the target was missed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "bpf-stats.h"
#include "collect/sockdiag.h"
#include "collect/tcp_events.h"
#include "conn-load.h"
#include "hold.h"
#include "run-command.h"
#include "shared/cleanup.h"
#include "shared/log.h"

#ifndef NETDEP_PATH
#define NETDEP_PATH "netdep"
#endif

#define PORT 7000
#define MAX_RATES 16
#define MAX_RATE 1000000
#define TARGET_RATE 10000
#define SUSTAINED_SHARE 0.95 /* of the asked rate */
#define EVENTS_PER_CONNECTION 4
#define DRAIN_QUIET_S 3.0 /* no new event or accept for this long: the rest is lost */
#define UNPACED_COUNT 10000000 /* bounds an unpaced step by count too */
#define AGENT_SETTLE_S 3
#define STOP_TIMEOUT_S 30
#define CLOSE_WAIT_MAX_S 5.0
#define COMMAND_TIMEOUT_S 60
#define BPF_PROG_NAME "nd_inet_sock_se" /* nd_inet_sock_set_state, as the kernel cuts it */

struct rate_list {
        unsigned v[MAX_RATES];
        size_t n;
};

struct bench_options {
        struct rate_list rates, agent_rates;
        unsigned step_s, max_rounds, agent_s, clients, servers;
        unsigned ring_bytes;
        bool reset, no_agent, keep, no_bpf_stats;
        unsigned drain_ms;
        const char *netdep;
        const char *agent_modes[AGENT_MODES_MAX];
        size_t n_agent_modes;
};

/* ---- the in-process collector ---- */

struct tally {
        uint64_t kind[ND_TCP_EVENT_KIND_MAX + 1];
};

struct collector {
        struct nd_tcp_events *events;
        struct tally tally;
};

static int on_event(const struct nd_tcp_event *ev, void *userdata)
{
        struct tally *t = userdata;

        if ((unsigned)ev->kind <= ND_TCP_EVENT_KIND_MAX)
                t->kind[ev->kind]++;
        return 0;
}

static int collector_consume(void *userdata)
{
        struct collector *c = userdata;
        int r = nd_tcp_events_consume(c->events, on_event, &c->tally);

        return r < 0 ? r : 0;
}

static int collector_open(const struct bench_options *o, struct collector *c)
{
        struct nd_tcp_events_options eo = { .ring_bytes = o->ring_bytes };
        char why[256] = "";
        int r;

        *c = (struct collector){};
        r = nd_tcp_events_open(&eo, &c->events, why, sizeof(why));
        if (r < 0)
                return bench_error(r, "eBPF unavailable: %s", why);
        return 0;
}

static void collector_close(struct collector *c)
{
        c->events = nd_tcp_events_free(c->events);
}

/* ---- one step of load ---- */

static double thread_cpu_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct step {
        double asked; /* 0: unpaced */
        bool with_collector;
        struct conn_load_result load;
        uint64_t accepted;
        struct tally events;
        struct nd_tcp_events_stats stats; /* lost, untracked, malformed, skipped: during the step */
        double consumer_cpu_s, server_cpu_s, softirqd_cpu_s;
        struct bpf_run_stats bpf;
        bool complete; /* every accept and every event came */
};

static double step_rate(const struct step *s)
{
        return s->load.seconds > 0 ? (double)s->load.made / s->load.seconds : 0;
}

static bool step_clean(const struct step *s)
{
        return s->complete && s->load.failed == 0 && s->stats.lost == 0 && s->stats.untracked == 0 &&
               s->stats.malformed == 0 && s->stats.skipped == 0;
}

static bool step_sustained(const struct step *s)
{
        return step_clean(s) && (s->asked == 0 || step_rate(s) >= SUSTAINED_SHARE * s->asked);
}

static bool events_complete(const struct step *s, const struct tally *now, const struct tally *before)
{
        uint64_t n = s->load.made;

        if (!s->with_collector)
                return true;
        return now->kind[ND_TCP_EVENT_CONNECT] - before->kind[ND_TCP_EVENT_CONNECT] >= n &&
               now->kind[ND_TCP_EVENT_ACCEPT] - before->kind[ND_TCP_EVENT_ACCEPT] >= n &&
               now->kind[ND_TCP_EVENT_CLOSE] - before->kind[ND_TCP_EVENT_CLOSE] >= 2 * n;
}

/* After the clients: every connection accepted, every event read, or a
 * quiet spell in which nothing more came. */
static int drain(struct conn_load *l, struct collector *c, struct step *s, uint64_t accepted_before,
                 const struct tally *before)
{
        double quiet_since = monotonic_s();
        uint64_t last_seen = UINT64_MAX;

        for (;;) {
                uint64_t accepted = conn_load_accepted(l) - accepted_before, seen = accepted;

                if (c) {
                        /* poll() wakes on the kernel's notification; consume() then
                         * reads whatever is there even without one. */
                        int r = nd_tcp_events_poll(c->events, 50, on_event, &c->tally);
                        if (r >= 0 || r == -EINTR)
                                r = nd_tcp_events_consume(c->events, on_event, &c->tally);
                        if (r < 0 && r != -EINTR)
                                return bench_error(r, "Failed to read the events: %m");
                        for (unsigned k = 0; k <= ND_TCP_EVENT_KIND_MAX; k++)
                                seen += c->tally.kind[k];
                } else
                        poll(NULL, 0, 20);
                if (bench_interrupted)
                        return -EINTR;
                if (accepted >= s->load.made && events_complete(s, c ? &c->tally : before, before)) {
                        s->complete = true;
                        return 0;
                }
                if (seen != last_seen) {
                        last_seen = seen;
                        quiet_since = monotonic_s();
                } else if (monotonic_s() - quiet_since > DRAIN_QUIET_S)
                        return 0;
        }
}

static int run_step(const struct bench_options *o, struct conn_load *l, struct collector *c, double rate,
                    double seconds, struct step *ret)
{
        struct conn_load_spec spec = {
                .rate = rate,
                .count = rate > 0 ? (uint64_t)(rate * seconds + 0.5) : UNPACED_COUNT,
                .max_s = rate > 0 ? seconds * 1.5 + 2 : seconds,
                .clients = o->clients,
                .reset = o->reset,
        };
        struct step s = { .asked = rate, .with_collector = c != NULL };
        struct nd_tcp_events_stats st0 = {}, st1 = {};
        struct bpf_run_stats b0 = {}, b1 = {};
        struct tally before = {};
        uint64_t accepted0 = conn_load_accepted(l), srv0 = conn_load_server_ticks(l), soft0 = ksoftirqd_ticks();
        double cpu0 = thread_cpu_s();
        int r;

        if (c) {
                before = c->tally;
                if (nd_tcp_events_stats(c->events, &st0) < 0 ||
                    bpf_run_stats_of(getpid(), BPF_PROG_NAME, &b0) < 0)
                        return bench_error(-EIO, "Failed to read the collector's counters");
        }
        r = conn_load_run(l, &spec, c ? nd_tcp_events_fd(c->events) : -1, o->drain_ms, collector_consume, c,
                          &bench_interrupted, &s.load);
        if (r >= 0)
                r = drain(l, c, &s, accepted0, &before);
        if (r < 0)
                return r;

        s.accepted = conn_load_accepted(l) - accepted0;
        s.server_cpu_s = ticks_to_seconds(conn_load_server_ticks(l) - srv0);
        s.softirqd_cpu_s = ticks_to_seconds(ksoftirqd_ticks() - soft0);
        s.consumer_cpu_s = thread_cpu_s() - cpu0;
        if (c) {
                if (nd_tcp_events_stats(c->events, &st1) < 0 ||
                    bpf_run_stats_of(getpid(), BPF_PROG_NAME, &b1) < 0)
                        return bench_error(-EIO, "Failed to read the collector's counters");
                for (unsigned k = 0; k <= ND_TCP_EVENT_KIND_MAX; k++)
                        s.events.kind[k] = c->tally.kind[k] - before.kind[k];
                s.stats = (struct nd_tcp_events_stats){ .events = st1.events - st0.events,
                                                        .lost = st1.lost - st0.lost,
                                                        .untracked = st1.untracked - st0.untracked,
                                                        .malformed = st1.malformed - st0.malformed,
                                                        .skipped = st1.skipped - st0.skipped };
                s.bpf = bpf_run_stats_diff(&b1, &b0);
        }
        *ret = s;
        return 0;
}

static double percent(double cpu_s, double wall_s)
{
        return wall_s > 0 ? 100.0 * cpu_s / wall_s : 0;
}

/* Everything the step cost, per connection: clients, servers, the bench's
 * reader (it runs the collector's user side), ksoftirqd. */
static double step_us_per_conn(const struct step *s)
{
        double cpu = s->load.cpu_s + s->server_cpu_s + s->consumer_cpu_s + s->softirqd_cpu_s;

        return s->load.made ? 1e6 * cpu / (double)s->load.made : 0;
}

static void print_step_header(void)
{
        printf("  %8s %8s %8s %9s %9s %5s %5s %7s %9s %6s %6s %8s %8s %9s %8s %8s  %s\n", "asked/s", "made/s",
               "made", "events", "expected", "lost", "untr", "skipped", "skip/conn", "BPF ns", "BPF %", "clients%",
               "server%", "softirqd%", "reader%", "us/conn", "verdict");
}

/* Program runs the kernel skipped (recursion), per connection made. */
static double skipped_per_conn(const struct step *s)
{
        return s->load.made ? (double)s->stats.skipped / (double)s->load.made : 0;
}

static uint64_t step_events(const struct step *s)
{
        return s->events.kind[ND_TCP_EVENT_CONNECT] + s->events.kind[ND_TCP_EVENT_ACCEPT] +
               s->events.kind[ND_TCP_EVENT_CLOSE] + s->events.kind[ND_TCP_EVENT_FAILED];
}

/* One line per step. "BPF ns" is the program's mean run time, "BPF %" its
 * total (already inside the clients', servers' and softirqd's CPU). */
static void print_step(const struct step *s)
{
        char asked[32], events[32] = "-", expected[32] = "-", lost[32] = "-", untracked[32] = "-", skipped[32] = "-",
             per_conn[32] = "-", bpf_ns[32] = "-", bpf_pct[32] = "-";
        const char *verdict = !s->with_collector ? (s->complete && s->load.failed == 0 ? "ok" : "INCOMPLETE")
                              : step_sustained(s) ? "sustained"
                              : step_clean(s)     ? "no loss, rate short"
                              : s->stats.lost > 0 || s->stats.untracked > 0 ? "LOSS"
                              : s->stats.skipped > 0                        ? "SKIPPED"
                                                                            : "MISSING";
        double w = s->load.seconds;

        snprintf(asked, sizeof(asked), s->asked > 0 ? "%.0f" : "max", s->asked);
        if (s->with_collector) {
                snprintf(events, sizeof(events), "%" PRIu64, step_events(s));
                snprintf(expected, sizeof(expected), "%" PRIu64, EVENTS_PER_CONNECTION * s->load.made);
                snprintf(lost, sizeof(lost), "%" PRIu64, s->stats.lost);
                snprintf(untracked, sizeof(untracked), "%" PRIu64, s->stats.untracked);
                snprintf(skipped, sizeof(skipped), "%" PRIu64, s->stats.skipped);
                snprintf(per_conn, sizeof(per_conn), "%.4f", skipped_per_conn(s));
                if (s->bpf.run_cnt > 0) {
                        snprintf(bpf_ns, sizeof(bpf_ns), "%.0f", (double)s->bpf.run_time_ns / (double)s->bpf.run_cnt);
                        snprintf(bpf_pct, sizeof(bpf_pct), "%.2f", percent((double)s->bpf.run_time_ns / 1e9, w));
                }
        }
        printf("  %8s %8.0f %8" PRIu64 " %9s %9s %5s %5s %7s %9s %6s %6s %8.1f %8.1f %9.1f %8.2f %8.1f  %s\n", asked,
               step_rate(s), s->load.made, events, expected, lost, untracked, skipped, per_conn, bpf_ns, bpf_pct,
               percent(s->load.cpu_s, w), percent(s->server_cpu_s, w), percent(s->softirqd_cpu_s, w),
               percent(s->consumer_cpu_s, w), step_us_per_conn(s), verdict);
        if (s->with_collector && !s->complete)
                printf("           by kind: %" PRIu64 " connect, %" PRIu64 " accept, %" PRIu64 " close, %" PRIu64
                       " failed (each connection: 1, 1, 2, 0)\n",
                       s->events.kind[ND_TCP_EVENT_CONNECT], s->events.kind[ND_TCP_EVENT_ACCEPT],
                       s->events.kind[ND_TCP_EVENT_CLOSE], s->events.kind[ND_TCP_EVENT_FAILED]);
        if (s->load.failed > 0)
                printf("           %" PRIu64 " connects failed, the first: %s\n", s->load.failed,
                       strerror(s->load.first_error));
        if (s->accepted != s->load.made)
                printf("           accepted %" PRIu64 " of %" PRIu64 "\n", s->accepted, s->load.made);
        fflush(stdout);
}

/* ---- 1 and 2: ladder and ceiling ---- */

struct ladder_result {
        struct step steps[MAX_RATES];
        size_t n_steps;
        double best_rate; /* highest achieved rate of a sustained step */
        double best_asked;
        double first_loss_asked; /* the first step that lost or skipped events; 0 if none */
        bool target_reached; /* the clients reached a step asked >= TARGET_RATE */
        bool target_failed; /* a step asked <= TARGET_RATE lost or skipped events */
        double ceiling_alone, ceiling_collector; /* medians, conn/s */
        double us_alone, us_collector; /* medians, CPU us per connection */
        bool ceiling_clean;
};

static int run_ladder(const struct bench_options *o, struct conn_load *l, struct ladder_result *res)
{
        _cleanup_(nd_tcp_events_freep) struct nd_tcp_events *keep = NULL;
        struct collector c;
        struct step s = {};
        int r;

        printf("\n== 1. ladder: paced steps of %u s, the collector open in the bench (%s ring buffer)\n", o->step_s,
               o->ring_bytes ? "--ring-bytes" : "default 1 MiB");
        r = collector_open(o, &c);
        if (r < 0)
                return r;
        keep = c.events;
        print_step_header();
        for (size_t i = 0; i < o->rates.n; i++) {
                bool reached;

                r = run_step(o, l, &c, o->rates.v[i], o->step_s, &s);
                if (r < 0)
                        return r;
                print_step(&s);
                res->steps[res->n_steps++] = s;
                reached = step_rate(&s) >= SUSTAINED_SHARE * s.asked;
                if (reached && s.asked >= TARGET_RATE)
                        res->target_reached = true;
                if (step_sustained(&s) && !res->first_loss_asked && step_rate(&s) > res->best_rate) {
                        res->best_rate = step_rate(&s);
                        res->best_asked = s.asked;
                }
                if (!step_clean(&s)) {
                        if (!res->first_loss_asked)
                                res->first_loss_asked = s.asked;
                        if (s.asked <= TARGET_RATE)
                                res->target_failed = true;
                }
                if (!reached) {
                        printf("  the ladder stops here: the clients could not reach %.0f conn/s\n", s.asked);
                        break;
                }
        }
        printf("  BPF: the kernel's run-time statistics of %u program(s) named %s*\n", s.bpf.programs, BPF_PROG_NAME);
        return 0;
}

#define MAX_ROUNDS 20

static int run_ceiling(const struct bench_options *o, struct conn_load *l, struct ladder_result *res)
{
        double alone[MAX_ROUNDS], with[MAX_ROUNDS], us_alone[MAX_ROUNDS], us_with[MAX_ROUNDS];
        int r;

        printf("\n== 2. ceiling: unpaced steps of %u s, %u rounds, without and with the collector, interleaved\n",
               o->step_s, o->max_rounds);
        print_step_header();
        res->ceiling_clean = true;
        for (unsigned round = 0; round < o->max_rounds; round++) {
                for (unsigned j = 0; j < 2; j++) {
                        bool use_collector = (round + j) % 2 == 1; /* alternate which goes first */
                        struct collector c;
                        struct step s;

                        if (use_collector) {
                                r = collector_open(o, &c);
                                if (r < 0)
                                        return r;
                        }
                        r = run_step(o, l, use_collector ? &c : NULL, 0, o->step_s, &s);
                        if (use_collector)
                                collector_close(&c);
                        if (r < 0)
                                return r;
                        print_step(&s);
                        if (use_collector) {
                                with[round] = step_rate(&s);
                                us_with[round] = step_us_per_conn(&s);
                                res->ceiling_clean = res->ceiling_clean && step_clean(&s);
                        } else {
                                alone[round] = step_rate(&s);
                                us_alone[round] = step_us_per_conn(&s);
                        }
                }
        }
        res->ceiling_alone = median(alone, o->max_rounds);
        res->ceiling_collector = median(with, o->max_rounds);
        res->us_alone = median(us_alone, o->max_rounds);
        res->us_collector = median(us_with, o->max_rounds);
        printf("  medians: %.0f conn/s alone, %.0f with the collector (ratio %.3f); CPU per connection %.1f us "
               "alone, %.1f us with it (+%.1f us); the unpaced runs with the collector %s\n",
               res->ceiling_alone, res->ceiling_collector,
               res->ceiling_alone > 0 ? res->ceiling_collector / res->ceiling_alone : 0, res->us_alone,
               res->us_collector, res->us_collector - res->us_alone,
               res->ceiling_clean ? "lost nothing" : "LOST, SKIPPED or MISSING events");
        return 0;
}

/* ---- 3. the agent ---- */

struct agent_run {
        const char *mode; /* NULL: as built, without --mode */
        struct step load;
        double window_s, window_cpu_s; /* over the load */
        double wall_s, cpu_s; /* the whole run, from fork to wait4 */
        long maxrss_kib;
        struct bpf_run_stats bpf; /* its program, over the load */
        bool clean_exit;
        /* From its log: warnings of lost events, and the eBPF totals it
         * prints on exit (-1 when it printed none: polling). */
        unsigned lost_lines;
        long long opened, closed;
        /* Connections of the load not yet closed when the agent was
         * stopped, after waiting up to CLOSE_WAIT_MAX_S: their close
         * events had not fired. */
        uint64_t still_open;
};

/* Whether the agent saw every connection: 2 opens (connect, accept) and 2
 * closes each, no warning of loss. Polling makes no such claim. */
static bool agent_run_complete(const struct agent_run *a)
{
        uint64_t want = 2 * a->load.load.made;

        if (a->opened < 0)
                return a->lost_lines == 0;
        return a->lost_lines == 0 && (uint64_t)a->opened == want && (uint64_t)a->closed == want;
}

/* Prints the agent's log (a handful of lines at -v), counts the warnings
 * of lost events and picks up its eBPF totals. */
static void read_agent_log(const char *path, struct agent_run *a)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[512];

        a->opened = a->closed = -1;
        for (unsigned n = 0; f && fgets(line, sizeof(line), f); n++) {
                const char *totals = strstr(line, "eBPF: ");
                long long opened, failed, closed;

                /* The agent's warning of events lost, connections not
                 * followed or state changes not seen; its mode line may say
                 * "not seen" too, of connections opened before it started. */
                if (strstr(line, "since the last flush; counts of connections opened may be low"))
                        a->lost_lines++;
                if (totals && sscanf(totals, "eBPF: %lld connections opened, %lld failed connects, %lld closed",
                                     &opened, &failed, &closed) == 3) {
                        a->opened = opened;
                        a->closed = closed;
                }
                if (n < 40)
                        printf("    | %s", line);
        }
}

static int run_agent(const struct bench_options *o, struct conn_load *l, const char *dir, unsigned index,
                     const char *mode, unsigned rate, struct agent_run *res)
{
        struct agent_files files;
        const char *argv[] = { o->netdep, "agent", "--store", files.uri, "--interval", "1s", "--flush-interval",
                               "10s", "--keep-loopback", "-v", mode ? "--mode" : NULL, mode, NULL };
        _cleanup_close_ int log_fd = -EBADF, devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        char name[32];
        struct proc_sample p0, p1;
        struct bpf_run_stats b0 = {}, b1 = {};
        double start, t0, t1, stop;
        struct rusage ru;
        int status, r, reaped;
        pid_t pid;

        *res = (struct agent_run){ .mode = mode };
        if (devnull < 0)
                return -errno;
        snprintf(name, sizeof(name), "agent-%u", index);
        log_fd = agent_files_make(o->netdep, dir, name, &bench_interrupted, &files);
        if (log_fd < 0)
                return log_fd;
        /* A fresh namespace: the TIME_WAIT sockets of earlier runs (up to
         * 131,072 here) would weigh on the polling scans. */
        conn_load_close(l);
        r = hold_enter_fresh_netns();
        if (r >= 0)
                r = conn_load_open(l, PORT, o->servers);
        if (r < 0)
                return r;

        printf("\n  -- %s, %u conn/s for %u s: netdep agent --interval 1s --flush-interval 10s --keep-loopback%s%s\n",
               mode ? mode : "as built", rate, o->agent_s, mode ? " --mode " : "", mode ? mode : "");
        fflush(stdout);
        start = monotonic_s();
        r = spawn(argv, devnull, log_fd, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start the agent: %m");

        r = sleep_until(start + AGENT_SETTLE_S, &bench_interrupted);
        if (r == 0 && sample_proc(pid, &p0) < 0)
                r = bench_error(-ESRCH, "The agent exited early; see its log below");
        if (r == 0)
                r = bpf_run_stats_of(pid, BPF_PROG_NAME, &b0);
        t0 = monotonic_s();
        if (r == 0)
                r = run_step(o, l, NULL, rate, o->agent_s, &res->load);
        t1 = monotonic_s();
        if (r == 0 && sample_proc(pid, &p1) < 0)
                r = bench_error(-ESRCH, "The agent exited during the load; see its log below");
        if (r == 0)
                r = bpf_run_stats_of(pid, BPF_PROG_NAME, &b1);
        if (r == 0)
                res->still_open = conn_load_wait_closed(CLOSE_WAIT_MAX_S);

        kill(pid, SIGTERM);
        stop = monotonic_s();
        reaped = reap(pid, stop + STOP_TIMEOUT_S, &bench_interrupted, &status, &ru);
        read_agent_log(files.log_path, res);
        if (r < 0)
                return r;
        if (reaped == -ETIMEDOUT)
                return bench_error(reaped, "The agent did not exit within %d s of SIGTERM", STOP_TIMEOUT_S);
        if (reaped < 0)
                return reaped;
        res->window_s = t1 - t0;
        res->window_cpu_s = ticks_to_seconds(p1.cpu_ticks - p0.cpu_ticks);
        res->wall_s = monotonic_s() - start;
        res->cpu_s = cpu_seconds(&ru);
        res->maxrss_kib = ru.ru_maxrss;
        res->clean_exit = exited_ok(status);
        res->bpf = bpf_run_stats_diff(&b1, &b0);
        printf("  load: %.0f conn/s made (%" PRIu64 " connections, %" PRIu64 " failed), all accepted: %s\n",
               step_rate(&res->load), res->load.load.made, res->load.load.failed,
               res->load.complete ? "yes" : "NO");
        printf("  agent: %.2f%% of one core over the load, %.2f%% over its whole run (%.1f s, from fork to wait4), "
               "peak RSS %.1f MiB, %s\n",
               percent(res->window_cpu_s, res->window_s), percent(res->cpu_s, res->wall_s), res->wall_s,
               mib(res->maxrss_kib), res->clean_exit ? "exit status 0" : "FAILED (see its log)");
        if (res->opened >= 0)
                printf("  its eBPF totals: %lld opened, %lld closed, of %" PRIu64 " each expected: %s%s\n",
                       res->opened, res->closed, 2 * res->load.load.made,
                       agent_run_complete(res) ? "all seen" : "SOME MISSING",
                       res->still_open ? " (connections still open at stop: see below)" : "");
        if (res->still_open)
                printf("  %" PRIu64 " connections were still closing %.0f s after the load, when the agent was "
                       "stopped\n",
                       res->still_open, CLOSE_WAIT_MAX_S);
        if (res->bpf.programs > 0)
                printf("  its BPF program: %" PRIu64 " runs, %.0f ns a run, %.2f%% of one core, %" PRIu64
                       " runs skipped (recursion)\n",
                       res->bpf.run_cnt, res->bpf.run_cnt ? (double)res->bpf.run_time_ns / (double)res->bpf.run_cnt : 0,
                       percent((double)res->bpf.run_time_ns / 1e9, res->window_s), res->bpf.recursion_misses);
        fflush(stdout);
        return 0;
}

#define MAX_AGENT_RUNS (AGENT_MODES_MAX * MAX_RATES)

struct agent_result {
        struct agent_run runs[MAX_AGENT_RUNS];
        size_t n, n_modes;
        bool has_mode;
        bool streaming_missed; /* an eBPF mode missed connections at a rate <= TARGET_RATE */
};

static int run_agents(const struct bench_options *o, struct conn_load *l, const char *dir, struct agent_result *res)
{
        const char *agent_help[] = { o->netdep, "agent", "--help", NULL };
        const char *as_built[] = { NULL };
        const char *const *modes;
        int r;

        r = command_output_contains(agent_help, "--mode", COMMAND_TIMEOUT_S, &bench_interrupted, &res->has_mode);
        if (r < 0)
                return r;
        modes = res->has_mode ? o->agent_modes : as_built;
        res->n_modes = res->has_mode ? o->n_agent_modes : 1;
        printf("\n== 3. netdep agent under load, %u s per run\n", o->agent_s);
        if (!res->has_mode)
                printf("  this netdep's agent has no --mode: one run per rate, as built\n");
        for (size_t i = 0; i < o->agent_rates.n; i++)
                for (size_t m = 0; m < res->n_modes; m++) {
                        struct agent_run *run = &res->runs[res->n];

                        r = run_agent(o, l, dir, (unsigned)res->n, modes[m], o->agent_rates.v[i], run);
                        if (r < 0)
                                return r;
                        res->n++;
                        if (!agent_run_complete(run) && o->agent_rates.v[i] <= TARGET_RATE)
                                res->streaming_missed = true;
                }
        return 0;
}

/* The agent's own CPU over the load, and with its BPF program's (which the
 * kernel charges to the processes and softirqs that fire it). */
static double agent_cpu_percent(const struct agent_run *a)
{
        return percent(a->window_cpu_s, a->window_s);
}

static double agent_total_percent(const struct agent_run *a)
{
        return percent(a->window_cpu_s + (double)a->bpf.run_time_ns / 1e9, a->window_s);
}

static void print_agent_summary(const struct agent_result *res)
{
        printf("\n  %8s %8s %-10s %10s %10s %12s %10s %10s %9s %5s\n", "asked/s", "made/s", "mode", "agent %",
               "BPF %", "agent+BPF %", "whole run", "BPF skipped", "peak RSS", "seen");
        for (size_t i = 0; i < res->n; i++) {
                const struct agent_run *a = &res->runs[i];

                printf("  %8.0f %8.0f %-10s %10.2f %10.2f %12.2f %10.2f %11" PRIu64 " %5.1f MiB %5s\n",
                       a->load.asked, step_rate(&a->load), a->mode ? a->mode : "as built", agent_cpu_percent(a),
                       percent((double)a->bpf.run_time_ns / 1e9, a->window_s), agent_total_percent(a),
                       percent(a->cpu_s, a->wall_s), a->bpf.recursion_misses, mib(a->maxrss_kib),
                       a->opened < 0 ? "-" : agent_run_complete(a) ? "all" : "NO");
        }
        printf("  (%% of one core over the load; \"whole run\": the agent's wait4 CPU from fork to exit, BPF "
               "load and final flush included)\n");
        /* Each mode against polling at the same rate: runs come in groups of n_modes, polling first. */
        for (size_t i = 0; res->has_mode && i + res->n_modes <= res->n; i += res->n_modes) {
                const struct agent_run *p = &res->runs[i];

                if (!p->mode || strcmp(p->mode, "polling") != 0)
                        continue;
                for (size_t m = 1; m < res->n_modes; m++) {
                        const struct agent_run *a = &res->runs[i + m];
                        double cp = agent_cpu_percent(p);

                        printf("  at %.0f conn/s, %s / polling: agent CPU %.2f, agent+BPF %.2f\n", p->load.asked,
                               a->mode, cp > 0 ? agent_cpu_percent(a) / cp : 0,
                               cp > 0 ? agent_total_percent(a) / cp : 0);
                }
        }
}

/* ---- options ---- */

static void help(FILE *out)
{
        fprintf(out,
                "Usage: conn-rate-bench [OPTIONS]\n"
                "\n"
                "Short loopback connections at rising rates, read by the eBPF collector:\n"
                "the highest rate with zero lost and zero skipped events, the generator's\n"
                "ceiling with and without it, and netdep agent's CPU (polling, streaming,\n"
                "hybrid) at 1k and 10k conn/s.\n"
                "Needs root.\n"
                "\n"
                "Options:\n"
                "      --rates LIST          ladder rates, conn/s (default 1000,2000,5000,10000,15000,20000,30000,50000)\n"
                "      --step S              seconds per step (default 5)\n"
                "      --max-rounds N        unpaced rounds each way, 0 to skip (default 3)\n"
                "      --agent-rates LIST    (default 1000,10000)\n"
                "      --agent-duration S    seconds of load per agent run (default 20)\n"
                "      --agent-modes LIST    --mode values, polling first (default polling,streaming,hybrid)\n"
                "      --no-agent            skip the agent runs\n"
                "      --clients N           client processes (default 2)\n"
                "      --servers N           server processes (default 1)\n"
                "      --reset               close with RST (SO_LINGER 0), not FIN\n"
                "      --ring-bytes N        the bench's collector ring buffer (default 1 MiB, the agent's)\n"
                "      --drain-ms MS         read the bench's collector at most every MS ms, as the\n"
                "                            agent does (default 20; 0: at every wake-up)\n"
                "      --netdep PATH         the netdep to run (default %s)\n"
                "      --keep                keep the stores and the agents' logs, and say where\n"
                "      --no-bpf-stats        leave the kernel's BPF run-time statistics off (they\n"
                "                            add two clock reads to every program run)\n"
                "  -h, --help                this help\n",
                NETDEP_PATH);
}

static int parse_rates(const char *s, struct rate_list *ret)
{
        char buf[256], *save = NULL;
        struct rate_list l = {};

        if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
                return -EINVAL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                if (l.n == MAX_RATES || bench_parse_uint(tok, 100, MAX_RATE, &l.v[l.n]) < 0)
                        return -EINVAL;
                l.n++;
        }
        if (l.n == 0)
                return -EINVAL;
        *ret = l;
        return 0;
}

/* Returns 0 to go on, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct bench_options *o)
{
        enum {
                OPT_RATES = 0x100,
                OPT_STEP,
                OPT_MAX_ROUNDS,
                OPT_AGENT_RATES,
                OPT_AGENT_DURATION,
                OPT_AGENT_MODES,
                OPT_DRAIN_MS,
                OPT_NO_AGENT,
                OPT_CLIENTS,
                OPT_SERVERS,
                OPT_RESET,
                OPT_RING_BYTES,
                OPT_NETDEP,
                OPT_KEEP,
                OPT_NO_BPF_STATS,
        };
        static const struct option options[] = {
                { "rates", required_argument, NULL, OPT_RATES },
                { "step", required_argument, NULL, OPT_STEP },
                { "max-rounds", required_argument, NULL, OPT_MAX_ROUNDS },
                { "agent-rates", required_argument, NULL, OPT_AGENT_RATES },
                { "agent-duration", required_argument, NULL, OPT_AGENT_DURATION },
                { "agent-modes", required_argument, NULL, OPT_AGENT_MODES },
                { "drain-ms", required_argument, NULL, OPT_DRAIN_MS },
                { "no-agent", no_argument, NULL, OPT_NO_AGENT },
                { "clients", required_argument, NULL, OPT_CLIENTS },
                { "servers", required_argument, NULL, OPT_SERVERS },
                { "reset", no_argument, NULL, OPT_RESET },
                { "ring-bytes", required_argument, NULL, OPT_RING_BYTES },
                { "netdep", required_argument, NULL, OPT_NETDEP },
                { "keep", no_argument, NULL, OPT_KEEP },
                { "no-bpf-stats", no_argument, NULL, OPT_NO_BPF_STATS },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c, index = 0, r = 0;

        while ((c = getopt_long(argc, argv, "h", options, &index)) != -1) {
                switch (c) {
                case 'h':
                        help(stdout);
                        return 1;
                case OPT_RATES:
                        r = parse_rates(optarg, &o->rates);
                        break;
                case OPT_STEP:
                        r = bench_parse_uint(optarg, 1, 600, &o->step_s);
                        break;
                case OPT_MAX_ROUNDS:
                        r = bench_parse_uint(optarg, 0, MAX_ROUNDS, &o->max_rounds);
                        break;
                case OPT_AGENT_RATES:
                        r = parse_rates(optarg, &o->agent_rates);
                        break;
                case OPT_AGENT_DURATION:
                        r = bench_parse_uint(optarg, 1, 3600, &o->agent_s);
                        break;
                case OPT_AGENT_MODES:
                        r = parse_agent_modes(optarg, o->agent_modes, &o->n_agent_modes);
                        break;
                case OPT_DRAIN_MS:
                        r = bench_parse_uint(optarg, 0, 1000, &o->drain_ms);
                        break;
                case OPT_NO_AGENT:
                        o->no_agent = true;
                        break;
                case OPT_CLIENTS:
                        r = bench_parse_uint(optarg, 1, CONN_LOAD_MAX_PROCESSES, &o->clients);
                        break;
                case OPT_SERVERS:
                        r = bench_parse_uint(optarg, 1, CONN_LOAD_MAX_PROCESSES, &o->servers);
                        break;
                case OPT_RESET:
                        o->reset = true;
                        break;
                case OPT_RING_BYTES:
                        r = bench_parse_uint(optarg, 4096, 1u << 30, &o->ring_bytes);
                        break;
                case OPT_NETDEP:
                        o->netdep = optarg;
                        break;
                case OPT_KEEP:
                        o->keep = true;
                        break;
                case OPT_NO_BPF_STATS:
                        o->no_bpf_stats = true;
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

/* ---- the run ---- */

static const char *verdict(bool pass)
{
        return pass ? "PASS" : "FAIL";
}

/* Returns 0 when the target was met, 1 when it was missed, or -errno. */
static int run(const struct bench_options *o, const char *dir)
{
        struct ladder_result ladder = {};
        struct agent_result agents = {};
        struct conn_load l = CONN_LOAD_INIT;
        _cleanup_close_ int stats_fd = -EBADF;
        bool pass;
        int r;

        r = hold_enter_fresh_netns();
        if (r < 0)
                return r;
        if (!o->no_bpf_stats) {
                stats_fd = bpf_run_stats_enable();
                if (stats_fd < 0)
                        return bench_error(stats_fd, "Failed to switch on BPF run-time statistics: %m");
        }
        r = conn_load_open(&l, PORT, o->servers);
        if (r < 0)
                goto finish;
        printf("load: %u client process(es) connecting from 127.0.0.2-%u, %u server process(es) on 127.0.0.1:%d, "
               "close by %s, in a fresh network namespace\n",
               o->clients, 1 + LOOPBACK_SOURCES, o->servers, PORT, o->reset ? "RST (SO_LINGER 0)" : "FIN");

        r = run_ladder(o, &l, &ladder);
        if (r >= 0 && o->max_rounds > 0)
                r = run_ceiling(o, &l, &ladder);
        if (r >= 0 && !o->no_agent)
                r = run_agents(o, &l, dir, &agents);
        if (r < 0)
                goto finish;

        printf("\n== summary\n");
        if (ladder.best_asked > 0)
                printf("  lossless rate: the highest step with zero lost and zero skipped events, every step "
                       "below it too (collector in the bench): %.0f conn/s (made %.0f/s)\n",
                       ladder.best_asked, ladder.best_rate);
        else
                printf("  no step was sustained with zero lost and zero skipped events\n");
        if (ladder.first_loss_asked > 0)
                printf("  first step that lost or skipped events: %.0f conn/s\n", ladder.first_loss_asked);
        printf("  program runs skipped (recursion) per connection, by step:");
        for (size_t i = 0; i < ladder.n_steps; i++)
                printf("%s %.0f: %.4f (%" PRIu64 ")", i ? "," : "", ladder.steps[i].asked,
                       skipped_per_conn(&ladder.steps[i]), ladder.steps[i].stats.skipped);
        printf("\n");
        for (size_t i = 0; i < ladder.n_steps; i++) {
                const struct step *s = &ladder.steps[i];

                if (!s->complete && s->stats.lost == 0 && s->stats.untracked == 0 && s->stats.skipped == 0 &&
                    step_events(s) < EVENTS_PER_CONNECTION * s->load.made)
                        printf("  MISSING at %.0f conn/s: %" PRIu64 " of %" PRIu64 " events never came, with lost, "
                               "untracked and skipped all 0\n",
                               s->asked, EVENTS_PER_CONNECTION * s->load.made - step_events(s),
                               EVENTS_PER_CONNECTION * s->load.made);
        }
        if (o->max_rounds > 0)
                printf("  the generator's ceiling: %.0f conn/s alone, %.0f with the collector (ratio %.3f, %s); "
                       "CPU per connection %.1f us alone, %.1f us with it\n",
                       ladder.ceiling_alone, ladder.ceiling_collector,
                       ladder.ceiling_alone > 0 ? ladder.ceiling_collector / ladder.ceiling_alone : 0,
                       ladder.ceiling_clean ? "no loss" : "with loss", ladder.us_alone, ladder.us_collector);
        if (!o->no_agent)
                print_agent_summary(&agents);

        pass = !ladder.target_failed && !agents.streaming_missed;
        printf("\n  target: every step up to %d conn/s with zero lost and zero skipped events: %s%s\n", TARGET_RATE, verdict(pass),
               ladder.target_reached ? ""
                                     : " (but the generator did not reach it: see the ladder)");
        r = pass ? 0 : 1;
finish:
        conn_load_close(&l);
        if (r == -EINTR)
                bench_error(r, "Interrupted by signal %d; children stopped", (int)bench_interrupted);
        return r;
}

int main(int argc, char **argv)
{
        struct bench_options o = {
                .rates = { .v = { 1000, 2000, 5000, 10000, 15000, 20000, 30000, 50000 }, .n = 8 },
                .agent_rates = { .v = { 1000, 10000 }, .n = 2 },
                .step_s = 5,
                .max_rounds = 3,
                .agent_s = 20,
                .clients = 2,
                .servers = 1,
                .netdep = NETDEP_PATH,
                .agent_modes = { "polling", "streaming", "hybrid" },
                .n_agent_modes = 3,
                .drain_ms = 20,
        };
        char dir[] = "/tmp/conn-rate-bench.XXXXXX";
        int r;

        r = parse_args(argc, argv, &o);
        if (r != 0)
                return r > 0 ? EXIT_SUCCESS : 2;
        bench_catch_signals();
        log_set_max_level(LOG_LEVEL_WARNING);

        if (!mkdtemp(dir)) {
                bench_error(-errno, "Failed to make a temporary directory: %m");
                return EXIT_FAILURE;
        }
        printf("conn-rate-bench: %ld CPUs online, netdep %s\n", sysconf(_SC_NPROCESSORS_ONLN), o.netdep);
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
