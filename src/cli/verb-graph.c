/* netdep graph: the stored graph, whole or around a host or role, as one
 * picture. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/graph_view.h"
#include "api/look.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/graph-print.h"
#include "cli/store-open.h"
#include "shared/log.h"
#include "shared/parse.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep graph [--host ADDR|NAME | --role SERVICE:ROLE] [OPTIONS]\n"
                "\n"
                "The stored dependency graph as one picture: every endpoint once, an\n"
                "edge per client -> server pair, labelled with its connections,\n"
                "connections opened and failed, and how long ago it was last seen.\n"
                "Without --host or --role: the whole store.\n"
                "\n"
                "Options:\n"
                "      --host=ADDR|NAME     only around this host ...\n"
                "      --role=SERVICE:ROLE  ... or role\n"
                "      --depth=N            hops from it, either way, 1..%d (default 1)\n"
                "      --since=T, --until=T only edges seen in that range (as 'look')\n"
                "      --active[=D]         only edges seen in the last D (default %ds)\n"
                "      --group-by=G         process (default: a node per endpoint), host,\n"
                "                           or role (a node per service:role)\n"
                "      --format=F           dot (default), json, mermaid, or svg (needs\n"
                "                           Graphviz's dot)\n"
                "      --resolve[=BUDGET]   reverse-DNS names for addresses with none,\n"
                "                           within BUDGET in total (default 2s)\n"
                "      --store=URI          default sqlite:netdep.db or $NETDEP_STORE\n"
                "      --server=URL         ask a netdep server (netdep serve) instead\n"
                "      --token-file=FILE    its reader token, on the first line\n"
                "      --ca-file=FILE       the CA to trust for an https server\n"
                "  -v, -q, -h               verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success, 1 no edges or a failure, 2 usage error.\n",
                ND_LOOK_MAX_DEPTH, CLI_CURRENT_SECONDS);
}

enum { OPT_HOST = 0x100, OPT_ROLE, OPT_DEPTH, OPT_GROUP, OPT_FORMAT, OPT_STORE };

int verb_graph(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                CLI_QUESTION_LONG_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST },
                { "role", required_argument, NULL, OPT_ROLE },
                { "depth", required_argument, NULL, OPT_DEPTH },
                { "group-by", required_argument, NULL, OPT_GROUP },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "store", required_argument, NULL, OPT_STORE },
                {}
        };
        static const char *const groups[] = { "process", "host", "role", NULL };
        static const char *const formats[] = { "json", "dot", "mermaid", "svg", NULL };
        int64_t now = (int64_t)time(NULL);
        struct nd_graph_view_options o = { .depth = 1, .range = { INT64_MIN, INT64_MAX }, .now = now };
        const struct cli_question q = { now, &o.range, &o.active_s, &o.resolve_ms };
        enum graph_format format = GRAPH_FORMAT_DOT;
        int group = 0;
        const char *uri = NULL;
        struct nd_store *s = NULL;
        struct nd_endpoint_graph picture;
        struct graph_stream stream;
        bool streaming, depth_given = false;
        int64_t as_of;
        struct nd_graph g;
        long long v;
        struct cli_remote remote = {};
        int c, i, index = 0, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                if (cli_remote_option(&remote, c, options, index))
                        continue;
                switch (c) {
                case OPT_HOST:
                        o.host = optarg;
                        break;
                case OPT_ROLE: {
                        char a[ND_ROLE_FIELD_MAX], b[ND_ROLE_FIELD_MAX];
                        if (nd_role_split(optarg, a, b, sizeof(a)) < 0)
                                return usage_error("graph", "invalid --role '%s' (want SERVICE:ROLE)", optarg);
                        o.role = optarg;
                        break;
                }
                case OPT_DEPTH:
                        if (parse_int_range(optarg, 1, ND_LOOK_MAX_DEPTH, &v) < 0)
                                return usage_error("graph", "invalid --depth '%s' (1..%d)", optarg, ND_LOOK_MAX_DEPTH);
                        o.depth = (int)v;
                        depth_given = true;
                        break;
                case OPT_GROUP:
                        if ((group = parse_choice(optarg, groups)) < 0)
                                return usage_error("graph", "invalid --group-by '%s' (process, host or role)", optarg);
                        break;
                case OPT_FORMAT:
                        if ((i = parse_choice(optarg, formats)) < 0)
                                return usage_error("graph", "invalid --format '%s' (dot, json, mermaid or svg)", optarg);
                        format = (enum graph_format)i;
                        break;
                case OPT_STORE:
                        uri = optarg;
                        break;
                default:
                        r = cli_question_option(c, "graph", &q);
                        if (r == CLI_OPTION_OTHER)
                                r = cli_common_option(c, "graph", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return usage_error("graph", "unexpected argument '%s'", argv[optind]);
        if (o.host && o.role)
                return usage_error("graph", "give --host or --role, not both");
        if (depth_given && !o.host && !o.role)
                return usage_error("graph", "--depth counts hops from --host or --role; give one");
        if (o.range.since > o.range.until)
                return usage_error("graph", "--since is after --until");

        as_of = o.range.until < now ? o.range.until : now;
        if (remote.server && uri)
                return usage_error("graph", "give --store or --server, not both");
        if (remote.server)
                return cli_remote_run(&remote, "graph", "/api/v1/graph", "GET", NULL);

        r = cli_open_store(uri, CLI_STORE_CHECKED, &s);
        if (r != 0)
                return r;
        nd_endpoint_graph_init(&picture, group == 0 ? ND_GROUP_BY_PROCESS : ND_GROUP_BY_HOST);
        /* The whole store by process: every store edge is its own pair, so
         * the picture is written as the edges come, not held. */
        streaming = group == 0 && !o.host && !o.role;
        if (streaming) {
                graph_stream_begin(&stream, stdout, format, as_of);
                nd_endpoint_graph_stream(&picture, graph_stream_link, &stream);
        }
        r = nd_graph_init(&g, s, group == 2);
        if (r >= 0)
                r = nd_graph_view(&g, &o, &picture);
        if (streaming && stream.error)
                r = EXIT_RUNTIME; /* writing failed, and said why */
        else if (r == -ENOENT || r == -ENODATA)
                r = cli_question_error(r, o.host ? o.host : o.role, o.role != NULL, &q);
        else if (r < 0)
                r = cli_store_error(s, r, "query edges");
        else {
                r = streaming ? graph_stream_end(&stream, &picture) : graph_print(stdout, &picture, format, as_of);
                if (r >= 0 && fflush(stdout) != 0)
                        r = -errno;
                if (r < 0 && r != -ENOENT && r != -EPROTO) /* those two were said */
                        log_error("Failed to write the graph: %s", strerror(-r));
                r = r < 0 ? EXIT_RUNTIME : EXIT_OK;
        }
        if (streaming && r != EXIT_OK)
                graph_stream_abort(&stream);
        nd_endpoint_graph_done(&picture);
        nd_graph_done(&g);
        nd_store_close(s);
        return r;
}
