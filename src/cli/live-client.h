/* Asking a server's live state (GET /api/v1/query): what `query` and
 * `check` share. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "cli/remote.h"

#define CLI_DEFAULT_SERVER "http://127.0.0.1:8470"

/* --server, else $NETDEP_SERVER, else CLI_DEFAULT_SERVER; the same for
 * --token-file ($NETDEP_TOKEN_FILE). */
void cli_live_defaults(struct cli_remote *r);

/* Runs sql on the server: 0 and {"columns", "rows", "truncated"} in *ret;
 * or -EINVAL (the server refused the query: 400), or another negative
 * when it could not answer; why says so in one line. */
int cli_live_query(struct cli_remote *r, const char *sql, size_t limit, json_t **ret, char *why, size_t why_size);

/* sql's text with s as a quoted SQL string literal appended. */
int cli_sql_append_literal(char *sql, size_t size, const char *s);
