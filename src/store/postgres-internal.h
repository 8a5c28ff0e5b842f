/* What the PostgreSQL back end's files share; nothing outside
 * src/store/postgres*.c includes this.
 *
 *   postgres.c         connection, errors, statements and pipelines, the ops table
 *   postgres-text.c    text as PostgreSQL takes it: UTF-8, array literals
 *   postgres-schema.c  migrations, day partitions, retention
 *   postgres-ingest.c  an agent's flush: endpoints, edges, observations
 *   postgres-known.c   the ids a connection knows, so that its ingests need not ask again
 *   postgres-query.c   edges, hosts, endpoint addresses, roles */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/cleanup.h"
#include "shared/strmap.h"
#include "store/libpq-dl.h"
#include "store/store.h"

#define DAY_SECONDS 86400
#define KNOWN_DAYS_MAX 8

DEFINE_TRIVIAL_CLEANUP_FUNC(PGresult *, PQclear);
#define _cleanup_result_ _cleanup_(PQclearp)

/* An endpoint as this connection last wrote or read it (postgres-known.c). */
struct pg_known_endpoint {
        int64_t id;
        double expires; /* CLOCK_MONOTONIC seconds: then ask the server again */
        int32_t pgid;
        char name[ND_PROCESS_NAME_MAX];
};

struct pg_known_edge {
        int64_t client_id, server_id, id; /* id 0: an empty slot */
};

struct pg_store {
        struct nd_store base;
        PGconn *conn;
        char sqlstate[6]; /* of the last error, "" when none came from the server */
        bool prepared; /* the ingest statements, in this connection */
        unsigned prepared_queries; /* bit i: postgres-query.c's statement i */
        /* Day partitions this connection knows exist, so an ingest checks
         * only on a new day. */
        int64_t known_days[KNOWN_DAYS_MAX];
        size_t n_known_days;
        /* What the connection knows of ids (postgres-known.c): endpoints by
         * "addr\x1fport\x1fprocess", with their attributes, and edges by
         * their endpoints' ids. */
        struct strmap endpoint_index;
        struct pg_known_endpoint *known_endpoints;
        size_t n_known_endpoints, allocated_known_endpoints;
        struct pg_known_edge *known_edges; /* open addressing */
        size_t known_edges_mask, n_known_edges;
        /* netdep_prunes.endpoints_deleted when the known endpoint ids were
         * read, -1 when none are known: a prune that deleted endpoints
         * since makes a flush that uses them fail (postgres-ingest.c). */
        int64_t known_prunes;
        /* pg_scan_edges asks for its next rows before it hands the last
         * ones to its callback (postgres-query.c). A question the callback
         * asks (naming hosts reads the hosts table on first use) first
         * reads that answer into scan_ahead, for the scan to take. */
        bool scan_fetching;
        PGresult *scan_ahead;
};

static inline struct pg_store *to_pg(struct nd_store *s)
{
        return (struct pg_store *)s;
}

static inline void format_i64(char buf[static 24], int64_t v)
{
        snprintf(buf, 24, "%" PRId64, v);
}

static inline int64_t floor_div(int64_t a, int64_t b)
{
        return a / b - (a % b < 0);
}

static inline int64_t bucket_of(int64_t ts)
{
        return floor_div(ts, ND_BUCKET_SECONDS) * ND_BUCKET_SECONDS;
}

/* postgres.c: statements. Each returns 0 or -errno and keeps the
 * server's text (pg_fail). */

/* Keeps the server's (or libpq's) text and maps it to -errno: -ECONNRESET
 * when the connection is gone, -EIO for plain SQL errors. res may be NULL. */
int pg_fail(struct pg_store *s, const PGresult *res, const char *what);
bool pg_result_ok(const PGresult *res);
/* libpq's text on one line, as the store's last error. */
void pg_set_error_line(struct pg_store *s, const char *what, const char *msg);
/* Runs SQL without parameters; several statements are allowed. */
int pg_exec(struct pg_store *s, const char *sql, const char *what);
/* Runs one statement with text parameters; *ret (if given) gets the
 * result, which the caller clears. */
