/* netdep trace: this host's TCP connections as they open and close, live,
 * from eBPF (like tcplife and tcpconnect together). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trace-print.h"
#include "collect/tcp_events.h"
#include "shared/cleanup.h"
#include "shared/log.h"
#include "shared/parse.h"

struct trace_args {
        struct nd_tcp_events_options events;
        struct trace_print_options print;
};

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep trace [OPTIONS]\n"
                "\n"
                "Every TCP connection as it happens, even those that live a millisecond:\n"
                "connect (active open), accept (passive open), close (with duration and\n"
                "bytes), failed connects (refused, timed out, unreachable) and listening\n"
                "sockets opening and closing. Runs until SIGINT or SIGTERM. Needs eBPF\n"
                "(root, a kernel with BTF); NETDEP_BPF=off switches it off.\n"
                "\n"
                "Options:\n"
                "      --json              one JSON object per line and event (docs/bpf.md)\n"
                "      --all-netns         every network namespace (default: netdep's own)\n"
                "      --pid=PID           only events of this process\n"
                "      --port=PORT         only events with this local or peer port\n"
                "      --ring-bytes=N      kernel ring buffer size (default %u; rounded up\n"
                "                          to a power of two)\n"
                "      --max-sockets=N     connections followed at once (default %u)\n"
                "  -v, --verbose           more log output (-vv: libbpf's own)\n"
                "  -q, --quiet             only errors\n"
                "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 stopped by a signal, 1 eBPF unavailable or tracing failed,\n"
                "2 usage error. Events the kernel had to drop are counted on stderr.\n",
                ND_TCP_EVENTS_RING_BYTES_DEFAULT, ND_TCP_EVENTS_MAX_SOCKETS_DEFAULT);
}

enum {
        OPT_JSON = 0x100,
        OPT_ALL_NETNS,
        OPT_PID,
        OPT_PORT,
        OPT_RING_BYTES,
        OPT_MAX_SOCKETS,
};

/* Returns 0 to go on, -1 after --help, or EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct trace_args *a)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                { "json", no_argument, NULL, OPT_JSON },
                { "all-netns", no_argument, NULL, OPT_ALL_NETNS },
                { "pid", required_argument, NULL, OPT_PID },
                { "port", required_argument, NULL, OPT_PORT },
                { "ring-bytes", required_argument, NULL, OPT_RING_BYTES },
                { "max-sockets", required_argument, NULL, OPT_MAX_SOCKETS },
                {}
        };
        long long v;
        int c, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, NULL)) != -1) {
                switch (c) {
                case OPT_JSON:
                        a->print.json = true;
                        break;
                case OPT_ALL_NETNS:
                        a->events.all_netns = true;
                        break;
                case OPT_PID:
                        if (parse_int_range(optarg, 1, INT32_MAX, &v) < 0)
                                return usage_error("trace", "invalid --pid '%s'", optarg);
                        a->events.pid = (uint32_t)v;
                        break;
                case OPT_PORT:
                        if (parse_int_range(optarg, 1, UINT16_MAX, &v) < 0)
                                return usage_error("trace", "invalid --port '%s' (1 to 65535)", optarg);
                        a->events.port = (uint16_t)v;
                        break;
                case OPT_RING_BYTES:
                        if (parse_int_range(optarg, 1, 1ll << 30, &v) < 0)
                                return usage_error("trace", "invalid --ring-bytes '%s' (1 to 1073741824)", optarg);
                        a->events.ring_bytes = (size_t)v;
                        break;
                case OPT_MAX_SOCKETS:
                        if (parse_int_range(optarg, 1, 1 << 24, &v) < 0)
                                return usage_error("trace", "invalid --max-sockets '%s' (1 to 16777216)", optarg);
                        a->events.max_sockets = (uint32_t)v;
                        break;
                default:
                        r = cli_common_option(c, "trace", argv, help);
                        if (r == EXIT_OK)
                                return -1; /* --help: exit 0 */
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return usage_error("trace", "unexpected argument '%s'", argv[optind]);
        a->print.show_netns = a->events.all_netns;
        return 0;
}

