/* netdep impact: everything that depends on a host or role, transitively
 * (or, with --reverse, everything it depends on). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/impact.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/store-open.h"
#include "model/addr.h"
#include "shared/log.h"
#include "shared/parse.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep impact HOST|SERVICE:ROLE [OPTIONS]\n"
                "\n"
                "Everything that depends on a host or role, transitively: what breaks\n"
                "if it goes. A flat list, each host (or role) once, with the hop it is\n"
                "first found at and how many shortest dependency chains lead to it,\n"
                "then the total. HOST is an address or a hostname an agent reported.\n"
                "\n"
                "Options:\n"
                "      --reverse            what it depends on instead\n"
                "      --depth=N            hops, 1..%d (default %d)\n"
                "      --since=T, --until=T only edges seen in that range (as 'look')\n"
                "      --active[=D]         only edges seen in the last D (default %ds)\n"
                "      --group-by=host|role list roles, not hosts (the default for a role)\n"
                "      --format=text|json\n"
                "      --resolve[=BUDGET]   reverse-DNS names for addresses with none,\n"
                "                           within BUDGET in total (default 2s)\n"
                "      --store=URI          default sqlite:netdep.db or $NETDEP_STORE\n"
                "      --server=URL         ask a netdep server (netdep serve) instead\n"
                "      --token-file=FILE    its reader token, on the first line\n"
                "      --ca-file=FILE       the CA to trust for an https server\n"
                "  -v, -q, -h               verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success (also when nothing depends on it), 1 no edges\n"
                "or a failure, 2 usage error.\n",
                ND_IMPACT_MAX_DEPTH, ND_IMPACT_MAX_DEPTH, CLI_CURRENT_SECONDS);
}

enum { OPT_REVERSE = 0x100, OPT_DEPTH, OPT_GROUP, OPT_FORMAT, OPT_STORE };

static void place(const struct nd_impact_entry *e, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s%s", e->name ? e->name : "", e->name ? " " : "", e->label);
}

static int print_text(FILE *out, const char *target, const struct nd_impact_options *o,
                      const struct nd_impact_result *res, bool by_role)
{
        const char *what = by_role ? "role or host" : "host", *whats = by_role ? "roles or hosts" : "hosts";
        int max_depth = 0;

        if (res->n)
                fprintf(out, "%-5s  %-6s  %s\n", "DEPTH", "PATHS", by_role ? "ROLE OR HOST" : "HOST");
        for (size_t i = 0; i < res->n; i++) {
                char p[ND_LABEL_MAX + 300];

                place(&res->items[i], p, sizeof(p));
                fprintf(out, "%-5d  %-6llu  %s\n", res->items[i].depth, (unsigned long long)res->items[i].paths, p);
                if (res->items[i].depth > max_depth)
                        max_depth = res->items[i].depth;
        }
        if (o->reverse)
                fprintf(out, "total: %s depends on %zu %s", target, res->n, res->n == 1 ? what : whats);
        else
                fprintf(out, "total: %zu %s depend%s on %s", res->n, res->n == 1 ? what : whats,
                        res->n == 1 ? "s" : "", target);
        if (res->n)
                fprintf(out, ", within %d hop%s", max_depth, max_depth == 1 ? "" : "s");
        fprintf(out, "%s\n", res->cut ? " (more past --depth)" : "");
        return ferror(out) ? -EIO : 0;
}

static int print_json(FILE *out, const char *target, const struct nd_impact_options *o,
                      const struct nd_impact_result *res)
{
        json_t *items = json_array(), *j;
        int r;

        for (size_t i = 0; items && i < res->n; i++) {
                const struct nd_impact_entry *e = &res->items[i];
                json_array_append_new(items, json_pack("{s:s, s:o, s:i, s:I}", "label", e->label, "name",
                                                       e->name ? json_string(e->name) : json_null(), "depth",
                                                       e->depth, "paths", (json_int_t)(e->paths > INT64_MAX ? INT64_MAX : e->paths)));
        }
        j = json_pack("{s:s, s:s, s:o, s:I, s:b}", "target", target, "direction",
                      o->reverse ? "depends_on" : "dependents", "items", items ? items : json_array(),
                      "total", (json_int_t)res->n, "cut", res->cut);
        if (!j)
                return -ENOMEM;
        r = json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(j);
        return r < 0 ? -EIO : 0;
}

/* HOST or SERVICE:ROLE: an address is a host (IPv6 has ':' too); a
 * SERVICE:ROLE with a known role is a role; anything else a hostname. */
