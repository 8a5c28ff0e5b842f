/* The PostgreSQL back end: a fleet's shared store, through libpq. It
 * answers exactly as the SQLite back end does (see sqlite.c).
 *
 * Where SQLite runs a few statements per row, an ingest here is one
 * transaction of a handful of set-based statements whatever its size, each
 * given the rows as column arrays, all sent in one pipeline: one round trip.
 *
 * Many agents write at once, so:
 *   - migrations and day-partition DDL serialise on advisory locks;
 *   - endpoints are inserted with DO NOTHING and updated only when they
 *     change: agents do not queue on the rows of a popular server;
 *   - every statement takes its row locks in key order: ingests cannot
 *     deadlock one another;
 *   - prune first locks endpoints against writers, so no ingest can refer
 *     to an endpoint it deletes, then takes the partition lock.
 *
 * A lost connection shows as -ECONNRESET: close the store and open it
 * again. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/cleanup.h"
#include "shared/log.h"
#include "store/libpq-dl.h"
#include "store/migrations.h"
#include "store/store.h"

#define PG_CONNECT_TIMEOUT "10" /* seconds, unless the URI or $PGCONNECT_TIMEOUT says */
#define PG_MIN_SERVER_VERSION 110000 /* ON CONFLICT on partitioned tables */
/* netdep's advisory locks: 0x6e646570 ("ndep") and what they guard. */
#define PG_LOCK(key) "SELECT pg_advisory_xact_lock(1852073328, " key ")"
#define PG_LOCK_MIGRATE PG_LOCK("1")
#define PG_LOCK_PARTITIONS PG_LOCK("2")
#define DAY_SECONDS 86400
#define KNOWN_DAYS_MAX 8

DEFINE_TRIVIAL_CLEANUP_FUNC(PGresult *, PQclear);
#define _cleanup_result_ _cleanup_(PQclearp)

struct pg_store {
        struct nd_store base;
        PGconn *conn;
        char sqlstate[6]; /* of the last error, "" when none came from the server */
        bool prepared; /* the ingest statements, in this session */
        /* Day partitions this session knows exist, so an ingest checks
         * only on a new day. */
        int64_t known_days[KNOWN_DAYS_MAX];
        size_t n_known_days;
};

static struct pg_store *to_pg(struct nd_store *s)
{
        return (struct pg_store *)s;
}

/* libpq's text on one line: every run of white space becomes one space. */
static void set_error_line(struct pg_store *s, const char *what, const char *msg)
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

/* Keeps the server's (or libpq's) text and maps it to -errno: -ECONNRESET
 * when the connection is gone, -EIO for plain SQL errors. res may be NULL. */
static int fail(struct pg_store *s, const PGresult *res, const char *what)
{
        const char *msg = res ? PQresultErrorMessage(res) : "";
        const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

        set_error_line(s, what, *msg ? msg : PQerrorMessage(s->conn));
        snprintf(s->sqlstate, sizeof(s->sqlstate), "%s", state ? state : "");
        if (PQstatus(s->conn) == CONNECTION_BAD)
                return -ECONNRESET;
        return errno_of_sqlstate(state);
}

static bool result_ok(const PGresult *res)
{
        ExecStatusType st = PQresultStatus(res);

        return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Runs SQL without parameters; several statements are allowed. */
static int exec(struct pg_store *s, const char *sql, const char *what)
{
        _cleanup_result_ PGresult *res = PQexec(s->conn, sql);

        return result_ok(res) ? 0 : fail(s, res, what);
}

/* Runs one statement with text parameters; *ret (if given) gets the
 * result, which the caller clears. */
static int exec_params(struct pg_store *s, const char *sql, int n_params, const char *const *params,
                       const char *what, PGresult **ret)
{
        _cleanup_result_ PGresult *res = PQexecParams(s->conn, sql, n_params, NULL, params, NULL, NULL, 0);

        if (!result_ok(res))
                return fail(s, res, what);
        if (ret)
                *ret = TAKE_PTR(res);
        return 0;
}

/* Ends a failed transaction; keeps the error already recorded. */
static void rollback(struct pg_store *s)
{
        if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
                PQclear(PQexec(s->conn, "ROLLBACK"));
}

static int commit(struct pg_store *s, int r, const char *what)
{
        if (r >= 0)
                r = exec(s, "COMMIT", what);
        if (r < 0)
                rollback(s);
        return r;
}

static void format_i64(char buf[static 24], int64_t v)
{
        snprintf(buf, 24, "%" PRId64, v);
}

static int64_t floor_div(int64_t a, int64_t b)
{
        return a / b - (a % b < 0);
}

static int64_t bucket_of(int64_t ts)
{
        return floor_div(ts, ND_BUCKET_SECONDS) * ND_BUCKET_SECONDS;
}

/* Length of the valid UTF-8 sequence at p, 0 when it is not one. */
static size_t utf8_sequence_length(const unsigned char *p)
{
        size_t n;

        if (p[0] < 0x80)
                return 1;
        if (p[0] < 0xc2 || p[0] > 0xf4)
                return 0;
        n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
        for (size_t i = 1; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) || /* overlong, surrogate */
            (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)) /* overlong, past U+10FFFF */
                return 0;
        return n;
}

