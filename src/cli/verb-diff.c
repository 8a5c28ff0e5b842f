/* netdep diff: edges that appeared or vanished between two time ranges. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/diff.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/store-open.h"
#include "shared/log.h"
#include "shared/parse.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep diff (--host ADDR|NAME | --role SERVICE:ROLE)\n"
                "                   --before T1..T2 --after T3..T4 [OPTIONS]\n"
                "\n"
                "The edges of a host or role (both directions) that appeared ('+') or\n"
                "vanished ('-') between two time ranges, and those in one range only that\n"
                "were seen beyond the other ('~': a gap in their sightings, not a change).\n"
                "T is a duration back from now (90s, 30m, 2h, 7d) or RFC 3339, e.g.\n"
                "--before 8d..7d --after 1d..0s.\n"
                "\n"
                "Options:\n"
                "      --group-by=host|role  fold hosts into service:role\n"
                "      --json                {\"appeared\": [...], \"vanished\": [...]}\n"
                "      --resolve[=BUDGET]    reverse-DNS names for addresses with none,\n"
                "                            within BUDGET in total (default 2s)\n"
                "      --store=URI           default sqlite:netdep.db or $NETDEP_STORE\n"
                "      --server=URL          ask a netdep server (netdep serve) instead\n"
                "      --token-file=FILE     its reader token, on the first line\n"
                "      --ca-file=FILE        the CA to trust for an https server\n"
                "  -v, -q, -h                verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success (with or without changes), 1 no edges in either range, an\n"
                "unknown host or role, or a store failure, 2 usage.\n");
}

enum { OPT_HOST = 0x100, OPT_ROLE, OPT_BEFORE, OPT_AFTER, OPT_GROUP, OPT_JSON, OPT_STORE };

/* "db1 10.0.0.30:5432": the name (if any) before the endpoint. */
static void place(struct nd_graph *g, const char *label, int port, char *buf, size_t size)
{
        const char *name = nd_graph_name(g, label);
        char ep[256];

        cli_format_endpoint(label, port, ep, sizeof(ep));
        snprintf(buf, size, "%s%s%s", name ? name : "", name ? " " : "", ep);
}

/* The minutes (observation buckets) a range overlaps. */
static int64_t minutes_of(const struct nd_time_range *r)
{
        return r->until / ND_BUCKET_SECONDS - r->since / ND_BUCKET_SECONDS + 1;
}

/* "+ app1 10.0.0.21:many (curl) --> db1 10.0.0.30:5432 (postgres)  connections 2  seen in 4 of 10 min" */
static void print_edges(struct nd_graph *g, const char *sign, const struct nd_labeled_edges *l,
                        const struct nd_time_range *range, const char *note)
{
        for (size_t i = 0; i < l->n; i++) {
                const struct nd_labeled_edge *e = &l->items[i];
                char c[512], s[512];

                place(g, e->client, 0, c, sizeof(c));
                place(g, e->server, e->port, s, sizeof(s));
                printf("%s %s (%s) --> %s (%s)  connections %u  seen in %u of %lld min%s\n", sign, c,
                       e->client_process[0] ? e->client_process : "?", s,
                       e->server_process[0] ? e->server_process : "?", e->connections, e->buckets,
                       (long long)minutes_of(range), note);
        }
}

static json_t *name_json(struct nd_graph *g, const char *label)
{
        const char *name = nd_graph_name(g, label);

        return name ? json_string(name) : json_null();
}

static json_t *edges_json(struct nd_graph *g, const struct nd_labeled_edges *l)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < l->n; i++) {
                const struct nd_labeled_edge *e = &l->items[i];
                json_array_append_new(a, json_pack("{s:{s:s,s:o,s:o}, s:{s:s,s:o,s:i,s:o}, s:I, s:I, s:I, s:I}",
                        "client", "label", e->client, "name", name_json(g, e->client), "process",
                        e->client_process[0] ? json_string(e->client_process) : json_null(),
                        "server", "label", e->server, "name", name_json(g, e->server), "port", (int)e->port,
                        "process", e->server_process[0] ? json_string(e->server_process) : json_null(),
                        "connections", (json_int_t)e->connections,
                        "first_seen", (json_int_t)e->first_seen, "last_seen", (json_int_t)e->last_seen,
                        "minutes_seen", (json_int_t)e->buckets));
        }
        return a;
}

/* The names of the edges' ends: hostnames read for them alone, and
 * reverse DNS when asked. Names are a nicety: a failed lookup leaves the
 * addresses. */
static void find_names(struct nd_graph *g, const struct nd_diff_result *res, unsigned resolve_ms)
{
        const struct nd_labeled_edges *lists[] = { &res->appeared, &res->vanished, &res->missed_before,
                                                   &res->missed_after };
        size_t n = 0, k = 0;
        const char **labels;

        for (int l = 0; l < 4; l++)
                n += 2 * lists[l]->n;
        labels = calloc(n ? n : 1, sizeof(*labels));
        if (!labels)
                return;
        for (int l = 0; l < 4; l++)
                for (size_t i = 0; i < lists[l]->n; i++) {
                        labels[k++] = lists[l]->items[i].client;
                        labels[k++] = lists[l]->items[i].server;
                }
        (void)nd_graph_prefetch_names(g, labels, k);
        if (resolve_ms)
                (void)nd_graph_resolve_names(g, labels, k, resolve_ms);
        free(labels);
}

