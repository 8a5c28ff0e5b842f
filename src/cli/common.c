/* What every verb shares: the common options and endpoint formatting. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "api/graph.h"
#include "model/addr.h"
#include "shared/log.h"
#include "shared/parse.h"

int cli_common_option(int c, const char *verb, char **argv, void (*help)(FILE *out))
{
        switch (c) {
        case 'h':
                help(stdout);
                return EXIT_OK;
        case 'v':
                log_adjust_level(+1);
                return CLI_OPTION_DONE;
        case 'q':
                log_set_max_level(LOG_LEVEL_ERROR);
                return CLI_OPTION_DONE;
        case ':':
                return usage_error(verb, "option '%s' needs a value", argv[optind - 1]);
        default:
                return usage_error(verb, "unknown option '%s'", argv[optind - 1]);
        }
}

void cli_format_endpoint(const char *label, int port, char *buf, size_t size)
{
        /* Bracket IPv6 addresses, not role labels (which hold a ':' too). */
        struct nd_addr a;
        bool v6 = strchr(label, ':') && nd_addr_parse(label, &a) == 0; /* not "ad:beef", a role */
        char portbuf[16];

        if (port > 0)
                snprintf(portbuf, sizeof(portbuf), "%d", port);
        else
                strcpy(portbuf, "many");
        snprintf(buf, size, v6 ? "[%s]:%s" : "%s:%s", label, portbuf);
}

void cli_format_process(const char *process, int32_t pgid, uint32_t processes, bool at_least, char *buf,
                        size_t size)
{
        const char *name = process[0] ? process : "?";

        if (processes > 1)
                snprintf(buf, size, "%s ×%u%s", name, processes, at_least ? "+" : "");
        else if (pgid >= 0)
                snprintf(buf, size, "%s, pgid %d", name, (int)pgid);
        else
                snprintf(buf, size, "%s", name);
}

void cli_format_age(int64_t seconds, char *buf, size_t size)
{
        if (seconds < 0)
                seconds = 0;
        if (seconds < 120)
                snprintf(buf, size, "%llds", (long long)seconds);
        else if (seconds < 2 * 3600)
                snprintf(buf, size, "%lldm", (long long)(seconds / 60));
        else if (seconds < 2 * 86400)
                snprintf(buf, size, "%lldh", (long long)(seconds / 3600));
        else
                snprintf(buf, size, "%lldd", (long long)(seconds / 86400));
}

void cli_format_time(int64_t t, char *buf, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (t == INT64_MIN || t == INT64_MAX || !gmtime_r(&tt, &tm))
                snprintf(buf, size, t == INT64_MIN ? "the beginning" : "now");
        else
                strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int cli_parse_active(const char *arg, int64_t *ret)
{
        uint64_t ms;

        if (!arg) {
                *ret = CLI_CURRENT_SECONDS;
                return 0;
        }
        if (parse_duration_ms(arg, &ms) < 0 || ms < 1000)
                return -EINVAL;
        *ret = ms / 1000;
        return 0;
}

int cli_parse_resolve(const char *arg, unsigned *ret)
{
        uint64_t ms;

        if (!arg) {
                *ret = CLI_RESOLVE_BUDGET_MS;
                return 0;
        }
        if (parse_duration_ms(arg, &ms) < 0 || ms < 1 || ms > 60000)
                return -EINVAL;
        *ret = (unsigned)ms;
        return 0;
}

int cli_question_option(int c, const char *verb, const struct cli_question *q)
{
        switch (c) {
        case CLI_OPT_SINCE:
                if (parse_time_point(optarg, q->now, &q->range->since) < 0)
                        return usage_error(verb, "invalid --since '%s' (e.g. 2h, 7d, 2026-11-22T08:00:00Z)", optarg);
                return CLI_OPTION_DONE;
        case CLI_OPT_UNTIL:
                if (parse_time_point(optarg, q->now, &q->range->until) < 0)
                        return usage_error(verb, "invalid --until '%s' (e.g. 1h, 2026-11-22T09:00:00Z)", optarg);
                return CLI_OPTION_DONE;
        case CLI_OPT_ACTIVE:
                if (cli_parse_active(optarg, q->active_s) < 0)
                        return usage_error(verb, "invalid --active '%s' (a duration: 90s, 5m)", optarg);
                return CLI_OPTION_DONE;
        case CLI_OPT_RESOLVE:
                if (cli_parse_resolve(optarg, q->resolve_ms) < 0)
                        return usage_error(verb, "invalid --resolve budget '%s' (e.g. 500ms, 2s)", optarg);
                return CLI_OPTION_DONE;
        default:
                return CLI_OPTION_OTHER;
        }
}

int cli_question_error(int r, const char *what, bool is_role, const struct cli_question *q)
{
        char since[32], until[32];
        struct nd_time_range shown;

        if (r == -ENOENT && is_role) {
                log_error("no known host has role %s", what);
                return EXIT_RUNTIME;
        }
        if (r == -ENOENT && what) {
                log_error("unknown host %s: not an address, and no agent reported that hostname", what);
                return EXIT_RUNTIME;
        }
        shown = nd_time_range_active(*q->range, q->now, *q->active_s);
        cli_format_time(shown.since, since, sizeof(since));
        cli_format_time(shown.until, until, sizeof(until));
        log_error("no edges%s%s between %s and %s", what ? " for " : "", what ? what : "", since, until);
        return EXIT_RUNTIME;
}
