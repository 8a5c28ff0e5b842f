/* Shared by main.c and the verb-*.c files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses, as documented in docs/cli.md. */
enum {
        EXIT_OK = 0,
        EXIT_RUNTIME = 1, /* the operation failed; the message names it */
        EXIT_USAGE = 2, /* bad flags, values or arguments */
};

struct verb {
        const char *name;
        const char *summary;
        /* argv[0] is the verb name; getopt state is reset before the call. */
        int (*run)(int argc, char **argv);
};

int verb_flows(int argc, char **argv);
int verb_agent(int argc, char **argv);
int verb_look(int argc, char **argv);
int verb_diff(int argc, char **argv);
int verb_roles(int argc, char **argv);
int verb_db(int argc, char **argv);
int verb_trace(int argc, char **argv);
int verb_graph(int argc, char **argv);
int verb_impact(int argc, char **argv);
int verb_serve(int argc, char **argv);
int verb_hosts(int argc, char **argv);
int verb_query(int argc, char **argv);
int verb_check(int argc, char **argv);

/* Prints "netdep: error: MESSAGE" and a hint to --help; returns EXIT_USAGE. */
int usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The default: branch of a verb's getopt loop: the options every verb takes
 * and getopt's own errors (opterr must be 0, optstring must start with
 * ':'). Returns CLI_OPTION_DONE to go on, or an exit status to return at
 * once (EXIT_OK after --help, EXIT_USAGE after a usage error). */
enum { CLI_OPTION_DONE = -1 };
int cli_common_option(int c, const char *verb, char **argv, void (*help)(FILE *out));

/* "10.0.0.1:80", "[fd00::1]:many", "shop:db:5432": an address or role label
 * and a port, 0 meaning "many". */
void cli_format_endpoint(const char *label, int port, char *buf, size_t size);

/* "psql, pgid 4242", "nc ×2", "nc ×9+", "?": a process as a node shows it. */
void cli_format_process(const char *process, int32_t pgid, uint32_t processes, bool at_least, char *buf,
                        size_t size);
/* "45s", "11m", "3h", "2d". */
void cli_format_age(int64_t seconds, char *buf, size_t size);
/* RFC 3339 in UTC; "the beginning" and "now" for an open range's ends. */
void cli_format_time(int64_t t, char *buf, size_t size);

/* Edges last seen longer ago than this, before the end of the asked range,
 * are not current: the tree marks them, DOT dashes them, and --active
 * leaves them out. */
#define CLI_CURRENT_SECONDS 120

/* --active's value: a duration, or none for CLI_CURRENT_SECONDS. */
int cli_parse_active(const char *arg, int64_t *ret);

/* --resolve's value: a time budget for all reverse-DNS lookups together
 * (1 ms .. 60 s), or none for CLI_RESOLVE_BUDGET_MS. */
#define CLI_RESOLVE_BUDGET_MS 2000
int cli_parse_resolve(const char *arg, unsigned *ret);

/* The options the questions over the store (look, graph, impact) share:
 * --since, --until, --active[=D], --resolve[=BUDGET]. */
enum {
        CLI_OPT_SINCE = 0x200,
        CLI_OPT_UNTIL,
        CLI_OPT_ACTIVE,
        CLI_OPT_RESOLVE,
};
#define CLI_QUESTION_LONG_OPTIONS                                              \
        { "since", required_argument, NULL, CLI_OPT_SINCE },                   \
        { "until", required_argument, NULL, CLI_OPT_UNTIL },                   \
        { "active", optional_argument, NULL, CLI_OPT_ACTIVE },                 \
        { "resolve", optional_argument, NULL, CLI_OPT_RESOLVE }

struct nd_time_range;
struct cli_question {
        int64_t now;
        struct nd_time_range *range;
        int64_t *active_s;
        unsigned *resolve_ms;
};

/* One of those options into q. Returns CLI_OPTION_DONE, EXIT_USAGE after
 * saying what is wrong, or CLI_OPTION_OTHER when c is not one of them. */
enum { CLI_OPTION_OTHER = -2 };
int cli_question_option(int c, const char *verb, const struct cli_question *q);

/* Says in one line what a question's -ENOENT (no such host or role) or
 * -ENODATA (no edge in the range, narrowed by --active) means; returns
 * EXIT_RUNTIME. what: the host or role asked about, NULL for the whole
 * store. */
int cli_question_error(int r, const char *what, bool is_role, const struct cli_question *q);

/* Options every verb takes: -v/--verbose, -q/--quiet, -h/--help. */
#define COMMON_LONG_OPTIONS                                                    \
        { "help", no_argument, NULL, 'h' },                                    \
        { "verbose", no_argument, NULL, 'v' },                                 \
        { "quiet", no_argument, NULL, 'q' }
#define COMMON_SHORT_OPTIONS "hvq"