/* Copies text as PostgreSQL takes it: a byte that is not UTF-8 (process
 * names and hostnames may be any bytes) becomes '?', where the raw byte
 * would fail the whole flush; with quote, '"' and '\\' are escaped for an
 * array element. Writes at most 2 * strlen(text) bytes; returns the end. */
static char *put_text(char *out, const char *text, bool quote)
{
        for (const unsigned char *p = (const unsigned char *)text; *p;) {
                size_t n = utf8_sequence_length(p);

                if (n == 0) {
                        *out++ = '?';
                        p++;
                        continue;
                }
                if (quote && (*p == '"' || *p == '\\'))
                        *out++ = '\\';
                memcpy(out, p, n);
                out += n;
                p += n;
        }
        return out;
}

static char *utf8_sanitized(const char *text)
{
        char *out = malloc(strlen(text) + 1);

        if (out)
                *put_text(out, text, false) = 0;
        return out;
}

/* A PostgreSQL array literal, {"a","b"}: a list of any length as one
 * parameter, so no value is ever spliced into SQL. */
struct text_array {
        char *data;
        size_t len, size;
        bool failed;
};

static void text_array_add(struct text_array *a, const char *item)
{
        size_t need = a->len + 2 * strlen(item) + 4;

        if (a->failed)
                return;
        if (need > a->size) {
                size_t size = need > 2 * a->size ? need + 256 : 2 * a->size;
                char *data = realloc(a->data, size);

                if (!data) {
                        a->failed = true;
                        return;
                }
                a->data = data;
                a->size = size;
        }
        a->data[a->len] = a->len == 0 ? '{' : ',';
        a->data[a->len + 1] = '"';
        a->len = (size_t)(put_text(a->data + a->len + 2, item, true) - a->data);
        a->data[a->len++] = '"';
}

static void text_array_add_i64(struct text_array *a, int64_t v, char buf[static 24])
{
        snprintf(buf, 24, "%" PRId64, v);
        text_array_add(a, buf);
}

/* Returns the literal, or NULL when out of memory. */
static char *text_array_finish(struct text_array *a)
{
        if (a->failed) {
                free(a->data);
                return NULL;
        }
        if (a->len == 0) {
                free(a->data);
                return strdup("{}");
        }
        a->data[a->len++] = '}';
        a->data[a->len] = 0;
        return a->data;
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

/* flags: ND_STORE_CREATE is for SQLite; a PostgreSQL database must exist. */
static int pg_open(const char *uri, unsigned flags, struct nd_store **ret)
{
        struct pg_store *s = calloc(1, sizeof(*s));
        const char *keys[6], *values[6];
        PQconninfoOption *options;
        char *parse_error = NULL, why[300];
        size_t n = 0;
        int r;

        if (!s)
                return -ENOMEM;
        *ret = &s->base;

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
                set_error_line(s, "invalid PostgreSQL URI", parse_error);
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

                set_error_line(s, "cannot connect", msg);
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
        free(s);
}

static int pg_schema_version(struct nd_store *base, int *ret)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = exec_params(s, "SELECT to_regclass('netdep_schema') IS NOT NULL", 0, NULL, "read schema version", &res);
        if (r < 0)
                return r;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
                *ret = 0;
                return 0;
        }
        PQclear(TAKE_PTR(res));
        r = exec_params(s, "SELECT coalesce(max(version), 0) FROM netdep_schema", 0, NULL, "read schema version",
                        &res);
        if (r < 0)
                return r;
        *ret = atoi(PQgetvalue(res, 0, 0));
        return 0;
}

/* Applies the next migration above the current version, in its own
 * transaction; returns 1 when there was one. */
static int migrate_one(struct pg_store *s)
{
        const struct nd_migration *next = NULL;
        char version_text[24], now_text[24];
        int version = 0, r;

        /* One process at a time decides what is missing. */
        r = exec(s, "BEGIN; " PG_LOCK_MIGRATE, "begin migration");
        if (r >= 0)
                r = pg_schema_version(&s->base, &version);
        for (const struct nd_migration *m = nd_postgres_migrations; r >= 0 && m->version && !next; m++)
                if (m->version > version)
                        next = m;
        if (r >= 0 && next) {
                r = exec(s, next->sql, next->name);
                format_i64(version_text, next->version);
                format_i64(now_text, time(NULL));
                if (r >= 0)
                        r = exec_params(s, "INSERT INTO netdep_schema (version, applied_at) VALUES ($1, $2)", 2,
                                        (const char *[]){ version_text, now_text }, "record migration", NULL);
        }
        r = commit(s, r, "commit migration");
        return r < 0 ? r : next != NULL;
}

static int pg_migrate(struct nd_store *base)
{
        int r;

        while ((r = migrate_one(to_pg(base))) > 0)
                ;
        return r;
}

