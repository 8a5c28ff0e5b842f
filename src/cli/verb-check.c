/* netdep check: a Nagios plugin over a server's live state.
 *
 * One status line with perfdata, then the details, and the exit status
 * Nagios reads: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. CRITICAL means a
 * broken host (2 of its links down, or 2 hosts that cannot reach it); a
 * link down alone is a WARNING. UNKNOWN only when the server cannot
 * answer or what it knows is stale. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/live-client.h"

enum nagios {
        NAGIOS_OK,
        NAGIOS_WARNING,
        NAGIOS_CRITICAL,
        NAGIOS_UNKNOWN,
};

static const char *const nagios_names[] = { "OK", "WARNING", "CRITICAL", "UNKNOWN" };

#define DETAIL_LINES 20

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep check [--host NAME | --role ROLE | --query SQL] [OPTIONS]\n"
                "\n"
                "A Nagios plugin: the health of the fleet's links, from a server's live\n"
                "state. CRITICAL when a host is broken (2 of its links down, or 2 hosts\n"
                "cannot reach it), WARNING when a link is down or a host stopped\n"
                "reporting, UNKNOWN when the server cannot answer or all it knows is\n"
                "stale. With --query, CRITICAL when the query returns any row.\n"
                "\n"
                "Options:\n"
                "      --host=NAME        one host: its links, and links to it\n"
                "      --role=ROLE        the hosts of one role (ROLE or SERVICE:ROLE)\n"
                "      --query=SQL        any read-only query: rows are the problems\n"
                "      --server=URL       the server (default $NETDEP_SERVER, else " CLI_DEFAULT_SERVER ")\n"
                "      --token-file=FILE  a reader token (default $NETDEP_TOKEN_FILE)\n"
                "      --ca-file=FILE     CA certificate(s) for an https server\n"
                "      --timeout=SECONDS  give up on the server after this (default 10)\n"
                "  -h                     this help\n"
                "\n"
                "Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios' own).\n");
}

struct check {
        struct cli_remote *remote;
        char scope[1400]; /* a WHERE condition on hosts: all, a host, a role */
        char link_scope[3000]; /* the same on links (either end) */
        const char *label; /* "fleet", "host web1", "role web" */
        char details[DETAIL_LINES][300];
        size_t n_details;
};

static int say(enum nagios status, const char *summary, const char *perfdata, const struct check *c)
{
        printf("NETDEP %s - %s%s%s\n", nagios_names[status], summary, perfdata ? " | " : "", perfdata ? perfdata : "");
        for (size_t i = 0; c && i < c->n_details; i++)
                printf("%s\n", c->details[i]);
        return (int)status;
}

static const char *str(json_t *row, size_t i)
{
        return json_string_value(json_array_get(row, i)) ?: "";
}

static long long num(json_t *row, size_t i)
{
        json_t *v = json_array_get(row, i);
        return json_is_integer(v) ? json_integer_value(v) : json_is_real(v) ? (long long)json_real_value(v) : 0;
}

static int ask(struct check *c, const char *sql, json_t **ret, enum nagios *ret_status, char *why, size_t why_size)
{
        int r = cli_live_query(c->remote, sql, 0, ret, why, why_size);

        if (r < 0)
                *ret_status = NAGIOS_UNKNOWN;
        return r;
}

static void link_text(json_t *row, char *buf, size_t size)
{
        /* src, dst, port, kind, dst_host, state */
        if (strcmp(str(row, 3), "icmp") == 0)
                snprintf(buf, size, "%s -> %s%s%s (icmp) %s", str(row, 0), str(row, 1), *str(row, 4) ? " " : "",
                         str(row, 4), str(row, 5));
        else
                snprintf(buf, size, "%s -> %s:%lld%s%s %s", str(row, 0), str(row, 1), num(row, 2),
                         *str(row, 4) ? " " : "", str(row, 4), str(row, 5));
}