int pg_exec_params(struct pg_store *s, const char *sql, int n_params, const char *const *params, const char *what,
                   PGresult **ret);
/* Ends a failed transaction; keeps the error already recorded. */
void pg_rollback(struct pg_store *s);
/* Commits when r >= 0, else rolls back; returns the outcome. */
int pg_commit(struct pg_store *s, int r, const char *what);

#define PG_STEP_PARAMS_MAX 24

/* One statement of a pipeline: a prepared one by name, or sql; or, with
 * prepare, the preparing of sql as statement. */
struct pg_step {
        const char *statement;
        const char *sql;
        bool prepare;
        int n_params;
        const char *params[PG_STEP_PARAMS_MAX];
        /* If set, gets the step's result when it succeeds; the caller
         * clears it, whatever the pipeline's outcome. */
        PGresult **ret;
};

/* Sends the steps in one pipeline (one round trip) and reads every
 * result; the first error is kept. */
int pg_run_pipeline(struct pg_store *s, const struct pg_step *steps, size_t n_steps, const char *what);

/* postgres-text.c */

/* A PostgreSQL array literal, {"a","b"}: a list of any length as one
 * parameter, so no value is ever spliced into SQL. */
struct text_array {
        char *data;
        size_t len, size;
        bool failed;
};

void text_array_add(struct text_array *a, const char *item);
void text_array_add_i64(struct text_array *a, int64_t v);
/* Returns the literal, or NULL when out of memory; a's data is handed
 * over either way. */
char *text_array_finish(struct text_array *a);
/* text with any byte that is not UTF-8 as '?'; NULL when out of memory. */
char *utf8_sanitized(const char *text);
/* The same into out, which has room for strlen(text) + 1 bytes. */
void utf8_sanitize_into(char *out, const char *text);

/* postgres-schema.c */
int pg_schema_version(struct nd_store *base, int *ret);
int pg_migrate(struct nd_store *base);
/* Creates the day partition that holds bucket, unless this connection knows
 * it exists. */
int pg_ensure_partition(struct pg_store *s, int64_t bucket);
void pg_forget_partitions(struct pg_store *s);
int pg_prune(struct nd_store *base, int64_t before);

/* postgres-ingest.c */
int pg_ingest(struct nd_store *base, const struct nd_ingest *in);

/* postgres-known.c: the ids this connection has written or read, so that an
 * ingest need not ask the server for them again. Bounded: past the bound
 * it starts again from nothing. */
const struct pg_known_endpoint *pg_known_endpoint(const struct pg_store *s, const char *key);
int pg_remember_endpoint(struct pg_store *s, const char *key, const struct pg_known_endpoint *e);
/* The edge's id, 0 when unknown. */
int64_t pg_known_edge(const struct pg_store *s, int64_t client_id, int64_t server_id);
int pg_remember_edge(struct pg_store *s, int64_t client_id, int64_t server_id, int64_t id);
/* After a prune (which deletes endpoints and edges), at close. */
void pg_forget_known(struct pg_store *s);

/* postgres-query.c */
int pg_edges(struct nd_store *base, const struct nd_edge_query *q, struct nd_edge_list *out);
int pg_scan_edges(struct nd_store *base, const struct nd_time_range *range, nd_edge_fn fn, void *userdata);
int pg_hosts(struct nd_store *base, struct nd_host_list *out);
int pg_endpoint_addrs(struct nd_store *base, struct nd_host_list *out);
int pg_servers_used(struct nd_store *base, const char *const *client_addrs, size_t n, int64_t since,
                    struct nd_server_list *out);
int pg_hosts_of(struct nd_store *base, const char *const *addrs, size_t n, struct nd_host_list *out);
int pg_roles_replace(struct nd_store *base, const struct nd_role_rules *rules);
int pg_roles_load(struct nd_store *base, struct nd_role_rules *out);
