/* netdep look: the dependency tree of a host or a role. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/look.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/look-print.h"
#include "cli/store-open.h"
#include "shared/log.h"
#include "shared/parse.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep look (--host ADDR|NAME | --role SERVICE:ROLE) [OPTIONS]\n"
                "\n"
                "The dependency tree of a host or role, from the store: '<--' lines are\n"
                "who connects to it, '-->' lines what it connects to.\n"
                "\n"
                "Options:\n"
                "      --host=ADDR|NAME     an address, or a hostname an agent reported\n"
                "      --role=SERVICE:ROLE  every host of a role (see 'netdep roles')\n"
                "      --port=P             only that server port of the host\n"
                "      --depth=N            levels below the host, 1..10 (default 1)\n"
                "      --direction=D        in, out or both (default both)\n"
                "      --since=T, --until=T only edges observed in that range; T is a\n"
                "                           duration back from now (90s, 30m, 2h, 7d) or\n"
                "                           RFC 3339; default: all stored history\n"
                "      --active[=D]         only edges seen in the last D before the range's\n"
                "                           end or now (default %ds); the tree marks edges\n"
                "                           not seen that recently with how long ago\n"
                "      --group-by=host|role fold hosts into service:role nodes\n"
                "      --format=F           tree (default), json, dot or mermaid\n"
                "      --resolve[=BUDGET]   reverse-DNS names for addresses with none,\n"
                "                           within BUDGET in total (default 2s)\n"
                "      --store=URI          default sqlite:netdep.db or $NETDEP_STORE\n"
                "      --server=URL         ask a netdep server (netdep serve) instead\n"
                "      --token-file=FILE    its reader token, on the first line\n"
                "      --ca-file=FILE       the CA to trust for an https server\n"
                "  -v, -q, -h               verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success, 1 no edges or a store failure, 2 usage error.\n",
                CLI_CURRENT_SECONDS);
}

enum {
        OPT_HOST = 0x100, OPT_ROLE, OPT_PORT, OPT_DEPTH, OPT_DIRECTION,
        OPT_GROUP, OPT_FORMAT, OPT_STORE,
};

int verb_look(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                CLI_QUESTION_LONG_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST },
                { "role", required_argument, NULL, OPT_ROLE },
                { "port", required_argument, NULL, OPT_PORT },
                { "depth", required_argument, NULL, OPT_DEPTH },
                { "direction", required_argument, NULL, OPT_DIRECTION },
                { "group-by", required_argument, NULL, OPT_GROUP },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "store", required_argument, NULL, OPT_STORE },
                {}
        };
        static const char *const directions[] = { "in", "out", "both", NULL };
        static const char *const groups[] = { "host", "role", NULL };
        static const char *const formats[] = { "tree", "json", "dot", "mermaid", NULL };
        int64_t now = (int64_t)time(NULL);
        struct nd_look_options o = {
                .depth = 1, .direction = ND_LOOK_BOTH, .range = { INT64_MIN, INT64_MAX }, .now = now,
        };
        const struct cli_question q = { now, &o.range, &o.active_s, &o.resolve_ms };
        enum look_format format = LOOK_FORMAT_TREE;
        const char *uri = NULL;
        struct nd_store *s = NULL;
        struct nd_graph g;
        struct nd_look_result res;
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
                                return usage_error("look", "invalid --role '%s' (want SERVICE:ROLE)", optarg);
                        o.role = optarg;
                        break;
                }
                case OPT_PORT:
                        if (parse_int_range(optarg, 1, 65535, &v) < 0)
                                return usage_error("look", "invalid --port '%s' (1..65535)", optarg);
                        o.port = (int)v;
                        break;
                case OPT_DEPTH:
                        if (parse_int_range(optarg, 1, ND_LOOK_MAX_DEPTH, &v) < 0)
                                return usage_error("look", "invalid --depth '%s' (1..%d)", optarg, ND_LOOK_MAX_DEPTH);
                        o.depth = (int)v;
                        break;
                case OPT_DIRECTION:
                        if ((i = parse_choice(optarg, directions)) < 0)
                                return usage_error("look", "invalid --direction '%s' (in, out or both)", optarg);
                        o.direction = (enum nd_look_direction)(i + 1);
                        break;
                case OPT_GROUP:
                        if ((i = parse_choice(optarg, groups)) < 0)
                                return usage_error("look", "invalid --group-by '%s' (host or role)", optarg);
                        o.by_role = i == 1;
                        break;
                case OPT_FORMAT:
                        if ((i = parse_choice(optarg, formats)) < 0)
                                return usage_error("look", "invalid --format '%s' (tree, json, dot or mermaid)", optarg);
                        format = (enum look_format)i;
                        break;
                case OPT_STORE:
                        uri = optarg;
                        break;
                default:
                        r = cli_question_option(c, "look", &q);
                        if (r == CLI_OPTION_OTHER)
                                r = cli_common_option(c, "look", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return usage_error("look", "unexpected argument '%s'", argv[optind]);
        if (!o.host == !o.role)
                return usage_error("look", "give one of --host or --role");
        if (o.range.since > o.range.until)
                return usage_error("look", "--since is after --until");

        if (remote.server && uri)
                return usage_error("look", "give --store or --server, not both");
        if (remote.server)
                return cli_remote_run(&remote, "look", "/api/v1/look", "GET", NULL);

        r = cli_open_store(uri, CLI_STORE_CHECKED, &s);
        if (r != 0)
                return r;
        r = nd_graph_init(&g, s, o.by_role);
        if (r >= 0)
                r = nd_look(&g, &o, &res);
        if (r == -ENOENT || r == -ENODATA)
                r = cli_question_error(r, o.host ? o.host : o.role, !o.host, &q);
        else if (r < 0)
                r = cli_store_error(s, r, "query edges");
        else {
                r = look_print(stdout, &res, format);
                if (r >= 0 && fflush(stdout) != 0)
                        r = -errno;
                if (r < 0)
                        log_error("Failed to write the tree: %s", strerror(-r));
                r = r < 0 ? EXIT_RUNTIME : EXIT_OK;
                nd_look_result_done(&res);
        }
        nd_graph_done(&g);
        nd_store_close(s);
        return r;
}
