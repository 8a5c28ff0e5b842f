/* The PostgreSQL back end: a fleet's shared store, through libpq. It
 * answers exactly as the SQLite back end does (see sqlite.c).
 *
 * Where SQLite runs a few statements per row, an ingest here is one
 * transaction of a few set-based statements whatever its size, each given
 * the rows as column arrays, sent in one pipeline (one round trip); a
 * connection remembers the ids it has seen, so that a flush of known
 * endpoints and edges writes only what changes (postgres-ingest.c).
 *
 * Many agents write at once, so:
 *   - migrations and day-partition DDL serialise on advisory locks;
 *   - endpoints are inserted with DO NOTHING and updated only when they
 *     change: agents do not queue on the rows of a popular server;
 *   - every statement takes its row locks in key order: ingests cannot
 *     deadlock one another;
 *   - prune first locks endpoints against writers (an ingest takes that
 *     table's lock first too), so no ingest can refer to an endpoint it
 *     deletes, then takes the partition lock.
 *
 * A lost connection shows as -ECONNRESET: close the store and open it
 * again. postgres-internal.h says which file holds what. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/log.h"
#include "store/postgres-internal.h"

#define PG_CONNECT_TIMEOUT "10" /* seconds, unless the URI or $PGCONNECT_TIMEOUT says */
#define PG_MIN_SERVER_VERSION 110000 /* ON CONFLICT on partitioned tables */

/* libpq's text on one line: every run of white space becomes one space. */
void pg_set_error_line(struct pg_store *s, const char *what, const char *msg)
{
        char line[sizeof(s->base.last_error)];
        size_t n = 0;
        bool space = false;

        for (const char *p = msg ? msg : ""; *p && n < sizeof(line) - 2; p++) {
                if (isspace((unsigned char)*p)) {
                        space = true;
                        continue;
                }
                if (space && n > 0)
                        line[n++] = ' ';
                space = false;
                line[n++] = *p;
        }
        line[n] = 0;
        nd_store_set_error(&s->base, "%s: %s", what, line);
}

static int errno_of_sqlstate(const char *state)
{
        if (!state)
                return -EIO;
        if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3)) /* connection, server shutdown */
                return -ECONNRESET;
        if (!strcmp(state, "40001") || !strcmp(state, "40P01") || !strcmp(state, "55P03"))
                return -EBUSY;
        if (!strncmp(state, "28", 2) || !strcmp(state, "42501"))
                return -EACCES;
        if (!strcmp(state, "53100"))
                return -ENOSPC;
        if (!strcmp(state, "53200"))
                return -ENOMEM;
        return -EIO;
}

int pg_fail(struct pg_store *s, const PGresult *res, const char *what)
{
        const char *msg = res ? PQresultErrorMessage(res) : "";
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        pg_set_error_line(s, what, *msg ? msg : PQerrorMessage(s->conn));
        snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", state ? state : "");
        if (PQstatus(s->conn) == CONNECTION_BAD)
                return -ECONNRESET;
        return errno_of_sqlstate(state);
}

