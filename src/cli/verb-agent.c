/* netdep agent: collect this host's flows and keep them in the store. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "cli/settings.h"
#include "store/store.h"
#include "shared/log.h"
#include "shared/parse.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep agent [--store URI] [OPTIONS]\n"
                "\n"
                "Every interval, a snapshot of this host's host flows; every flush\n"
                "interval, the merged snapshots are written to the store in one\n"
                "transaction. If the store is down, flushes queue (bounded) and are\n"
                "retried with backoff. SIGTERM/SIGINT: a final flush, then exit; what\n"
                "the store has not taken by then is spooled to disk.\n"
                "\n"
                "Options (config file key / environment variable):\n"
                "      --store=URI            store / NETDEP_STORE (default sqlite:netdep.db)\n"
                "      --server=URL           server / NETDEP_SERVER: report to 'netdep serve'\n"
                "                             at http(s)://HOST:PORT instead of a store\n"
                "      --token-file=FILE      token-file / NETDEP_TOKEN_FILE: the server's\n"
                "                             agent token, on the file's first line\n"
                "      --ca-file=FILE         ca-file / NETDEP_CA_FILE: the CA or certificate\n"
                "                             to trust for https (default: the system's)\n"
                "      --probe-interval=D     probe-interval / NETDEP_PROBE_INTERVAL: with a server,\n"
                "                             probe this host's links (its peer list) every D,\n"
                "                             and report them; 0 turns it off (default 30s)\n"
                "      --probes=N             probes / NETDEP_PROBES: probes a link a round\n"
                "                             (default 5)\n"
                "      --probe-timeout=D      probe-timeout / NETDEP_PROBE_TIMEOUT: unanswered this\n"
                "                             long, a probe is lost (default 1s)\n"
                "      --probe-rate=N         probe-rate / NETDEP_PROBE_RATE: probes a second at\n"
                "                             most, all links together (default 100)\n"
                "      --peers-interval=D     peers-interval / NETDEP_PEERS_INTERVAL: how often the\n"
                "                             peer list is asked for again (default 2m)\n"
                "      --nginx-status=URL     nginx-status / NETDEP_NGINX_STATUS: nginx's\n"
                "                             stub_status page, for its request rate\n"
                "      --nginx-access-log=F   nginx-access-log / NETDEP_NGINX_ACCESS_LOG: followed\n"
                "                             for error rates by status code\n"
                "      --interval=D           interval / NETDEP_INTERVAL (default 1s)\n"
                "      --flush-interval=D     flush-interval / NETDEP_FLUSH_INTERVAL (default 10s)\n"
                "      --retention=D          retention / NETDEP_RETENTION (default 30d)\n"
                "      --queue=D              queue / NETDEP_QUEUE: flush time kept while the\n"
                "                             store is down (default 10m)\n"
                "      --hostname=NAME        hostname / NETDEP_HOSTNAME (default: this host's)\n"
                "      --spool-dir=DIR        spool-dir / NETDEP_SPOOL_DIR: where flushes the store\n"
                "                             has not taken at stop are kept, and delivered\n"
                "                             from first at the next start (default\n"
                "                             " ND_AGENT_DEFAULT_SPOOL_DIR ")\n"
                "      --mode=MODE            mode / NETDEP_MODE: polling (scans only), streaming\n"
                "                             (eBPF events only), hybrid (both), or auto: hybrid\n"
                "                             where eBPF loads, else polling (default auto).\n"
                "                             NETDEP_BPF=off turns eBPF off.\n"
                "      --ring-bytes=SIZE      ring-bytes / NETDEP_RING_BYTES: eBPF ring buffer,\n"
                "                             e.g. 1048576, 512k, 4M (default 1M)\n"
                "      --max-sockets=N        max-sockets / NETDEP_MAX_SOCKETS: connections\n"
                "                             followed at once by eBPF (default 65536)\n"
                "      --nice=N               nice / NETDEP_NICE: the agent's scheduling niceness,\n"
                "                             0 to 19; at 19 it yields to the applications\n"
                "                             (default 19)\n"
                "      --all-netns            all-netns / NETDEP_ALL_NETNS: every network\n"
                "                             namespace's flows, not only this one's\n"
                "      --keep-loopback        keep-loopback / NETDEP_KEEP_LOOPBACK: keep flows\n"
                "                             between this host's own addresses\n"
                "      --no-processes         no-processes / NETDEP_NO_PROCESSES: skip finding\n"
                "                             the process of each socket (cheaper, less said)\n"
                "      --config=FILE          'key = value' lines; flags beat the\n"
                "                             environment, which beats the file\n"
                "      --once                 one scan, one flush, exit (polling)\n"
                "  -v, -q, -h                 verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success, 1 failure (--once: the store was not written;\n"
                "otherwise: flushes were lost at stop, neither stored nor spooled, or\n"
                "dropped for the spool's bound), 2 usage or configuration error.\n");
}

enum { OPT_CONFIG = 0x100, OPT_ONCE, OPT_SETTING };

/* A whole number setting in [min, max]; a usage error names its source. */
static int number_setting(struct setting *settings, const char *key, long long min, long long max, size_t *ret)
{
        struct setting *s = settings_find(settings, key);
        long long v;

        if (parse_int_range(s->value, min, max, &v) < 0) {
                usage_error("agent", "invalid %s '%s' from %s (%lld to %lld)", key, s->value, s->source, min, max);
                return -EINVAL;
        }
        *ret = (size_t)v;
        return 0;
}