/* observations_YYYYMMDD, the partition of the UTC day starting at day. */
static int day_partition_name(int64_t day, char *buf, size_t size)
{
        time_t t = (time_t)day;
        struct tm tm;

        if (!gmtime_r(&t, &tm))
                return -EOVERFLOW;
        snprintf(buf, size, "observations_%04d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        return 0;
}

/* The day an observations_YYYYMMDD name stands for; -EINVAL for others. */
static int day_of_partition_name(const char *name, int64_t *ret)
{
        struct tm tm = {};
        char check[64];
        int n = 0;

        if (sscanf(name, "observations_%4d%2d%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 ||
            name[n] || n != 21)
                return -EINVAL;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        int64_t day = (int64_t)timegm(&tm);
        if (day_partition_name(day, check, sizeof(check)) < 0 || strcmp(check, name) != 0)
                return -EINVAL;
        *ret = day;
        return 0;
}

static void forget_partitions(struct pg_store *s)
{
        s->n_known_days = 0;
}

/* Creates the day partition that holds bucket, unless this session knows
 * it exists. Its own short transaction: the DDL locks observations. */
static int ensure_partition(struct pg_store *s, int64_t bucket)
{
        int64_t day = floor_div(bucket, DAY_SECONDS) * DAY_SECONDS;
        char name[64], sql[512];
        int r;

        for (size_t i = 0; i < s->n_known_days; i++)
                if (s->known_days[i] == day)
                        return 0;
        r = day_partition_name(day, name, sizeof(name));
        if (r < 0) {
                nd_store_set_error(&s->base, "timestamp %" PRId64 " out of range", bucket);
                return r;
        }
        /* Only integers we computed go into the DDL, which takes no
         * parameters. After the lock, IF NOT EXISTS sees a partition that
         * another agent has just made. */
        snprintf(sql, sizeof(sql),
                 "BEGIN; " PG_LOCK_PARTITIONS "; "
                 "CREATE TABLE IF NOT EXISTS %s PARTITION OF observations "
                 "FOR VALUES FROM (%" PRId64 ") TO (%" PRId64 "); COMMIT",
                 name, day, day + DAY_SECONDS);
        r = exec(s, sql, "create observation partition");
        if (r < 0) {
                rollback(s);
                return r;
        }
        if (s->n_known_days == KNOWN_DAYS_MAX) {
                memmove(s->known_days, s->known_days + 1, sizeof(s->known_days[0]) * (KNOWN_DAYS_MAX - 1));
                s->n_known_days--;
        }
        s->known_days[s->n_known_days++] = day;
        return 0;
}

/* An ingest's rows go to the server as arrays, one per column, which
 * each statement unnests: no per-session table to fill and empty (a
 * temporary table's truncation at every commit would cost more than the
 * rows' own writes), and the whole transaction goes in one round trip.
 * The columns carry what SQLite's statements would bind: a server-side
 * row knows neither the client's process nor its pgid, a client-side row
 * not the server's. ord, the row's place, comes from WITH ORDINALITY. */
enum column {
        COL_CADDR,
        COL_CPROCESS,
        COL_CPGID,
        COL_SADDR,
        COL_SPORT,
        COL_SNAME,
        COL_SPGID,
        COL_SIDE,
        COL_CONNECTIONS,
        COL_RTT_US,
        COL_RETRANS,
        COL_BYTES_SENT,
        COL_BYTES_RECEIVED,
        COL_OPENED_BY_CLIENT,
        COL_OPENED_BY_SERVER,
        COL_FAILED,
        _COL_MAX,
};

#define ENDPOINT_ROWS                                                                                   \
        "unnest($1::text[], $2::text[], $3::integer[], $4::text[], $5::integer[], $6::text[], "         \
        "$7::integer[]) WITH ORDINALITY AS st(caddr, cprocess, cpgid, saddr, sport, sname, spgid, ord)"
/* Each row's client and server endpoints, and whether the row carries
 * their attributes (a pgid for a client, a name for a server). */
#define ENDPOINTS_OF_ROWS                                                                               \
        "(SELECT caddr AS addr, 0 AS port, cprocess AS process, cprocess AS name, cpgid AS pgid, "      \
        "cpgid >= 0 AS carries, ord FROM " ENDPOINT_ROWS " UNION ALL "                                  \
        "SELECT saddr, sport, '', sname, spgid, sname <> '', ord FROM " ENDPOINT_ROWS ") x "
#define EDGE_ROWS                                                                                       \
        "unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::integer[], $6::integer[], "      \
        "$7::integer[], $8::bigint[], $9::bigint[], $10::bigint[], $14::bigint[], $15::bigint[], "      \
        "$16::bigint[]) "                                                                                \
        "WITH ORDINALITY AS st(caddr, cprocess, saddr, sport, side, connections, rtt_us, retrans, "      \
        "bytes_sent, bytes_received, opened_by_client, opened_by_server, failed, ord) "

/* A row's endpoints by index lookups, whatever the planner
 * believes of the tables' sizes (a fresh store has no statistics). */
#define CLIENT_OF_ROW                                                                                   \
        "CROSS JOIN LATERAL (SELECT id FROM endpoints "                                                  \
        "WHERE addr = st.caddr AND port = 0 AND process = st.cprocess LIMIT 1) c "
#define SERVER_OF_ROW                                                                                   \
        "CROSS JOIN LATERAL (SELECT id FROM endpoints "                                                  \
        "WHERE addr = st.saddr AND port = st.sport AND process = '' LIMIT 1) s "

enum statement {
        STMT_ENDPOINTS_INSERT,
        STMT_ENDPOINTS_UPDATE,
        STMT_EDGES_AND_OBSERVATIONS,
        STMT_HOSTS,
        _STMT_MAX,
};

/* Prepared once a session. Endpoints: new ones first, in key order; then
 * the existing ones whose attributes changed, locked in id order. The row
 * chosen per endpoint is the one SQLite's row-by-row upserts would leave:
 * the last that carries the attributes, else (for a new endpoint) the
 * first. Rows of one edge merge as SQLite's sequence of upserts would: the
 * last row's count and RTT, the most of the others. New edges are numbered
 * in the order their first rows came, as SQLite numbers them, though
 * written in key order. */
static const char *const statement_sql[_STMT_MAX] = {
        [STMT_ENDPOINTS_INSERT] =
                "INSERT INTO endpoints (addr, port, process, name, pgid) "
                "SELECT DISTINCT ON (addr, port, process) addr, port, process, name, pgid FROM " ENDPOINTS_OF_ROWS
                "ORDER BY addr, port, process, carries DESC, CASE WHEN carries THEN -ord ELSE ord END "
                "ON CONFLICT (addr, port, process) DO NOTHING",
        [STMT_ENDPOINTS_UPDATE] =
                "WITH changed AS ("
                "SELECT e.id, x.name, x.pgid FROM (SELECT DISTINCT ON (addr, port, process) addr, port, process, "
                "name, pgid FROM " ENDPOINTS_OF_ROWS "WHERE carries ORDER BY addr, port, process, ord DESC) x "
                "CROSS JOIN LATERAL (SELECT id, name, pgid FROM endpoints "
                "WHERE addr = x.addr AND port = x.port AND process = x.process LIMIT 1) e "
                "WHERE e.name <> x.name OR e.pgid <> x.pgid), "
                "locked AS (SELECT id FROM endpoints WHERE id = ANY (ARRAY(SELECT id FROM changed)) "
                "ORDER BY id FOR NO KEY UPDATE) "
                "UPDATE endpoints e SET name = changed.name, pgid = changed.pgid FROM changed "
                "WHERE e.id = changed.id AND e.id = ANY (ARRAY(SELECT id FROM locked))",
        /* $11 first_ts, $12 ts, $13 the bucket. The edges' ids come back
         * one per seen edge, and are zipped with them in key order. */
        [STMT_EDGES_AND_OBSERVATIONS] =
                "WITH rows AS (SELECT c.id AS client_id, s.id AS server_id, st.* FROM " EDGE_ROWS
                CLIENT_OF_ROW SERVER_OF_ROW "), "
                "seen AS (SELECT DISTINCT ON (client_id, server_id) client_id, server_id, "
                "connections AS last_connections, rtt_us AS last_rtt_us, "
                "min(ord) OVER edge AS first_ord, bit_or(side) OVER edge AS sides, "
                "max(connections) OVER edge AS max_connections, max(retrans) OVER edge AS retrans, "
                "max(bytes_sent) OVER edge AS bytes_sent, max(bytes_received) OVER edge AS bytes_received, "
                "sum(opened_by_client) OVER edge AS opened_by_client, "
                "sum(opened_by_server) OVER edge AS opened_by_server, sum(failed) OVER edge AS failed "
                "FROM rows WINDOW edge AS (PARTITION BY client_id, server_id) "
                "ORDER BY client_id, server_id, ord DESC), "
                "numbered AS (SELECT seen.*, nextval('edges_id_seq') AS id FROM seen ORDER BY first_ord), "
                "upserted AS ("
                "INSERT INTO edges (id, client_id, server_id, first_seen, last_seen, last_connections, sides, "
                "opened_by_client, opened_by_server, failed) "
                "SELECT id, client_id, server_id, $11::bigint, $12::bigint, last_connections, sides, "
                "opened_by_client, opened_by_server, failed FROM numbered "
                "ORDER BY client_id, server_id "
                "ON CONFLICT (client_id, server_id) DO UPDATE SET "
                "first_seen = least(edges.first_seen, excluded.first_seen), "
                "last_connections = CASE WHEN excluded.last_seen >= edges.last_seen "
                "THEN excluded.last_connections ELSE edges.last_connections END, "
                "last_seen = greatest(edges.last_seen, excluded.last_seen), "
                "sides = edges.sides | excluded.sides, "
                "opened_by_client = edges.opened_by_client + excluded.opened_by_client, "
                "opened_by_server = edges.opened_by_server + excluded.opened_by_server, "
                "failed = edges.failed + excluded.failed "
                "RETURNING id, client_id, server_id), "
                "zipped AS (SELECT * FROM unnest("
                "(SELECT array_agg(id ORDER BY client_id, server_id) FROM upserted), "
                "(SELECT array_agg(client_id ORDER BY client_id, server_id) FROM upserted), "
                "(SELECT array_agg(server_id ORDER BY client_id, server_id) FROM upserted), "
                "(SELECT array_agg(client_id ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(server_id ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(max_connections ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(last_rtt_us ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(retrans ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(bytes_sent ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(bytes_received ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(opened_by_client ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(opened_by_server ORDER BY client_id, server_id) FROM seen), "
                "(SELECT array_agg(failed ORDER BY client_id, server_id) FROM seen)"
                ") AS z(edge_id, edge_client_id, edge_server_id, client_id, server_id, "
                "connections, rtt_us, retrans, bytes_sent, bytes_received, opened_by_client, opened_by_server, "
                "failed)) "
                "INSERT INTO observations (edge_id, bucket, connections, rtt_us, retrans, bytes_sent, bytes_received, "
                "opened_by_client, opened_by_server, failed) "
                "SELECT edge_id, $13::bigint, connections, rtt_us, retrans, bytes_sent, bytes_received, "
                "opened_by_client, opened_by_server, failed FROM zipped "
                "WHERE edge_client_id = client_id AND edge_server_id = server_id ORDER BY edge_id "
                "ON CONFLICT (edge_id, bucket) DO UPDATE SET "
                "connections = greatest(observations.connections, excluded.connections), "
                "rtt_us = excluded.rtt_us, "
                "retrans = greatest(observations.retrans, excluded.retrans), "
                "bytes_sent = greatest(observations.bytes_sent, excluded.bytes_sent), "
                "bytes_received = greatest(observations.bytes_received, excluded.bytes_received), "
                "opened_by_client = observations.opened_by_client + excluded.opened_by_client, "
                "opened_by_server = observations.opened_by_server + excluded.opened_by_server, "
                "failed = observations.failed + excluded.failed",
        /* $1 the addresses, $2 the hostname, $3 ts */
        [STMT_HOSTS] =
                "INSERT INTO hosts (addr, hostname, last_seen) "
                "SELECT DISTINCT addr, $2, $3::bigint FROM unnest($1::text[]) AS addr ORDER BY addr "
                "ON CONFLICT (addr) DO UPDATE SET hostname = excluded.hostname, "
                "last_seen = greatest(hosts.last_seen, excluded.last_seen)",
};

static const char *const statement_name[_STMT_MAX] = {
        [STMT_ENDPOINTS_INSERT] = "netdep_endpoints_insert",
        [STMT_ENDPOINTS_UPDATE] = "netdep_endpoints_update",
        [STMT_EDGES_AND_OBSERVATIONS] = "netdep_edges_and_observations",
        [STMT_HOSTS] = "netdep_hosts",
};

static int ensure_prepared(struct pg_store *s)
{
        if (s->prepared)
                return 0;
        for (int i = 0; i < _STMT_MAX; i++) {
                _cleanup_result_ PGresult *res = PQprepare(s->conn, statement_name[i], statement_sql[i], 0, NULL);

                if (!result_ok(res)) {
                        int r = fail(s, res, "prepare ingest");

                        /* Start again from nothing next time. */
                        PQclear(PQexec(s->conn, "DEALLOCATE ALL"));
                        return r;
                }
        }
        s->prepared = true;
        return 0;
}

static int32_t clamp_int32(uint32_t v)
{
        return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

/* The rows as one array literal per column, into ret (which the caller
 * frees, whatever the outcome). Counters go in as SQLite stores them,
 * 64-bit signed. */
static int rows_to_arrays(const struct nd_ingest *in, char *ret[static _COL_MAX])
{
        struct text_array columns[_COL_MAX] = {};
        bool oom = false;

        for (size_t i = 0; i < in->n_rows; i++) {
                const struct nd_edge_observation *o = &in->rows[i];
                bool server_side = o->side == ND_SIDE_SERVER;
                char number[24];

                text_array_add(&columns[COL_CADDR], o->client.addr);
                text_array_add(&columns[COL_CPROCESS], server_side ? "" : o->client.process);
                text_array_add_i64(&columns[COL_CPGID], server_side ? -1 : o->client.pgid, number);
                text_array_add(&columns[COL_SADDR], o->server.addr);
                text_array_add_i64(&columns[COL_SPORT], o->server.port, number);
                text_array_add(&columns[COL_SNAME], server_side ? o->server.process : "");
                text_array_add_i64(&columns[COL_SPGID], server_side ? o->server.pgid : -1, number);
                text_array_add_i64(&columns[COL_SIDE], (int)o->side, number);
                text_array_add_i64(&columns[COL_CONNECTIONS], clamp_int32(o->connections), number);
                text_array_add_i64(&columns[COL_RTT_US], clamp_int32(o->rtt_us), number);
                text_array_add_i64(&columns[COL_RETRANS], (int64_t)o->retrans, number);
                text_array_add_i64(&columns[COL_BYTES_SENT], (int64_t)o->bytes_sent, number);
                text_array_add_i64(&columns[COL_BYTES_RECEIVED], (int64_t)o->bytes_received, number);
                text_array_add_i64(&columns[COL_OPENED_BY_CLIENT], server_side ? 0 : o->opened, number);
                text_array_add_i64(&columns[COL_OPENED_BY_SERVER], server_side ? o->opened : 0, number);
                text_array_add_i64(&columns[COL_FAILED], o->failed, number);
        }
        for (int c = 0; c < _COL_MAX; c++) {
                ret[c] = text_array_finish(&columns[c]);
                oom = oom || !ret[c];
        }
        return oom ? -ENOMEM : 0;
}

struct step {
        const char *statement; /* a prepared statement's name, or NULL for sql */
        const char *sql;
        int n_params;
        const char *params[16];
};

/* Sends the steps in one pipeline (one round trip) and reads every
 * result; the first error is kept. */
static int run_pipeline(struct pg_store *s, const struct step *steps, size_t n_steps, const char *what)
{
        size_t n_separators = 0;
        bool synced = false;
        int r = 0;

        if (!PQenterPipelineMode(s->conn))
                return fail(s, NULL, what);
        for (size_t i = 0; i < n_steps && r == 0; i++) {
                const struct step *step = &steps[i];

                if (!(step->statement ? PQsendQueryPrepared(s->conn, step->statement, step->n_params, step->params,
                                                            NULL, NULL, 0)
                                      : PQsendQueryParams(s->conn, step->sql, step->n_params, NULL, step->params,
                                                          NULL, NULL, 0)))
                        r = fail(s, NULL, what);
        }
        if (!PQpipelineSync(s->conn))
                return r < 0 ? r : fail(s, NULL, what);
        /* Each step gives a result then NULL; the sync ends the lot. */
        while (!synced) {
                PGresult *res = PQgetResult(s->conn);

                if (!res) {
                        if (PQstatus(s->conn) == CONNECTION_BAD || ++n_separators > n_steps)
                                return r < 0 ? r : fail(s, NULL, what);
                        continue;
                }
                if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
                        synced = true;
                else if (PQresultStatus(res) == PGRES_FATAL_ERROR && r == 0)
                        r = fail(s, res, what);
                PQclear(res);
        }
        if (!PQexitPipelineMode(s->conn) && r == 0)
                r = fail(s, NULL, what);
        return r;
}

static void free_arrays(char *(*arrays)[_COL_MAX])
{
        for (int c = 0; c < _COL_MAX; c++)
                free((*arrays)[c]);
}

#define ENDPOINT_COLUMNS                                                                                \
        col[COL_CADDR], col[COL_CPROCESS], col[COL_CPGID], col[COL_SADDR], col[COL_SPORT], col[COL_SNAME], \
                col[COL_SPGID]

static int ingest_once(struct pg_store *s, const struct nd_ingest *in)
{
        _cleanup_(free_arrays) char *col[_COL_MAX] = {};
        _cleanup_free_ char *addrs = NULL, *hostname = NULL;
        char first_ts[24], ts[24], bucket[24];
        struct step steps[_STMT_MAX + 2];
        size_t n = 0;
        int r;

        format_i64(first_ts, in->first_ts);
        format_i64(ts, in->ts);
        format_i64(bucket, bucket_of(in->ts));
        steps[n++] = (struct step){ .sql = "BEGIN" };
        if (in->n_rows > 0) {
                r = rows_to_arrays(in, col);
                if (r < 0)
                        return r;
                steps[n++] = (struct step){ statement_name[STMT_ENDPOINTS_INSERT], NULL, 7, { ENDPOINT_COLUMNS } };
                steps[n++] = (struct step){ statement_name[STMT_ENDPOINTS_UPDATE], NULL, 7, { ENDPOINT_COLUMNS } };
                steps[n++] = (struct step){ statement_name[STMT_EDGES_AND_OBSERVATIONS], NULL, 16,
                                            { col[COL_CADDR], col[COL_CPROCESS], col[COL_SADDR], col[COL_SPORT],
                                              col[COL_SIDE], col[COL_CONNECTIONS], col[COL_RTT_US],
                                              col[COL_RETRANS], col[COL_BYTES_SENT], col[COL_BYTES_RECEIVED],
                                              first_ts, ts, bucket, col[COL_OPENED_BY_CLIENT],
                                              col[COL_OPENED_BY_SERVER], col[COL_FAILED] } };
        }
        if (in->hostname && in->n_host_addrs > 0) {
                struct text_array array = {};

                for (size_t i = 0; i < in->n_host_addrs; i++)
                        text_array_add(&array, in->host_addrs[i]);
                addrs = text_array_finish(&array);
                hostname = utf8_sanitized(in->hostname);
                if (!addrs || !hostname)
                        return -ENOMEM;
                steps[n++] = (struct step){ statement_name[STMT_HOSTS], NULL, 3, { addrs, hostname, ts } };
        }
        if (n == 1)
                return 0;
        steps[n++] = (struct step){ .sql = "COMMIT" };

        r = run_pipeline(s, steps, n, "ingest");
        if (r < 0)
                rollback(s);
        return r;
}

/* "no partition of relation ... found for row" (the schema has no CHECK
 * constraint that could raise it otherwise). */
static bool no_partition_for_row(const struct pg_store *s)
{
        return strcmp(s->sqlstate, "23514") == 0;
}

static int pg_ingest(struct nd_store *base, const struct nd_ingest *in)
{
        struct pg_store *s = to_pg(base);
        int r;

        r = ensure_prepared(s);
        if (r >= 0 && in->n_rows > 0)
                r = ensure_partition(s, bucket_of(in->ts));
        if (r < 0)
                return r;
        r = ingest_once(s, in);
        /* A prune elsewhere dropped a day this session thought it had:
         * make it again, once. */
        if (r == -EIO && in->n_rows > 0 && no_partition_for_row(s)) {
                forget_partitions(s);
                r = ensure_partition(s, bucket_of(in->ts));
                if (r >= 0)
                        r = ingest_once(s, in);
        }
        return r;
}

/* Drops the day partitions that end at or before cutoff: whole days go
 * without a row-by-row delete. */
static int drop_old_partitions(struct pg_store *s, int64_t cutoff)
{
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = exec_params(s,
                        "SELECT c.oid::regclass::text, c.relname FROM pg_inherits i "
                        "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'observations'::regclass",
                        0, NULL, "list observation partitions", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                _cleanup_free_ char *sql = NULL;
                int64_t day;

                if (day_of_partition_name(PQgetvalue(res, i, 1), &day) < 0 || day + DAY_SECONDS > cutoff)
                        continue;
                /* The server's own quoting of a name it gave us. */
                if (asprintf(&sql, "DROP TABLE %s", PQgetvalue(res, i, 0)) < 0)
                        return -ENOMEM;
                r = exec(s, sql, "drop observation partition");
        }
        return r;
}

static int pg_prune(struct nd_store *base, int64_t before)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        char cutoff[24], before_text[24];
        long long dropped = 0;
        int r;

        format_i64(cutoff, bucket_of(before));
        format_i64(before_text, before);
        /* Writers out of endpoints first (ingests take it first too), then
         * partition makers out. */
        r = exec(s,
                 "BEGIN; LOCK TABLE endpoints IN EXCLUSIVE MODE; " PG_LOCK_PARTITIONS,
                 "begin prune");
        if (r >= 0)
                r = drop_old_partitions(s, bucket_of(before));
        if (r >= 0)
                r = exec_params(s, "DELETE FROM observations WHERE bucket < $1", 1, (const char *[]){ cutoff },
                                "prune observations", NULL);
        /* What SQLite's ON DELETE CASCADE does: observations of the edges
         * about to go. Such an edge was last seen before the cutoff's
         * bucket ended, so only that bucket can still hold any. */
        if (r >= 0)
                r = exec_params(s,
                                "DELETE FROM observations o USING edges e WHERE o.edge_id = e.id "
                                "AND o.bucket <= $1 AND e.last_seen < $2",
                                2, (const char *[]){ cutoff, before_text }, "prune observations", NULL);
        if (r >= 0)
                r = exec_params(s, "DELETE FROM edges WHERE last_seen < $1", 1, (const char *[]){ before_text },
                                "prune edges", &res);
        if (r >= 0)
                dropped = atoll(PQcmdTuples(res));
        if (r >= 0)
                r = exec(s,
                         "DELETE FROM endpoints p WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.client_id = p.id) "
                         "AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.server_id = p.id)",
                         "prune endpoints");
        if (r >= 0)
                r = exec_params(s, "DELETE FROM hosts WHERE last_seen < $1", 1, (const char *[]){ before_text },
                                "prune hosts", NULL);
        r = commit(s, r, "commit prune");
        forget_partitions(s);
        if (r < 0)
                return r;
        return dropped > INT_MAX ? INT_MAX : (int)dropped;
}

static void read_endpoint(const PGresult *res, int row, int col, struct nd_endpoint *e)
{
        snprintf(e->addr, sizeof(e->addr), "%s", PQgetvalue(res, row, col));
        e->port = (uint16_t)atoi(PQgetvalue(res, row, col + 1));
        snprintf(e->process, sizeof(e->process), "%s", PQgetvalue(res, row, col + 2));
        e->pgid = atoi(PQgetvalue(res, row, col + 3));
}

static int pg_edges(struct nd_store *base, const struct nd_edge_query *q, struct nd_edge_list *out)
{
        struct pg_store *s = to_pg(base);
        bool ranged = !nd_time_range_is_open(&q->range);
        _cleanup_result_ PGresult *res = NULL;
        _cleanup_free_ char *addrs = NULL;
        struct text_array array = {};
        char since[24], until[24], sql[1400];
        int r;

        /* Driven from the address list: each address finds its endpoints
         * and their edges through the indexes. OFFSET 0 keeps the planner
         * from flattening the lateral join into one hash join over every
         * edge, which it otherwise picks for a few dozen addresses (a
         * sequential scan of the whole table: 200+ ms at a million edges,
         * against 20-40 ms this way). */
        bool by_server = q->match == ND_MATCH_SERVER_ADDR;
        snprintf(sql, sizeof(sql),
                 "SELECT e.id, c.addr, c.port, c.name, c.pgid, s.addr, s.port, s.name, s.pgid, "
                 "e.first_seen, e.last_seen, %s, e.sides, %s "
                 "FROM (SELECT DISTINCT unnest($1::text[]) AS addr) q "
                 "CROSS JOIN LATERAL (SELECT e.* FROM endpoints m JOIN edges e ON e.%s = m.id "
                 "WHERE m.addr = q.addr OFFSET 0) e "
                 "JOIN endpoints c ON c.id = e.client_id JOIN endpoints s ON s.id = e.server_id "
                 "%s "
                 "%s ORDER BY e.id",
                 ranged ? "max(o.connections)" : "e.last_connections",
                 /* Both sides count the same connections opened: the larger. */
                 ranged ? "greatest(sum(o.opened_by_client), sum(o.opened_by_server)), sum(o.failed)"
                        : "greatest(e.opened_by_client, e.opened_by_server), e.failed",
                 by_server ? "server_id" : "client_id",
                 ranged ? "JOIN observations o ON o.edge_id = e.id AND o.bucket > $2::bigint "
                          "AND o.bucket <= $3::bigint"
                        : "",
                 ranged ? "GROUP BY e.id, e.first_seen, e.last_seen, e.sides, c.id, s.id" : "");
        for (size_t i = 0; i < q->n_addrs; i++)
                text_array_add(&array, q->addrs[i]);
        addrs = text_array_finish(&array);
        if (!addrs)
                return -ENOMEM;
        /* A bucket [b, b + width) overlaps [since, until]. */
        format_i64(since, q->range.since < INT64_MIN + ND_BUCKET_SECONDS ? INT64_MIN
                                                                          : q->range.since - ND_BUCKET_SECONDS);
        format_i64(until, q->range.until);
        r = exec_params(s, sql, ranged ? 3 : 1, (const char *[]){ addrs, since, until }, "query edges", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                struct nd_edge e = { .id = strtoll(PQgetvalue(res, i, 0), NULL, 10) };

                read_endpoint(res, i, 1, &e.client);
                read_endpoint(res, i, 5, &e.server);
                e.first_seen = strtoll(PQgetvalue(res, i, 9), NULL, 10);
                e.last_seen = strtoll(PQgetvalue(res, i, 10), NULL, 10);
                e.connections = (uint32_t)strtoll(PQgetvalue(res, i, 11), NULL, 10);
                e.sides = (uint8_t)atoi(PQgetvalue(res, i, 12));
                e.opened = strtoull(PQgetvalue(res, i, 13), NULL, 10);
                e.failed = strtoull(PQgetvalue(res, i, 14), NULL, 10);
                r = nd_edge_list_push(out, &e);
        }
        return r;
}

static int pg_hosts(struct nd_store *base, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        /* Byte order, as SQLite sorts text. */
        r = exec_params(s, "SELECT addr, hostname FROM hosts ORDER BY addr COLLATE \"C\"", 0, NULL, "read hosts",
                        &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = nd_host_list_push(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        return r;
}

static int pg_endpoint_addrs(struct nd_store *base, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = exec_params(s, "SELECT DISTINCT addr COLLATE \"C\" AS addr FROM endpoints ORDER BY 1", 0, NULL,
                        "read endpoint addresses", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = nd_host_list_push(out, PQgetvalue(res, i, 0), "");
        return r;
}

static int pg_roles_replace(struct nd_store *base, const struct nd_role_rules *rules)
{
        struct pg_store *s = to_pg(base);
        struct text_array columns[5] = {};
        char *params[5];
        bool oom = false;
        int r;

        for (size_t i = 0; i < rules->n; i++) {
                const struct nd_role_rule *rule = &rules->items[i];

                text_array_add(&columns[0], rule->match);
                text_array_add(&columns[1], rule->service);
                text_array_add(&columns[2], rule->role);
                text_array_add(&columns[3], rule->datacenter);
                text_array_add(&columns[4], rule->name);
        }
        for (size_t i = 0; i < ELEMENTSOF(params); i++) {
                params[i] = text_array_finish(&columns[i]);
                oom = oom || !params[i];
        }
        r = oom ? -ENOMEM : exec(s, "BEGIN; DELETE FROM roles", "replace roles");
        if (r >= 0)
                r = exec_params(s,
                                "INSERT INTO roles (position, match, service, role, datacenter, name) "
                                "SELECT (ord - 1)::integer, m, sv, rl, dc, nm "
                                "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
                                "WITH ORDINALITY AS t(m, sv, rl, dc, nm, ord)",
                                5, (const char *const *)params, "replace roles", NULL);
        if (!oom)
                r = commit(s, r, "commit roles");
        for (size_t i = 0; i < ELEMENTSOF(params); i++)
                free(params[i]);
        return r;
}

static int pg_roles_load(struct nd_store *base, struct nd_role_rules *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = exec_params(s, "SELECT match, service || ':' || role, datacenter, name FROM roles ORDER BY position", 0,
                        NULL, "read roles", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                struct nd_role_rule rule;
                char why[300];

                r = nd_role_rule_make(PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                      PQgetvalue(res, i, 3), &rule, why, sizeof(why));
                if (r < 0)
                        nd_store_set_error(base, "stored role rule is invalid: %s", why);
                else
                        r = nd_role_rules_push(out, &rule);
        }
        return r;
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
        .hosts = pg_hosts,
        .endpoint_addrs = pg_endpoint_addrs,
        .roles_replace = pg_roles_replace,
        .roles_load = pg_roles_load,
};
