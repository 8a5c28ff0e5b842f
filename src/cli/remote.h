/* A question verb asked of a netdep server instead of a store: `look
 * --server URL` is GET URL/api/v1/look with the same options as query
 * parameters, and prints what the server answers, which is what `look
 * --store` prints on the server's store. */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
        CLI_OPT_SERVER = 0x300,
        CLI_OPT_TOKEN_FILE,
        CLI_OPT_CA_FILE,
};
#define CLI_REMOTE_LONG_OPTIONS                                                \
        { "server", required_argument, NULL, CLI_OPT_SERVER },                 \
        { "token-file", required_argument, NULL, CLI_OPT_TOKEN_FILE },         \
        { "ca-file", required_argument, NULL, CLI_OPT_CA_FILE }

#define CLI_REMOTE_MAX_PARAMS 32

struct cli_remote {
        const char *server, *token_file, *ca_file;
        unsigned timeout_ms; /* the whole request; 0: none */
        struct {
                const char *name, *value; /* value NULL: a flag */
        } params[CLI_REMOTE_MAX_PARAMS];
        size_t n;
};

/* Call for every option getopt_long() returns, index its long index:
 * takes --server, --token-file and --ca-file (true: handled), and notes
 * every other long option but --store as a parameter to pass on. */
bool cli_remote_option(struct cli_remote *r, int c, const struct option *options, int index);

/* Adds a parameter by hand (an operand such as impact's target). */
void cli_remote_param(struct cli_remote *r, const char *name, const char *value);

/* The lower half, which logs nothing: asks r->server, writes a 2xx body
 * to out and returns 0. Otherwise *ret_status is the HTTP status (0 when
 * there was no answer) and why the reason in one line: -EPROTO for a
 * non-2xx answer, -EINVAL for a bad --server, -EIO when it could not ask. */
int cli_remote_fetch(struct cli_remote *r, const char *path, const char *method, const char *body, size_t body_size,
                     FILE *out, long *ret_status, char *why, size_t why_size);

/* Asks r->server: method "GET", or "POST" with body_path's content.
 * Writes the answer to stdout; returns the exit status the verb would
 * have: 0, 2 for a usage error (400), 1 for anything else, with the
 * server's reason in one line. */
int cli_remote_run(struct cli_remote *r, const char *verb, const char *path, const char *method,
                   const char *body_path);
