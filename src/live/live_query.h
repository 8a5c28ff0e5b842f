/* Read-only SQL over the live state, as operators write it.
 *
 * An authorizer allows reading and calling pure functions only: no
 * writes, no ATTACH, no PRAGMA (not even reading ones that could hang),
 * no load_extension, no schema changes, no transactions. One statement;
 * a time limit through the progress handler; a row limit. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ND_QUERY_MAX_SQL 16384

struct nd_query_limits {
        uint64_t time_ms; /* 1000 */
        size_t max_rows; /* 10000 */
};

#define ND_QUERY_LIMITS_DEFAULT ((struct nd_query_limits){ .time_ms = 1000, .max_rows = 10000 })

/* Runs sql on db and returns {"columns": [...], "rows": [[...], ...],
 * "truncated": false} in *ret (caller owns). -EPERM: refused by the
 * authorizer; -EINVAL: not one valid statement; -ETIMEDOUT: cut at the
 * time limit; each with a one-line reason in why. */
int nd_live_query_run(sqlite3 *db, const char *sql, const struct nd_query_limits *limits, json_t **ret, char *why,
                      size_t why_size);