/* How strong a setting's source is: a flag 3, the environment 2, a file 1. */
static int source_rank(const char *source)
{
        if (strncmp(source, "--", 2) == 0)
                return 3;
        if (strncmp(source, "NETDEP_", 7) == 0)
                return 2;
        return strcmp(source, "default") == 0 ? 0 : 1;
}

int verb_agent(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                { "config", required_argument, NULL, OPT_CONFIG },
                { "once", no_argument, NULL, OPT_ONCE },
                { "store", required_argument, NULL, OPT_SETTING },
                { "server", required_argument, NULL, OPT_SETTING },
                { "token-file", required_argument, NULL, OPT_SETTING },
                { "ca-file", required_argument, NULL, OPT_SETTING },
                { "interval", required_argument, NULL, OPT_SETTING },
                { "flush-interval", required_argument, NULL, OPT_SETTING },
                { "retention", required_argument, NULL, OPT_SETTING },
                { "queue", required_argument, NULL, OPT_SETTING },
                { "hostname", required_argument, NULL, OPT_SETTING },
                { "spool-dir", required_argument, NULL, OPT_SETTING },
                { "mode", required_argument, NULL, OPT_SETTING },
                { "ring-bytes", required_argument, NULL, OPT_SETTING },
                { "max-sockets", required_argument, NULL, OPT_SETTING },
                { "nice", required_argument, NULL, OPT_SETTING },
                { "all-netns", no_argument, NULL, OPT_SETTING },
                { "keep-loopback", no_argument, NULL, OPT_SETTING },
                { "no-processes", no_argument, NULL, OPT_SETTING },
                { "probe-interval", required_argument, NULL, OPT_SETTING },
                { "probes", required_argument, NULL, OPT_SETTING },
                { "probe-timeout", required_argument, NULL, OPT_SETTING },
                { "probe-rate", required_argument, NULL, OPT_SETTING },
                { "peers-interval", required_argument, NULL, OPT_SETTING },
                { "nginx-status", required_argument, NULL, OPT_SETTING },
                { "nginx-access-log", required_argument, NULL, OPT_SETTING },
                {}
        };
        struct setting settings[] = {
                { "store", "NETDEP_STORE", SETTING_STRING, ND_DEFAULT_STORE },
                { "server", "NETDEP_SERVER", SETTING_STRING, NULL },
                { "token-file", "NETDEP_TOKEN_FILE", SETTING_STRING, NULL },
                { "ca-file", "NETDEP_CA_FILE", SETTING_STRING, NULL },
                { "interval", "NETDEP_INTERVAL", SETTING_DURATION, "1s" },
                { "flush-interval", "NETDEP_FLUSH_INTERVAL", SETTING_DURATION, "10s" },
                { "retention", "NETDEP_RETENTION", SETTING_DURATION, "30d" },
                { "queue", "NETDEP_QUEUE", SETTING_DURATION, "10m" },
                { "hostname", "NETDEP_HOSTNAME", SETTING_STRING, NULL },
                { "spool-dir", "NETDEP_SPOOL_DIR", SETTING_STRING, ND_AGENT_DEFAULT_SPOOL_DIR },
                { "mode", "NETDEP_MODE", SETTING_STRING, "auto" },
                { "ring-bytes", "NETDEP_RING_BYTES", SETTING_STRING, "1048576" },
                { "max-sockets", "NETDEP_MAX_SOCKETS", SETTING_STRING, "65536" },
                { "nice", "NETDEP_NICE", SETTING_STRING, "19" },
                { "all-netns", "NETDEP_ALL_NETNS", SETTING_BOOL, "false" },
                { "keep-loopback", "NETDEP_KEEP_LOOPBACK", SETTING_BOOL, "false" },
                { "no-processes", "NETDEP_NO_PROCESSES", SETTING_BOOL, "false" },
                { "probe-interval", "NETDEP_PROBE_INTERVAL", SETTING_STRING, "30s" },
                { "probes", "NETDEP_PROBES", SETTING_STRING, "5" },
                { "probe-timeout", "NETDEP_PROBE_TIMEOUT", SETTING_DURATION, "1s" },
                { "probe-rate", "NETDEP_PROBE_RATE", SETTING_STRING, "100" },
                { "peers-interval", "NETDEP_PEERS_INTERVAL", SETTING_DURATION, "2m" },
                { "nginx-status", "NETDEP_NGINX_STATUS", SETTING_STRING, NULL },
                { "nginx-access-log", "NETDEP_NGINX_ACCESS_LOG", SETTING_STRING, NULL },
                {}
        };
        struct nd_agent_options o = {};
        const char *config = NULL;
        bool no_processes = false;
        uint64_t retention_ms, ring_bytes;
        size_t max_sockets, nice, probes, probe_rate;
        char why[600] = "";
        int c, index, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                switch (c) {
                case OPT_CONFIG:
                        config = optarg;
                        break;
                case OPT_ONCE:
                        o.once = true;
                        break;
                case OPT_SETTING:
                        if (settings_set_flag(settings, options[index].name, optarg ? optarg : "true") < 0) {
                                settings_done(settings);
                                return EXIT_RUNTIME;
                        }
                        break;
                default:
                        r = cli_common_option(c, "agent", argv, help);
                        if (r != CLI_OPTION_DONE) {
                                settings_done(settings);
                                return r;
                        }
                        break;
                }
        }
        if (optind < argc) {
                settings_done(settings);
                return usage_error("agent", "unexpected argument '%s'", argv[optind]);
        }

        r = settings_resolve(settings, config, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "interval", &o.interval_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "flush-interval", &o.flush_interval_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "retention", &retention_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "queue", &o.queue_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_bool(settings, "all-netns", &o.collect.all_netns, why, sizeof(why));
        if (r >= 0)
                r = settings_bool(settings, "keep-loopback", &o.keep_loopback, why, sizeof(why));
        if (r >= 0)
                r = settings_bool(settings, "no-processes", &no_processes, why, sizeof(why));
        if (r < 0) {
                if (why[0])
                        usage_error("agent", "%s", why);
                else
                        log_error_errno(r, "Failed to read the settings: %m");
                settings_done(settings);
                return r == -ENOMEM ? EXIT_RUNTIME : EXIT_USAGE;
        }
        if (nd_agent_mode_from_string(settings_string(settings, "mode"), &o.mode) < 0) {
                usage_error("agent", "invalid mode '%s' from %s: polling, streaming, hybrid or auto",
                            settings_string(settings, "mode"), settings_find(settings, "mode")->source);
                settings_done(settings);
                return EXIT_USAGE;
        }
        o.mode_source = settings_find(settings, "mode")->source;
        if (!settings_string(settings, "spool-dir")[0]) {
                usage_error("agent", "empty spool-dir from %s", settings_find(settings, "spool-dir")->source);
                settings_done(settings);
                return EXIT_USAGE;
        }
        r = settings_number(settings, "ring-bytes", true, 1, 1 << 30, &ring_bytes, why, sizeof(why));
        if (r < 0) {
                usage_error("agent", "%s", why);
                settings_done(settings);
                return EXIT_USAGE;
        }
        o.events.ring_bytes = (size_t)ring_bytes;
        if (
            number_setting(settings, "max-sockets", 1, 1 << 24, &max_sockets) < 0 ||
            number_setting(settings, "nice", 0, 19, &nice) < 0) {
                settings_done(settings);
                return EXIT_USAGE;
        }
        o.events.max_sockets = (uint32_t)max_sockets;
        /* Before any thread or child starts, so that all take it: at 19 the
         * agent's own work (snapshots, flushes) runs when the applications
         * leave a CPU free, rather than in their latency. */
        if (setpriority(PRIO_PROCESS, 0, (int)nice) < 0)
                log_warning_errno(-errno, "agent: could not set niceness %zu, running at the current one: %m", nice);
        o.dest.store_uri = settings_string(settings, "store");
        o.dest.server_url = settings_string(settings, "server");
        o.dest.token_file = settings_string(settings, "token-file");
        o.dest.ca_file = settings_string(settings, "ca-file");
        /* A store and a server: the one from the stronger source wins (a
         * flag over the environment, the environment over the file); from
         * equally strong ones, the intent is unclear. */
        if (o.dest.server_url && strcmp(settings_find(settings, "store")->source, "default") != 0) {
                int store_rank = source_rank(settings_find(settings, "store")->source);
                int server_rank = source_rank(settings_find(settings, "server")->source);

                if (store_rank == server_rank) {
                        usage_error("agent", "store from %s and server from %s: give one",
                                    settings_find(settings, "store")->source,
                                    settings_find(settings, "server")->source);
                        settings_done(settings);
                        return EXIT_USAGE;
                }
                if (store_rank > server_rank)
                        o.dest.server_url = NULL;
        }
        if (!o.dest.server_url && ((o.dest.token_file && source_rank(settings_find(settings, "token-file")->source) == 3) ||
                                   (o.dest.ca_file && source_rank(settings_find(settings, "ca-file")->source) == 3))) {
                usage_error("agent", "--token-file and --ca-file go with --server");
                settings_done(settings);
                return EXIT_USAGE;
        }
        if (strcmp(settings_string(settings, "probe-interval"), "0") != 0) {
                r = settings_duration_ms(settings, "probe-interval", &o.probe.interval_ms, why, sizeof(why));
                if (r >= 0)
                        r = settings_duration_ms(settings, "probe-timeout", &o.probe.timeout_ms, why, sizeof(why));
                if (r >= 0)
                        r = settings_duration_ms(settings, "peers-interval", &o.probe.peers_every_ms, why,
                                                 sizeof(why));
                if (r < 0) {
                        usage_error("agent", "%s", why);
                        settings_done(settings);
                        return EXIT_USAGE;
                }
        }
        if (number_setting(settings, "probes", 1, 100, &probes) < 0 ||
            number_setting(settings, "probe-rate", 1, 100000, &probe_rate) < 0) {
                settings_done(settings);
                return EXIT_USAGE;
        }
        o.probe.probes_per_round = (unsigned)probes;
        o.probe.max_probes_per_s = (unsigned)probe_rate;
        o.probe.indicators.nginx_status_url = settings_string(settings, "nginx-status");
        o.probe.indicators.nginx_access_log = settings_string(settings, "nginx-access-log");
        o.hostname = settings_string(settings, "hostname");
        o.spool_dir = settings_string(settings, "spool-dir");
        o.retention_s = retention_ms / 1000;
        o.collect.processes = !no_processes;
        o.collect.tcp_info = true;

        r = nd_agent_run(&o);
        settings_done(settings);
        return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
