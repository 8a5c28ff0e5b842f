/* netdep serve: the fleet's server (src/serve/serve.h). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/settings.h"
#include "serve/peer_list.h"
#include "serve/serve.h"
#include "store/store.h"
#include "shared/log.h"

#define DEFAULT_CONFIG "/etc/netdep/serve.conf"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep serve [--store URI] [--listen ADDR:PORT] [OPTIONS]\n"
                "\n"
                "The fleet's server: agents post their flushes and probe reports to it\n"
                "(agent --server) and fetch their peer lists; `netdep query` and\n"
                "`netdep check` read its live state;\n"
                "readers ask it what look, graph, impact, diff, hosts and roles answer\n"
                "(GET /api/v1/VERB?OPTION=VALUE, or the verbs' --server). Several\n"
                "servers may share one PostgreSQL store. SIGHUP reloads the token file.\n"
                "\n"
                "Options (config file key / environment variable):\n"
                "      --store=URI            store / NETDEP_STORE (default sqlite:netdep.db);\n"
                "                             its schema is created or migrated at start\n"
                "      --listen=ADDR:PORT     listen / NETDEP_LISTEN (default " ND_SERVE_DEFAULT_LISTEN ")\n"
                "      --reuse-port           reuse-port / NETDEP_REUSE_PORT: share the port with\n"
                "                             other servers (SO_REUSEPORT)\n"
                "      --tokens=FILE          tokens / NETDEP_TOKENS: 'SCOPE TOKEN [HOSTNAME]'\n"
                "                             lines, scope agent, reader or admin; without it,\n"
                "                             no auth and loopback only\n"
                "      --tls-cert=FILE        tls-cert / NETDEP_TLS_CERT: PEM certificate (chain)\n"
                "      --tls-key=FILE         tls-key / NETDEP_TLS_KEY: its PEM private key\n"
                "      --max-body=SIZE        max-body / NETDEP_MAX_BODY: a post's body as sent\n"
                "                             (default 8M)\n"
                "      --max-connections=N    max-connections / NETDEP_MAX_CONNECTIONS\n"
                "                             (default 20000)\n"
                "      --idle-timeout=D       idle-timeout / NETDEP_IDLE_TIMEOUT: a kept-alive\n"
                "                             connection with nothing to say (default 120s)\n"
                "      --request-timeout=D    request-timeout / NETDEP_REQUEST_TIMEOUT: a read's\n"
                "                             deadline (default 30s)\n"
                "      --pool=N               pool / NETDEP_POOL: store connections (default 4)\n"
                "      --max-queued=N         max-queued / NETDEP_MAX_QUEUED: posts waiting for\n"
                "                             a store connection; more get 503 (default 64)\n"
                "      --queue-timeout=D      queue-timeout / NETDEP_QUEUE_TIMEOUT: how long\n"
                "                             each may wait (default 2s)\n"
                "      --threads=N            threads / NETDEP_THREADS: request threads (default 8)\n"
                "      --readers=N            readers / NETDEP_READERS: reads answered at once\n"
                "                             (default 4)\n"
                "      --retention=D          retention / NETDEP_RETENTION: observations older\n"
                "                             are pruned, hourly (default 30d)\n"
                "      --peers-file=FILE      peers-file / NETDEP_PEERS_FILE: links to add or\n"
                "                             exclude, 'HOSTGLOB add|exclude ADDR[:PORT] [KIND]'\n"
                "      --peer-window=D        peer-window / NETDEP_PEER_WINDOW: edges seen within\n"
                "                             it are a host's links to probe (default 1h)\n"
                "      --probe-kind=KIND      probe-kind / NETDEP_PROBE_KIND: how discovered links\n"
                "                             are probed: tcp, icmp or both (default tcp)\n"
                "      --down-after=K/N       down-after / NETDEP_DOWN_AFTER: a link is down when\n"
                "                             K of its last N rounds failed (default 3/5)\n"
                "      --up-after=N           up-after / NETDEP_UP_AFTER: and back after N clean\n"
                "                             rounds in a row (default 5)\n"
                "      --live-peers=URL,...   live-peers / NETDEP_LIVE_PEERS: other servers that\n"
                "                             get every probe report this one takes, so that\n"
                "                             each answers query and check for the whole fleet\n"
                "      --live-peer-token-file=F  live-peer-token-file / NETDEP_LIVE_PEER_TOKEN_FILE:\n"
                "                             an admin token of those servers\n"
                "      --live-peer-ca-file=F  live-peer-ca-file / NETDEP_LIVE_PEER_CA_FILE: the CA\n"
                "                             to trust for them (default: the system's)\n"
                "      --config=FILE          'key = value' lines (default " DEFAULT_CONFIG "\n"
                "                             when it exists); flags beat the environment,\n"
                "                             which beats the file\n"
                "  -v, -q, -h                 verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 stopped by SIGTERM or SIGINT, 1 could not start,\n"
                "2 usage or configuration error.\n");
}

enum { OPT_CONFIG = 0x100, OPT_SETTING };

int verb_serve(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                { "config", required_argument, NULL, OPT_CONFIG },
                { "store", required_argument, NULL, OPT_SETTING },
                { "listen", required_argument, NULL, OPT_SETTING },
                { "reuse-port", no_argument, NULL, OPT_SETTING },
                { "tokens", required_argument, NULL, OPT_SETTING },
                { "tls-cert", required_argument, NULL, OPT_SETTING },
                { "tls-key", required_argument, NULL, OPT_SETTING },
                { "max-body", required_argument, NULL, OPT_SETTING },
                { "max-connections", required_argument, NULL, OPT_SETTING },
                { "idle-timeout", required_argument, NULL, OPT_SETTING },
                { "request-timeout", required_argument, NULL, OPT_SETTING },
                { "pool", required_argument, NULL, OPT_SETTING },
                { "max-queued", required_argument, NULL, OPT_SETTING },
                { "queue-timeout", required_argument, NULL, OPT_SETTING },
                { "threads", required_argument, NULL, OPT_SETTING },
                { "readers", required_argument, NULL, OPT_SETTING },
                { "retention", required_argument, NULL, OPT_SETTING },
                { "peers-file", required_argument, NULL, OPT_SETTING },
                { "peer-window", required_argument, NULL, OPT_SETTING },
                { "probe-kind", required_argument, NULL, OPT_SETTING },
                { "down-after", required_argument, NULL, OPT_SETTING },
                { "up-after", required_argument, NULL, OPT_SETTING },
                { "live-peers", required_argument, NULL, OPT_SETTING },
                { "live-peer-token-file", required_argument, NULL, OPT_SETTING },
                { "live-peer-ca-file", required_argument, NULL, OPT_SETTING },
                {}
        };
        struct setting settings[] = {
                { "store", "NETDEP_STORE", SETTING_STRING, ND_DEFAULT_STORE },
                { "listen", "NETDEP_LISTEN", SETTING_STRING, ND_SERVE_DEFAULT_LISTEN },
                { "reuse-port", "NETDEP_REUSE_PORT", SETTING_BOOL, "false" },
                { "tokens", "NETDEP_TOKENS", SETTING_STRING, NULL },
                { "tls-cert", "NETDEP_TLS_CERT", SETTING_STRING, NULL },
                { "tls-key", "NETDEP_TLS_KEY", SETTING_STRING, NULL },
                { "max-body", "NETDEP_MAX_BODY", SETTING_STRING, "8M" },
                { "max-connections", "NETDEP_MAX_CONNECTIONS", SETTING_STRING, "20000" },
                { "idle-timeout", "NETDEP_IDLE_TIMEOUT", SETTING_DURATION, "120s" },
                { "request-timeout", "NETDEP_REQUEST_TIMEOUT", SETTING_DURATION, "30s" },
                { "pool", "NETDEP_POOL", SETTING_STRING, "4" },
                { "max-queued", "NETDEP_MAX_QUEUED", SETTING_STRING, "64" },
                { "queue-timeout", "NETDEP_QUEUE_TIMEOUT", SETTING_DURATION, "2s" },
                { "threads", "NETDEP_THREADS", SETTING_STRING, "8" },
                { "readers", "NETDEP_READERS", SETTING_STRING, "4" },
                { "retention", "NETDEP_RETENTION", SETTING_DURATION, "30d" },
                { "peers-file", "NETDEP_PEERS_FILE", SETTING_STRING, NULL },
                { "peer-window", "NETDEP_PEER_WINDOW", SETTING_DURATION, "1h" },
                { "probe-kind", "NETDEP_PROBE_KIND", SETTING_STRING, "tcp" },
                { "down-after", "NETDEP_DOWN_AFTER", SETTING_STRING, "3/5" },
                { "up-after", "NETDEP_UP_AFTER", SETTING_STRING, "5" },
                { "live-peers", "NETDEP_LIVE_PEERS", SETTING_STRING, NULL },
                { "live-peer-token-file", "NETDEP_LIVE_PEER_TOKEN_FILE", SETTING_STRING, NULL },
                { "live-peer-ca-file", "NETDEP_LIVE_PEER_CA_FILE", SETTING_STRING, NULL },
                {}
        };
        struct nd_serve_options o = {};
        const char *config = NULL;
        uint64_t peer_window_ms, up_after, retention_ms, max_body, max_connections, idle_ms, request_ms, pool, max_queued, queue_ms, threads, readers;
        char why[600] = "";
        int c, index, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                switch (c) {
                case OPT_CONFIG:
                        config = optarg;
                        break;
                case OPT_SETTING:
                        if (settings_set_flag(settings, options[index].name, optarg ? optarg : "true") < 0) {
                                settings_done(settings);
                                return EXIT_RUNTIME;
                        }
                        break;
                default:
                        r = cli_common_option(c, "serve", argv, help);
                        if (r != CLI_OPTION_DONE) {
                                settings_done(settings);
                                return r;
                        }
                        break;
                }
        }
        if (optind < argc) {
                settings_done(settings);
                return usage_error("serve", "unexpected argument '%s'", argv[optind]);
        }
        if (!config && access(DEFAULT_CONFIG, F_OK) == 0)
                config = DEFAULT_CONFIG;

        r = settings_resolve(settings, config, why, sizeof(why));
        if (r >= 0)
                r = settings_bool(settings, "reuse-port", &o.reuse_port, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "max-body", true, 1024, 1ull << 30, &max_body, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "max-connections", false, 1, 1000000, &max_connections, why,
                                    sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "idle-timeout", &idle_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "request-timeout", &request_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "pool", false, 1, 256, &pool, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "max-queued", false, 0, 100000, &max_queued, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "queue-timeout", &queue_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "threads", false, 1, 256, &threads, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "readers", false, 1, 256, &readers, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "retention", &retention_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_duration_ms(settings, "peer-window", &peer_window_ms, why, sizeof(why));
        if (r >= 0)
                r = settings_number(settings, "up-after", false, 1, ND_LINK_HISTORY_MAX, &up_after, why,
                                    sizeof(why));
        if (r >= 0 && nd_peer_kinds_parse(settings_string(settings, "probe-kind"), &o.probe_kinds) < 0) {
                snprintf(why, sizeof(why), "invalid probe-kind '%s' from %s: want tcp, icmp or both",
                         settings_string(settings, "probe-kind"), settings_find(settings, "probe-kind")->source);
                r = -EINVAL;
        }
        if (r >= 0) {
                const char *v = settings_string(settings, "down-after");
                unsigned k, n;
                char end;

                o.link_policy = ND_LINK_POLICY_DEFAULT;
                o.link_policy.up_after = (unsigned)up_after;
                if (sscanf(v, "%u/%u%c", &k, &n, &end) != 2 ||
                    !nd_link_policy_valid(&(struct nd_link_policy){ k, n, (unsigned)up_after })) {
                        snprintf(why, sizeof(why), "invalid down-after '%s' from %s: want K/N, 1 <= K <= N <= %d", v,
                                 settings_find(settings, "down-after")->source, ND_LINK_HISTORY_MAX);
                        r = -EINVAL;
                } else {
                        o.link_policy.down_after = k;
                        o.link_policy.window = n;
                }
        }
        if (r < 0) {
                usage_error("serve", "%s", why);
                settings_done(settings);
                return EXIT_USAGE;
        }
        o.store_uri = settings_string(settings, "store");
        o.listen = settings_string(settings, "listen");
        o.tokens = settings_string(settings, "tokens");
        o.tls_cert = settings_string(settings, "tls-cert");
        o.tls_key = settings_string(settings, "tls-key");
        o.max_body = (size_t)max_body;
        o.max_connections = (size_t)max_connections;
        o.idle_timeout_s = (unsigned)((idle_ms + 999) / 1000);
        o.request_timeout_ms = request_ms > UINT32_MAX ? UINT32_MAX : (unsigned)request_ms;
        o.pool = (size_t)pool;
        o.max_queued = (size_t)max_queued;
        o.queue_timeout_ms = queue_ms > UINT32_MAX ? UINT32_MAX : (unsigned)queue_ms;
        o.threads = (size_t)threads;
        o.readers = (size_t)readers;
        o.retention_s = retention_ms / 1000;
        o.peers_file = settings_string(settings, "peers-file");
        o.peer_window_s = peer_window_ms / 1000;
        o.live_peers = settings_string(settings, "live-peers");
        o.live_peer_token_file = settings_string(settings, "live-peer-token-file");
        o.live_peer_ca_file = settings_string(settings, "live-peer-ca-file");

        r = nd_serve_run(&o);
        settings_done(settings);
        return r == -EINVAL ? EXIT_USAGE : r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