static int check_links(struct check *c)
{
        json_t *hosts = NULL, *down = NULL, *totals = NULL, *row;
        char sql[4096], why[1200], summary[1400] = "", broken[900] = "", perf[512], one[300];
        size_t n_hosts, n_broken = 0, n_stale = 0, n_down, i;
        enum nagios status = NAGIOS_OK;
        long long n_links;
        double sent, lost;

        snprintf(sql, sizeof(sql),
                 "SELECT name, state, disconnects, broken_peers FROM hosts WHERE %s ORDER BY name", c->scope);
        if (ask(c, sql, &hosts, &status, why, sizeof(why)) < 0)
                return say(NAGIOS_UNKNOWN, why, NULL, NULL);
        snprintf(sql, sizeof(sql),
                 "SELECT src, dst, port, kind, coalesce(dst_host, ''), state FROM links"
                 " WHERE down = 1 AND state IN ('down', 'refused') AND (%s) ORDER BY src, dst, port, kind",
                 c->link_scope);
        if (ask(c, sql, &down, &status, why, sizeof(why)) < 0) {
                json_decref(hosts);
                return say(NAGIOS_UNKNOWN, why, NULL, NULL);
        }
        snprintf(sql, sizeof(sql), "SELECT count(*), total(sent), total(lost) FROM links WHERE state <> 'stale' AND (%s)",
                 c->link_scope);
        if (ask(c, sql, &totals, &status, why, sizeof(why)) < 0) {
                json_decref(hosts);
                json_decref(down);
                return say(NAGIOS_UNKNOWN, why, NULL, NULL);
        }
        row = json_array_get(json_object_get(totals, "rows"), 0);
        n_links = num(row, 0);
        sent = json_number_value(json_array_get(row, 1));
        lost = json_number_value(json_array_get(row, 2));

        n_hosts = json_array_size(json_object_get(hosts, "rows"));
        n_down = json_array_size(json_object_get(down, "rows"));
        json_array_foreach(json_object_get(hosts, "rows"), i, row)
        {
                if (strcmp(str(row, 1), "broken") == 0) {
                        char h[300], own[64] = "", peers[64] = "";

                        if (num(row, 2) > 0)
                                snprintf(own, sizeof(own), "%lld of its links down", num(row, 2));
                        if (num(row, 3) > 0)
                                snprintf(peers, sizeof(peers), "unreachable from %lld hosts", num(row, 3));
                        snprintf(h, sizeof(h), "%s%s (%s%s%s)", n_broken ? ", " : "", str(row, 0), own,
                                 own[0] && peers[0] ? ", " : "", peers);
                        if (strlen(broken) + strlen(h) < sizeof(broken) - 8)
                                strcat(broken, h);
                        n_broken++;
                } else if (strcmp(str(row, 1), "stale") == 0)
                        n_stale++;
        }
        json_array_foreach(json_object_get(down, "rows"), i, row)
        {
                if (c->n_details < DETAIL_LINES)
                        link_text(row, c->details[c->n_details++], sizeof(c->details[0]));
        }
        snprintf(perf, sizeof(perf),
                 "'hosts'=%zu;;;0 'broken'=%zu;;0;0 'stale'=%zu;0;;0 'links'=%lld;;;0 'links_down'=%zu;0;;0 "
                 "'loss'=%.2f%%;;;0;100",
                 n_hosts, n_broken, n_stale, n_links, n_down,
                 sent > 0 ? 100.0 * lost / sent : 0.0);

        if (n_hosts == 0) {
                status = NAGIOS_UNKNOWN;
                snprintf(summary, sizeof(summary), "%s: no host reports to %s", c->label, c->remote->server);
        } else if (n_stale == n_hosts) {
                status = NAGIOS_UNKNOWN;
                snprintf(summary, sizeof(summary), "%s: data stale, %zu hosts stopped reporting", c->label, n_stale);
        } else if (n_broken > 0) {
                status = NAGIOS_CRITICAL;
                snprintf(summary, sizeof(summary), "%s: %zu broken: %s", c->label, n_broken, broken);
        } else if (n_down > 0) {
                status = NAGIOS_WARNING;
                link_text(json_array_get(json_object_get(down, "rows"), 0), one, sizeof(one));
                snprintf(summary, sizeof(summary), "%s: %zu links down: %s%s", c->label, n_down, one,
                         n_down > 1 ? ", ..." : "");
        } else if (n_stale > 0) {
                status = NAGIOS_WARNING;
                snprintf(summary, sizeof(summary), "%s: %zu of %zu hosts stopped reporting", c->label, n_stale,
                         n_hosts);
        } else
                snprintf(summary, sizeof(summary), "%s: %zu hosts, %lld links up", c->label, n_hosts, n_links);
        json_decref(hosts);
        json_decref(down);
        json_decref(totals);
        return say(status, summary, perf, c);
}

