/* Shared by main.c and the verb-*.c files. */
#pragma once

#include <stddef.h>
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

/* Options every verb takes: -v/--verbose, -q/--quiet, -h/--help. */
#define COMMON_LONG_OPTIONS                                                    \
        { "help", no_argument, NULL, 'h' },                                    \
        { "verbose", no_argument, NULL, 'v' },                                 \
        { "quiet", no_argument, NULL, 'q' }
#define COMMON_SHORT_OPTIONS "hvq"