static int print_event(const struct nd_tcp_event *ev, void *userdata)
{
        const struct trace_print_options *o = userdata;

        return trace_print_event(stdout, ev, o);
}

/* Prints events until SIGINT or SIGTERM arrives on signal_fd (borrowed). */
static int trace_loop(struct nd_tcp_events *t, int signal_fd, const struct trace_print_options *o)
{
        struct pollfd fds[] = {
                { .fd = nd_tcp_events_fd(t), .events = POLLIN },
                { .fd = signal_fd, .events = POLLIN },
        };
        int r;

        for (;;) {
                if (poll(fds, ELEMENTSOF(fds), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(-errno, "Failed to wait for events: %m");
                }
                if (fds[0].revents) {
                        r = nd_tcp_events_consume(t, print_event, (void *)o);
                        if (r < 0)
                                return log_error_errno(r, "Failed to write the events: %m");
                }
                if (fds[1].revents) {
                        struct signalfd_siginfo si = {};

                        if (read(signal_fd, &si, sizeof(si)) != sizeof(si) && errno != EAGAIN)
                                return log_error_errno(-errno, "Failed to read the signal: %m");
                        log_debug("signal %u, stopping", si.ssi_signo);
                        break;
                }
        }
        /* What the kernel had already handed over still counts. */
        r = nd_tcp_events_consume(t, print_event, (void *)o);
        if (r < 0)
                return log_error_errno(r, "Failed to write the events: %m");
        return 0;
}

static void report_losses(const struct nd_tcp_events *t)
{
        struct nd_tcp_events_stats s;
        int r;

        r = nd_tcp_events_stats(t, &s);
        if (r < 0) {
                log_warning_errno(r, "Failed to read the lost-event counters: %m");
                return;
        }
        log_debug("%" PRIu64 " events", s.events);
        if (s.lost > 0)
                log_warning("%" PRIu64 " events lost: the ring buffer was full (try a larger --ring-bytes)", s.lost);
        if (s.untracked > 0)
                log_warning("%" PRIu64 " connections not followed: the socket table was full (try a larger --max-sockets)",
                            s.untracked);
        if (s.skipped > 0)
                log_warning("%" PRIu64 " state changes not seen: the kernel skipped the program while another "
                            "BPF program ran on that CPU",
                            s.skipped);
        if (s.malformed > 0)
                log_warning("%" PRIu64 " malformed events skipped", s.malformed);
}

int verb_trace(int argc, char **argv)
{
        struct trace_args a = {};
        _cleanup_(nd_tcp_events_freep) struct nd_tcp_events *t = NULL;
        _cleanup_close_ int signal_fd = -EBADF;
        char why[256] = "";
        sigset_t mask;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;

        /* Signals arrive as data on signal_fd: a stop is seen between two
         * events, never inside the printing of one. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
                log_error_errno(-errno, "Failed to block signals: %m");
                return EXIT_RUNTIME;
        }
        signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0) {
                log_error_errno(-errno, "Failed to create a signalfd: %m");
                return EXIT_RUNTIME;
        }

        const char *off_why;
        unsigned loaded, wanted;

        r = nd_tcp_events_open(&a.events, &t, why, sizeof(why));
        if (r < 0) {
                log_error("eBPF unavailable: %s", why[0] ? why : strerror(-r));
                return EXIT_RUNTIME;
        }

        r = trace_print_header(stdout, &a.print);
        if (r < 0) {
                log_error_errno(r, "Failed to write the header: %m");
                return EXIT_RUNTIME;
        }
        nd_tcp_events_programs(t, &loaded, &wanted);
        if (nd_tcp_events_features_off(t, &off_why))
                log_warning("trace without %s", off_why);
        log_notice("tracing TCP events in %s (eBPF programs loaded: %u of %u); Ctrl-C to stop",
                   a.events.all_netns ? "every network namespace" : "this network namespace", loaded, wanted);

        r = trace_loop(t, signal_fd, &a.print);
        report_losses(t);
        return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
