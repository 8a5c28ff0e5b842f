/* netdep query: read-only SQL over a server's live state. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/live-client.h"
#include "shared/log.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep query [OPTIONS] \"SELECT ...\"\n"
                "\n"
                "Read-only SQL over the live state a server keeps: the tables hosts,\n"
                "links, nginx_errors and alerts (docs/connectivity.md). Queries may\n"
                "only read, run at most 1 s, and return at most --limit rows.\n"
                "\n"
                "Options:\n"
                "      --server=URL       the server (default $NETDEP_SERVER, else " CLI_DEFAULT_SERVER ")\n"
                "      --token-file=FILE  a reader token (default $NETDEP_TOKEN_FILE)\n"
                "      --ca-file=FILE     CA certificate(s) for an https server\n"
                "  -f, --format=FORMAT    table (default), json or csv\n"
                "      --limit=N          at most N rows (default 10000)\n"
                "  -v, -q, -h             verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 answered (even with no rows), 1 the server could not\n"
                "answer, 2 usage error or a query the server refused.\n");
}

static void cell_text(json_t *v, char *buf, size_t size)
{
        if (json_is_string(v))
                snprintf(buf, size, "%s", json_string_value(v));
        else if (json_is_integer(v))
                snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) {
                double x = json_real_value(v);
                snprintf(buf, size, fabs(x) >= 1e6 || x == floor(x) ? "%.6g" : "%.3f", x);
        } else if (json_is_null(v))
                snprintf(buf, size, "NULL");
        else
                snprintf(buf, size, "%s", json_is_true(v) ? "true" : "false");
}

static void print_table(json_t *res)
{
        json_t *columns = json_object_get(res, "columns"), *rows = json_object_get(res, "rows"), *row, *v;
        size_t n = json_array_size(columns), i, k, *width = calloc(n ? n : 1, sizeof(*width));
        char buf[1024];

        if (!width)
                return;
        json_array_foreach(columns, k, v) width[k] = strlen(json_string_value(v) ?: "");
        json_array_foreach(rows, i, row) json_array_foreach(row, k, v)
        {
                cell_text(v, buf, sizeof(buf));
                if (k < n && strlen(buf) > width[k])
                        width[k] = strlen(buf);
        }
        json_array_foreach(columns, k, v) printf("%s%-*s", k ? "  " : "", (int)width[k], json_string_value(v) ?: "");
        putchar('\n');
        json_array_foreach(rows, i, row)
        {
                json_array_foreach(row, k, v)
                {
                        cell_text(v, buf, sizeof(buf));
                        /* Numbers right, text left, as a reader scans them. */
                        printf(json_is_number(v) ? "%s%*s" : "%s%-*s", k ? "  " : "", (int)(k < n ? width[k] : 0),
                               buf);
                }
                putchar('\n');
        }
        if (json_is_true(json_object_get(res, "truncated")))
                printf("(cut at %zu rows: --limit)\n", json_array_size(rows));
        free(width);
}

static void csv_field(const char *s)
{
        if (!strpbrk(s, ",\"\r\n")) {
                fputs(s, stdout);
                return;
        }
        putchar('"');
        for (; *s; s++) {
                if (*s == '"')
                        putchar('"');
                putchar(*s);
        }
        putchar('"');
}

static void print_csv(json_t *res)
{
        json_t *row, *v;
        size_t i, k;
        char buf[1024];

        json_array_foreach(json_object_get(res, "columns"), k, v)
        {
                if (k)
                        putchar(',');
                csv_field(json_string_value(v) ?: "");
        }
        fputs("\r\n", stdout);
        json_array_foreach(json_object_get(res, "rows"), i, row)
        {
                json_array_foreach(row, k, v)
                {
                        if (k)
                                putchar(',');
                        if (!json_is_null(v)) {
                                cell_text(v, buf, sizeof(buf));
                                csv_field(buf);
                        }
                }
                fputs("\r\n", stdout);
        }
}

enum { OPT_LIMIT = 0x100 };

int verb_query(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                { "format", required_argument, NULL, 'f' },
                { "limit", required_argument, NULL, OPT_LIMIT },
                {}
        };
        struct cli_remote remote = {};
        const char *format = "table";
        unsigned long long limit = 0;
        json_t *res = NULL;
        char why[1200] = "", *end;
        int c, index = 0, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":f:" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                if (c == CLI_OPT_SERVER || c == CLI_OPT_TOKEN_FILE || c == CLI_OPT_CA_FILE) {
                        cli_remote_option(&remote, c, options, index);
                        continue;
                }
                switch (c) {
                case 'f':
                        if (strcmp(optarg, "table") != 0 && strcmp(optarg, "json") != 0 && strcmp(optarg, "csv") != 0)
                                return usage_error("query", "invalid --format '%s' (want table, json or csv)", optarg);
                        format = optarg;
                        break;
                case OPT_LIMIT:
                        limit = strtoull(optarg, &end, 10);
                        if (*end || end == optarg || limit < 1 || limit > 10000)
                                return usage_error("query", "invalid --limit '%s' (want 1..10000)", optarg);
                        break;
                default:
                        r = cli_common_option(c, "query", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind + 1 != argc)
                return usage_error("query", optind == argc ? "missing the query" : "one query, quoted, please");
        cli_live_defaults(&remote);
        remote.timeout_ms = 30000;
        r = cli_live_query(&remote, argv[optind], (size_t)limit, &res, why, sizeof(why));
        if (r == -EINVAL)
                return usage_error("query", "%s", why);
        if (r < 0) {
                log_error("%s", why);
                return EXIT_RUNTIME;
        }
        if (strcmp(format, "json") == 0) {
                json_dumpf(res, stdout, JSON_COMPACT);
                putchar('\n');
        } else if (strcmp(format, "csv") == 0)
                print_csv(res);
        else
                print_table(res);
        json_decref(res);
        return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