static int check_query(struct check *c, const char *sql)
{
        json_t *res = NULL, *row, *v;
        char why[1200], summary[600], perf[128];
        size_t n, i, k;
        int r = cli_live_query(c->remote, sql, 0, &res, why, sizeof(why));

        if (r < 0)
                return say(NAGIOS_UNKNOWN, why, NULL, NULL);
        n = json_array_size(json_object_get(res, "rows"));
        json_array_foreach(json_object_get(res, "rows"), i, row)
        {
                char *line;
                size_t len = 0;

                if (c->n_details >= DETAIL_LINES)
                        break;
                line = c->details[c->n_details++];
                line[0] = '\0';
                json_array_foreach(row, k, v)
                {
                        char *text = json_is_string(v) ? strdup(json_string_value(v))
                                                       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                        len += (size_t)snprintf(line + len, len < sizeof(c->details[0]) ? sizeof(c->details[0]) - len : 0,
                                                "%s%s", k ? " " : "", text ? text : "?");
                        free(text);
                }
        }
        snprintf(perf, sizeof(perf), "'rows'=%zu;;0;0", n);
        if (n == 0)
                snprintf(summary, sizeof(summary), "query: no rows");
        else
                snprintf(summary, sizeof(summary), "query: %zu rows%s%s", n, n ? ": " : "", c->details[0]);
        json_decref(res);
        return say(n ? NAGIOS_CRITICAL : NAGIOS_OK, summary, perf, c);
}

enum { OPT_HOST = 0x100, OPT_ROLE, OPT_QUERY, OPT_TIMEOUT };

int verb_check(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                { "host", required_argument, NULL, OPT_HOST },
                { "role", required_argument, NULL, OPT_ROLE },
                { "query", required_argument, NULL, OPT_QUERY },
                { "timeout", required_argument, NULL, OPT_TIMEOUT },
                {}
        };
        struct cli_remote remote = {};
        struct check c = { .remote = &remote, .label = "fleet" };
        const char *host = NULL, *role = NULL, *query = NULL;
        char label[300], *end;
        unsigned long timeout_s = 10;
        int ch, index = 0, modes = 0;

        opterr = 0;
        while ((ch = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                switch (ch) {
                case CLI_OPT_SERVER:
                case CLI_OPT_TOKEN_FILE:
                case CLI_OPT_CA_FILE:
                        cli_remote_option(&remote, ch, options, index);
                        break;
                case OPT_HOST:
                        host = optarg;
                        modes++;
                        break;
                case OPT_ROLE:
                        role = optarg;
                        modes++;
                        break;
                case OPT_QUERY:
                        query = optarg;
                        modes++;
                        break;
                case OPT_TIMEOUT:
                        timeout_s = strtoul(optarg, &end, 10);
                        if (*end || end == optarg || timeout_s < 1 || timeout_s > 600) {
                                printf("NETDEP UNKNOWN - invalid --timeout '%s' (want 1..600 seconds)\n", optarg);
                                return NAGIOS_UNKNOWN;
                        }
                        break;
                case 'h':
                        help(stdout);
                        return NAGIOS_OK;
                case 'v':
                case 'q':
                        break;
                default:
                        /* Nagios reads a plugin's usage errors as UNKNOWN. */
                        printf("NETDEP UNKNOWN - bad option '%s' (netdep check --help)\n", argv[optind - 1]);
                        return NAGIOS_UNKNOWN;
                }
        }
        if (optind < argc || modes > 1) {
                printf("NETDEP UNKNOWN - %s (netdep check --help)\n",
                       modes > 1 ? "--host, --role and --query go one at a time" : "unexpected argument");
                return NAGIOS_UNKNOWN;
        }
        cli_live_defaults(&remote);
        remote.timeout_ms = (unsigned)(timeout_s * 1000);
        if (query)
                return check_query(&c, query);

        if (host) {
                snprintf(c.scope, sizeof(c.scope), "name = ");
                cli_sql_append_literal(c.scope, sizeof(c.scope), host);
                snprintf(c.link_scope, sizeof(c.link_scope), "src = ");
                cli_sql_append_literal(c.link_scope, sizeof(c.link_scope), host);
                strcat(c.link_scope, " OR dst_host = ");
                cli_sql_append_literal(c.link_scope, sizeof(c.link_scope), host);
                snprintf(label, sizeof(label), "host %s", host);
                c.label = label;
        } else if (role) {
                snprintf(c.scope, sizeof(c.scope), "role = ");
                cli_sql_append_literal(c.scope, sizeof(c.scope), role);
                strcat(c.scope, " OR service || ':' || role = ");
                cli_sql_append_literal(c.scope, sizeof(c.scope), role);
                snprintf(c.link_scope, sizeof(c.link_scope),
                         "src IN (SELECT name FROM hosts WHERE %s) OR dst_host IN (SELECT name FROM hosts WHERE %s)",
                         c.scope, c.scope);
                snprintf(label, sizeof(label), "role %s", role);
                c.label = label;
        } else {
                snprintf(c.scope, sizeof(c.scope), "1");
                snprintf(c.link_scope, sizeof(c.link_scope), "1");
        }
        return check_links(&c);
}