int verb_diff(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST },
                { "role", required_argument, NULL, OPT_ROLE },
                { "before", required_argument, NULL, OPT_BEFORE },
                { "after", required_argument, NULL, OPT_AFTER },
                { "group-by", required_argument, NULL, OPT_GROUP },
                { "json", no_argument, NULL, OPT_JSON },
                { "resolve", optional_argument, NULL, CLI_OPT_RESOLVE },
                { "store", required_argument, NULL, OPT_STORE },
                {}
        };
        static const char *const groups[] = { "host", "role", NULL };
        struct nd_diff_options o = {};
        bool have_before = false, have_after = false, json = false;
        const char *uri = NULL;
        int64_t now = (int64_t)time(NULL);
        struct nd_store *s = NULL;
        struct nd_diff_result res;
        struct nd_graph g;
        unsigned resolve_ms = 0;
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
                                return usage_error("diff", "invalid --role '%s' (want SERVICE:ROLE)", optarg);
                        o.role = optarg;
                        break;
                }
                case OPT_BEFORE:
                        if (parse_time_range(optarg, now, &o.before.since, &o.before.until) < 0)
                                return usage_error("diff", "invalid --before '%s' (want T1..T2, e.g. 8d..7d)", optarg);
                        have_before = true;
                        break;
                case OPT_AFTER:
                        if (parse_time_range(optarg, now, &o.after.since, &o.after.until) < 0)
                                return usage_error("diff", "invalid --after '%s' (want T3..T4, e.g. 1d..0s)", optarg);
                        have_after = true;
                        break;
                case OPT_GROUP:
                        if ((i = parse_choice(optarg, groups)) < 0)
                                return usage_error("diff", "invalid --group-by '%s' (host or role)", optarg);
                        o.by_role = i == 1;
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                case CLI_OPT_RESOLVE:
                        if (cli_parse_resolve(optarg, &resolve_ms) < 0)
                                return usage_error("diff", "invalid --resolve budget '%s' (e.g. 500ms, 2s)", optarg);
                        break;
                case OPT_STORE:
                        uri = optarg;
                        break;
                default:
                        r = cli_common_option(c, "diff", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return usage_error("diff", "unexpected argument '%s'", argv[optind]);
        if (!o.host == !o.role)
                return usage_error("diff", "give one of --host or --role");
        if (!have_before || !have_after)
                return usage_error("diff", "give both --before T1..T2 and --after T3..T4");

        if (remote.server && uri)
                return usage_error("diff", "give --store or --server, not both");
        if (remote.server)
                return cli_remote_run(&remote, "diff", "/api/v1/diff", "GET", NULL);

        r = cli_open_store(uri, CLI_STORE_CHECKED, &s);
        if (r != 0)
                return r;
        r = nd_graph_init(&g, s, o.by_role);
        if (r >= 0)
                r = nd_diff(&g, &o, &res);
        if (r >= 0)
                find_names(&g, &res, resolve_ms);
        if (r == -ENOENT) {
                log_error("unknown %s %s", o.host ? "host" : "role", o.host ? o.host : o.role);
                r = EXIT_RUNTIME;
        } else if (r == -ENODATA) {
                log_error("no edges for %s in either range", o.host ? o.host : o.role);
                r = EXIT_RUNTIME;
        } else if (r < 0)
                r = cli_store_error(s, r, "query edges");
        else {
                if (json) {
                        json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:I}", "appeared", edges_json(&g, &res.appeared),
                                              "vanished", edges_json(&g, &res.vanished),
                                              "missed_before", edges_json(&g, &res.missed_before),
                                              "missed_after", edges_json(&g, &res.missed_after),
                                              "unchanged", (json_int_t)res.unchanged);
                        if (!j || json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0) {
                                log_error("Failed to write the changes: %s", strerror(j ? EIO : ENOMEM));
                                r = EXIT_RUNTIME;
                        }
                        putchar('\n');
                        json_decref(j);
                } else {
                        print_edges(&g, "+", &res.appeared, &o.after, "");
                        print_edges(&g, "-", &res.vanished, &o.before, "");
                        print_edges(&g, "~", &res.missed_before, &o.after,
                                    " after; none before, yet seen earlier: a gap, not new");
                        print_edges(&g, "~", &res.missed_after, &o.before,
                                    " before; none after, yet seen later: a gap, not gone");
                        printf("%zu appeared, %zu vanished, %zu intermittent, %zu unchanged\n", res.appeared.n,
                               res.vanished.n, res.missed_before.n + res.missed_after.n, res.unchanged);
                }
                if (r != EXIT_RUNTIME && fflush(stdout) != 0) {
                        log_error_errno(errno, "Failed to write the changes: %m");
                        r = EXIT_RUNTIME;
                } else if (r != EXIT_RUNTIME)
                        r = EXIT_OK;
                nd_diff_result_done(&res);
        }
        nd_graph_done(&g);
        nd_store_close(s);
        return r;
}