static bool is_role(struct nd_graph *g, const char *arg)
{
        char service[ND_ROLE_FIELD_MAX], role[ND_ROLE_FIELD_MAX];
        struct nd_addr a;

        if (nd_addr_parse(arg, &a) == 0 || nd_role_split(arg, service, role, sizeof(service)) < 0)
                return false;
        for (size_t i = 0; i < g->rules.n; i++)
                if (strcmp(g->rules.items[i].service, service) == 0 && strcmp(g->rules.items[i].role, role) == 0)
                        return true;
        return false;
}

int verb_impact(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                CLI_QUESTION_LONG_OPTIONS,
                { "reverse", no_argument, NULL, OPT_REVERSE },
                { "depth", required_argument, NULL, OPT_DEPTH },
                { "group-by", required_argument, NULL, OPT_GROUP },
                { "format", required_argument, NULL, OPT_FORMAT },
                { "store", required_argument, NULL, OPT_STORE },
                {}
        };
        static const char *const groups[] = { "host", "role", NULL };
        static const char *const formats[] = { "text", "json", NULL };
        int64_t now = (int64_t)time(NULL);
        struct nd_impact_options o = { .depth = ND_IMPACT_MAX_DEPTH, .range = { INT64_MIN, INT64_MAX }, .now = now };
        const struct cli_question q = { now, &o.range, &o.active_s, &o.resolve_ms };
        int group = -1, json = 0;
        const char *uri = NULL, *target;
        struct nd_store *s = NULL;
        struct nd_impact_result res = {};
        struct nd_graph g;
        long long v;
        struct cli_remote remote = {};
        int c, index = 0, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                if (cli_remote_option(&remote, c, options, index))
                        continue;
                switch (c) {
                case OPT_REVERSE:
                        o.reverse = true;
                        break;
                case OPT_DEPTH:
                        if (parse_int_range(optarg, 1, ND_IMPACT_MAX_DEPTH, &v) < 0)
                                return usage_error("impact", "invalid --depth '%s' (1..%d)", optarg, ND_IMPACT_MAX_DEPTH);
                        o.depth = (int)v;
                        break;
                case OPT_GROUP:
                        if ((group = parse_choice(optarg, groups)) < 0)
                                return usage_error("impact", "invalid --group-by '%s' (host or role)", optarg);
                        break;
                case OPT_FORMAT:
                        if ((json = parse_choice(optarg, formats)) < 0)
                                return usage_error("impact", "invalid --format '%s' (text or json)", optarg);
                        break;
                case OPT_STORE:
                        uri = optarg;
                        break;
                default:
                        r = cli_question_option(c, "impact", &q);
                        if (r == CLI_OPTION_OTHER)
                                r = cli_common_option(c, "impact", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind >= argc)
                return usage_error("impact", "give the host or SERVICE:ROLE it is about");
        if (optind + 1 < argc)
                return usage_error("impact", "unexpected argument '%s'", argv[optind + 1]);
        target = argv[optind];
        if (o.range.since > o.range.until)
                return usage_error("impact", "--since is after --until");

        if (remote.server && uri)
                return usage_error("impact", "give --store or --server, not both");
        if (remote.server) {
                cli_remote_param(&remote, "target", target);
                return cli_remote_run(&remote, "impact", "/api/v1/impact", "GET", NULL);
        }

        r = cli_open_store(uri, CLI_STORE_CHECKED, &s);
        if (r != 0)
                return r;
        r = nd_graph_init(&g, s, false);
        if (r >= 0) {
                if (is_role(&g, target))
                        o.role = target;
                else
                        o.host = target;
                g.by_role = group == 1 || (group < 0 && o.role);
                r = nd_impact(&g, &o, &res);
        }
        if (r == -ENOENT || r == -ENODATA)
                r = cli_question_error(r, target, o.role != NULL, &q);
        else if (r < 0)
                r = cli_store_error(s, r, "query edges");
        else {
                r = json ? print_json(stdout, target, &o, &res) : print_text(stdout, target, &o, &res, g.by_role);
                if (r >= 0 && fflush(stdout) != 0)
                        r = -errno;
                if (r < 0)
                        log_error("Failed to write the list: %s", strerror(-r));
                r = r < 0 ? EXIT_RUNTIME : EXIT_OK;
        }
        nd_impact_result_done(&res);
        nd_graph_done(&g);
        nd_store_close(s);
        return r;
}