bool pg_result_ok(const PGresult *res)
{
        ExecStatusType st = PQresultStatus(res);

        return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

int pg_exec(struct pg_store *s, const char *sql, const char *what)
{
        _cleanup_result_ PGresult *res = PQexec(s->conn, sql);

        return pg_result_ok(res) ? 0 : pg_fail(s, res, what);
}

int pg_exec_params(struct pg_store *s, const char *sql, int n_params, const char *const *params, const char *what,
                   PGresult **ret)
{
        _cleanup_result_ PGresult *res = PQexecParams(s->conn, sql, n_params, NULL, params, NULL, NULL, 0);

        if (!pg_result_ok(res))
                return pg_fail(s, res, what);
        if (ret)
                *ret = TAKE_PTR(res);
        return 0;
}

void pg_rollback(struct pg_store *s)
{
        if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
                PQclear(PQexec(s->conn, "ROLLBACK"));
}

int pg_commit(struct pg_store *s, int r, const char *what)
{
        if (r >= 0)
                r = pg_exec(s, "COMMIT", what);
        if (r < 0)
                pg_rollback(s);
        return r;
}

int pg_run_pipeline(struct pg_store *s, const struct pg_step *steps, size_t n_steps, const char *what)
{
        size_t n_separators = 0;
        bool synced = false;
        int r = 0;

        if (!PQenterPipelineMode(s->conn))
                return pg_fail(s, NULL, what);
        for (size_t i = 0; i < n_steps && r == 0; i++) {
                const struct pg_step *step = &steps[i];

                int sent;

                if (step->prepare)
                        sent = PQsendPrepare(s->conn, step->statement, step->sql, 0, NULL);
                else if (step->statement)
                        sent = PQsendQueryPrepared(s->conn, step->statement, step->n_params, step->params, NULL,
                                                   NULL, 0);
                else
                        sent = PQsendQueryParams(s->conn, step->sql, step->n_params, NULL, step->params, NULL, NULL,
                                                 0);
                if (!sent)
                        r = pg_fail(s, NULL, what);
        }
        if (!PQpipelineSync(s->conn))
                return r < 0 ? r : pg_fail(s, NULL, what);
        /* Each step gives a result then NULL; the sync ends the lot. */
        while (!synced) {
                PGresult *res = PQgetResult(s->conn);

                if (!res) {
                        if (PQstatus(s->conn) == CONNECTION_BAD || ++n_separators > n_steps)
                                return r < 0 ? r : pg_fail(s, NULL, what);
                        continue;
                }
                if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
                        synced = true;
                else if (PQresultStatus(res) == PGRES_FATAL_ERROR && r == 0)
                        r = pg_fail(s, res, what);
                else if (n_separators < n_steps && steps[n_separators].ret && pg_result_ok(res)) {
                        /* Step n_separators's result, which its caller asked for. */
                        PQclear(*steps[n_separators].ret);
                        *steps[n_separators].ret = res;
                        continue;
                }
                PQclear(res);
        }
        if (!PQexitPipelineMode(s->conn) && r == 0)
                r = pg_fail(s, NULL, what);
        return r;
}

static void on_notice(void *userdata, const char *message)
{
        log_debug("postgres: %.*s", (int)strcspn(message, "\n"), message);
}

/* libpq says why a connection failed only in words (localised ones, if
 * the client's locale has a translation); the usual causes map to -errno. */
static int errno_of_connect_failure(const char *msg)
{
        static const struct {
                const char *text;
                int error;
        } causes[] = {
                { "password authentication failed", EACCES },
                { "authentication failed", EACCES },
                { "no pg_hba.conf entry", EACCES },
                { "no password supplied", EACCES },
                { "permission denied", EACCES },
                { "Permission denied", EACCES },
                { "role \"", EACCES }, /* role "x" does not exist */
                { "database \"", ENOENT }, /* database "x" does not exist */
                { "Connection refused", ECONNREFUSED },
                { "No such file or directory", ECONNREFUSED }, /* no socket: no server */
                { "starting up", ECONNREFUSED },
                { "shutting down", ECONNREFUSED },
                { "not yet accepting connections", ECONNREFUSED },
                { "timeout expired", ETIMEDOUT },
                { "could not translate host name", EHOSTUNREACH },
                { "No route to host", EHOSTUNREACH },
                { "Network is unreachable", ENETUNREACH },
                { "too many clients", EAGAIN },
                { "closed the connection unexpectedly", ECONNRESET },
        };

        for (size_t i = 0; i < ELEMENTSOF(causes); i++)
                if (strstr(msg, causes[i].text))
                        return -causes[i].error;
        return -EIO;
}

/* Connects s; on failure s keeps what there is, for pg_close(), and the
 * text in its last_error. */
static int pg_connect(struct pg_store *s, const char *uri)
{
        const char *keys[6], *values[6];
        PQconninfoOption *options;
        char *parse_error = NULL, why[300];
        size_t n = 0;
        int r;

        /* libpq is loaded on first use (libpq-dl.h). */
        r = pq_dlopen(why, sizeof(why));
        if (r < 0) {
                nd_store_set_error(&s->base, "%s", why);
                return r;
        }

        /* libpq reads the URI; a malformed one is the caller's mistake. */
        options = PQconninfoParse(uri, &parse_error);
        if (!options) {
                if (!parse_error)
                        return -ENOMEM;
                pg_set_error_line(s, "invalid PostgreSQL URI", parse_error);
                PQfreemem(parse_error);
                return -EINVAL;
        }
        PQconninfoFree(options);

        /* Ours come first: what the URI (dbname, expanded) says wins. */
        if (!getenv("PGCONNECT_TIMEOUT")) {
                keys[n] = "connect_timeout";
                values[n++] = PG_CONNECT_TIMEOUT;
        }
        keys[n] = "fallback_application_name";
        values[n++] = "netdep";
        keys[n] = "client_encoding";
        values[n++] = "UTF8";
        /* netdep's queries are short index walks: JIT compiling them costs
         * ~100 ms where the planner guesses wrong (fresh statistics). */
        if (!getenv("PGOPTIONS")) {
                keys[n] = "options";
                values[n++] = "-c jit=off";
        }
        keys[n] = "dbname";
        values[n++] = uri;
        keys[n] = values[n] = NULL;

        s->conn = PQconnectdbParams(keys, values, 1);
        if (!s->conn)
                return -ENOMEM;
        if (PQstatus(s->conn) != CONNECTION_OK) {
                const char *msg = PQerrorMessage(s->conn);

                pg_set_error_line(s, "cannot connect", msg);
                return errno_of_connect_failure(msg);
        }
        PQsetNoticeProcessor(s->conn, on_notice, NULL);
        if (PQserverVersion(s->conn) < PG_MIN_SERVER_VERSION) {
                nd_store_set_error(&s->base, "PostgreSQL server version %d is too old (need 11 or newer)",
                                   PQserverVersion(s->conn));
                return -EPROTONOSUPPORT;
        }
        return 0;
}

static void pg_close(struct nd_store *base)
{
        struct pg_store *s = to_pg(base);

        /* Without a connection libpq may not even be loaded. */
        if (s->conn)
                PQfinish(s->conn);
        pg_forget_known(s);
        free(s);
}

/* flags: ND_STORE_CREATE is for SQLite; a PostgreSQL database must exist. */
static int pg_open(const char *uri, unsigned flags, struct nd_store **ret, char *errbuf, size_t errbuf_size)
{
        struct pg_store *s = calloc(1, sizeof(*s));
        int r;

        if (!s) {
                snprintf(errbuf, errbuf_size, "%s", strerror(ENOMEM));
                return -ENOMEM;
        }
        s->known_prunes = -1; /* no endpoint ids known yet */
        r = pg_connect(s, uri);
        if (r < 0) {
                nd_store_open_failed(&s->base, r, errbuf, errbuf_size);
                pg_close(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}

const struct nd_store_ops nd_store_postgres_ops = {
        .name = "postgres",
        .open = pg_open,
        .close = pg_close,
        .schema_version = pg_schema_version,
        .migrate = pg_migrate,
        .ingest = pg_ingest,
        .prune = pg_prune,
        .edges = pg_edges,
        .scan_edges = pg_scan_edges,
        .hosts = pg_hosts,
        .hosts_of = pg_hosts_of,
        .servers_used = pg_servers_used,
        .endpoint_addrs = pg_endpoint_addrs,
        .roles_replace = pg_roles_replace,
        .roles_load = pg_roles_load,
};
