/* The SQLite back end: a file in WAL mode, the embedded default. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/migrations.h"
#include "store/store.h"

#define SQLITE_BUSY_TIMEOUT_MS 10000

enum statement {
        STMT_CLIENT_ENDPOINT,
        STMT_SERVER_ENDPOINT,
        STMT_EDGE,
        STMT_OBSERVATION,
        STMT_HOST,
        _STMT_MAX,
};

static const char *const statement_sql[_STMT_MAX] = {
        [STMT_CLIENT_ENDPOINT] =
                "INSERT INTO endpoints (addr, port, process, name, pgid) VALUES (?1, 0, ?2, ?2, ?3) "
                "ON CONFLICT (addr, port, process) DO UPDATE SET "
                "pgid = CASE WHEN excluded.pgid >= 0 THEN excluded.pgid ELSE pgid END "
                "RETURNING id",
        [STMT_SERVER_ENDPOINT] =
                "INSERT INTO endpoints (addr, port, process, name, pgid) VALUES (?1, ?2, '', ?3, ?4) "
                "ON CONFLICT (addr, port, process) DO UPDATE SET "
                "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END, "
                "pgid = CASE WHEN excluded.name <> '' THEN excluded.pgid ELSE pgid END "
                "RETURNING id",
        /* The client's pgid and processes as its agent last reported
         * them: a server-side row (?6 = 2) knows neither. */
        [STMT_EDGE] =
                "INSERT INTO edges (client_id, server_id, first_seen, last_seen, last_connections, sides, "
                "opened_by_client, opened_by_server, failed, client_pgid, client_processes, client_last_seen) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, CASE WHEN ?6 & 1 THEN ?4 ELSE 0 END) "
                "ON CONFLICT (client_id, server_id) DO UPDATE SET "
                "client_last_seen = CASE WHEN excluded.sides & 1 THEN max(client_last_seen, excluded.last_seen) "
                "ELSE client_last_seen END, "
                "first_seen = min(first_seen, excluded.first_seen), "
                "last_connections = CASE WHEN excluded.last_seen >= last_seen "
                "THEN excluded.last_connections ELSE last_connections END, "
                "last_seen = max(last_seen, excluded.last_seen), "
                "sides = sides | excluded.sides, "
                "opened_by_client = opened_by_client + excluded.opened_by_client, "
                "opened_by_server = opened_by_server + excluded.opened_by_server, "
                "failed = failed + excluded.failed, "
                "client_pgid = CASE WHEN excluded.client_pgid >= 0 THEN excluded.client_pgid ELSE client_pgid END, "
                "client_processes = CASE WHEN excluded.sides & 1 THEN excluded.client_processes "
                "ELSE client_processes END "
                "RETURNING id",
        [STMT_OBSERVATION] =
                "INSERT INTO observations (edge_id, bucket, connections, rtt_us, retrans, bytes_sent, bytes_received, "
                "opened_by_client, opened_by_server, failed) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                "ON CONFLICT (edge_id, bucket) DO UPDATE SET "
                "connections = max(connections, excluded.connections), rtt_us = excluded.rtt_us, "
                "retrans = max(retrans, excluded.retrans), bytes_sent = max(bytes_sent, excluded.bytes_sent), "
                "bytes_received = max(bytes_received, excluded.bytes_received), "
                "opened_by_client = opened_by_client + excluded.opened_by_client, "
                "opened_by_server = opened_by_server + excluded.opened_by_server, "
                "failed = failed + excluded.failed",
        [STMT_HOST] =
                "INSERT INTO hosts (addr, hostname, last_seen) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (addr) DO UPDATE SET hostname = excluded.hostname, "
                "last_seen = max(last_seen, excluded.last_seen)",
};

struct sqlite_store {
        struct nd_store base;
        sqlite3 *db;
        sqlite3_stmt *stmts[_STMT_MAX];
};

static struct sqlite_store *to_sqlite(struct nd_store *s)
{
        return (struct sqlite_store *)s;
}

/* Maps an SQLite result code to -errno, keeping SQLite's text. */
static int fail(struct sqlite_store *s, int rc, const char *what)
{
        nd_store_set_error(&s->base, "%s: %s", what, sqlite3_errmsg(s->db));
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        default:
                return -EIO;
        }
}

static int exec(struct sqlite_store *s, const char *sql, const char *what)
{
        int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : fail(s, rc, what);
}

static void sqlite_close(struct nd_store *base)
{
        struct sqlite_store *s = to_sqlite(base);

        for (int i = 0; i < _STMT_MAX; i++)
                sqlite3_finalize(s->stmts[i]);
        sqlite3_close_v2(s->db);
        free(s);
}

static const char *path_of(const char *uri)
{
        return strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
}

/* Opens the file into s; on failure s keeps what there is, for
 * sqlite_close(), and the text in its last_error. */
static int sqlite_connect(struct sqlite_store *s, const char *path, unsigned flags)
{
        int rc;

        if (!*path) {
                nd_store_set_error(&s->base, "empty SQLite path");
                return -EINVAL;
        }
        rc = sqlite3_open_v2(path, &s->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                                     (flags & ND_STORE_CREATE ? SQLITE_OPEN_CREATE : 0),
                             NULL);
        if (rc != SQLITE_OK && !s->db)
                return -ENOMEM;
        if ((rc & 0xff) == SQLITE_CANTOPEN && !(flags & ND_STORE_CREATE)) {
                nd_store_set_error(&s->base, "cannot open %s: %s (create it with 'netdep db migrate')", path,
                                   sqlite3_errmsg(s->db));
                return -ENOENT;
        }
        if (rc != SQLITE_OK)
                return fail(s, rc, "open");
        sqlite3_busy_timeout(s->db, SQLITE_BUSY_TIMEOUT_MS);
        return exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    "set up");
}

static int sqlite_open(const char *uri, unsigned flags, struct nd_store **ret, char *errbuf, size_t errbuf_size)
{
        struct sqlite_store *s = calloc(1, sizeof(*s));
        int r;

        if (!s) {
                snprintf(errbuf, errbuf_size, "%s", strerror(ENOMEM));
                return -ENOMEM;
        }
        r = sqlite_connect(s, path_of(uri), flags);
        if (r < 0) {
                nd_store_open_failed(&s->base, r, errbuf, errbuf_size);
                sqlite_close(&s->base);
                return r;
        }
        *ret = &s->base;
        return 0;
}

static int sqlite_schema_version(struct nd_store *base, int *ret)
{
        struct sqlite_store *s = to_sqlite(base);
        sqlite3_stmt *st;
        int rc, version = 0;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'netdep_schema'",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "read schema version");
        rc = sqlite3_step(st);
        bool present = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return fail(s, rc, "read schema version");
        if (present) {
                rc = sqlite3_prepare_v2(s->db, "SELECT coalesce(max(version), 0) FROM netdep_schema", -1, &st, NULL);
                if (rc != SQLITE_OK)
                        return fail(s, rc, "read schema version");
                rc = sqlite3_step(st);
                if (rc == SQLITE_ROW)
                        version = sqlite3_column_int(st, 0);
                sqlite3_finalize(st);
                if (rc != SQLITE_ROW)
                        return fail(s, rc, "read schema version");
        }
        *ret = version;
        return 0;
}

static int sqlite_migrate(struct nd_store *base)
{
        struct sqlite_store *s = to_sqlite(base);
        int version, r;

        /* One writer at a time decides what is missing. */
        r = exec(s, "BEGIN IMMEDIATE", "begin migration");
        if (r < 0)
                return r;
        r = sqlite_schema_version(base, &version);
        for (const struct nd_migration *m = nd_sqlite_migrations; r >= 0 && m->version; m++) {
                char record[128];

                if (m->version <= version)
                        continue;
                r = exec(s, m->sql, m->name);
                if (r < 0)
                        break;
                snprintf(record, sizeof(record), "INSERT INTO netdep_schema VALUES (%d, %lld)", m->version,
                         (long long)time(NULL));
                r = exec(s, record, "record migration");
        }
        if (r < 0) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return exec(s, "COMMIT", "commit migration");
}

static int prepared(struct sqlite_store *s, enum statement which, sqlite3_stmt **ret)
{
        int rc;

        if (!s->stmts[which]) {
                rc = sqlite3_prepare_v3(s->db, statement_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                        &s->stmts[which], NULL);
                if (rc != SQLITE_OK)
                        return fail(s, rc, "prepare");
        }
        sqlite3_reset(s->stmts[which]);
        sqlite3_clear_bindings(s->stmts[which]);
        *ret = s->stmts[which];
        return 0;
}

/* Steps a statement that returns one id. */
static int step_id(struct sqlite_store *s, sqlite3_stmt *st, int64_t *ret)
{
        int rc = sqlite3_step(st);

        if (rc != SQLITE_ROW)
                return fail(s, rc, "write");
        *ret = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
        return rc == SQLITE_DONE ? 0 : fail(s, rc, "write");
}

static int step_done(struct sqlite_store *s, sqlite3_stmt *st)
{
        int rc = sqlite3_step(st);

        return rc == SQLITE_DONE ? 0 : fail(s, rc, "write");
}

static int64_t bucket_of(int64_t ts)
{
        return ts - ((ts % ND_BUCKET_SECONDS) + ND_BUCKET_SECONDS) % ND_BUCKET_SECONDS;
}

static int ingest_row(struct sqlite_store *s, const struct nd_ingest *in, const struct nd_edge_observation *o)
{
        sqlite3_stmt *st = NULL;
        int64_t client_id = 0, server_id = 0, edge_id = 0;
        bool server_side = o->side == ND_SIDE_SERVER;
        int r;

        if ((r = prepared(s, STMT_CLIENT_ENDPOINT, &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, o->client.addr, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, server_side ? "" : o->client.process, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, server_side ? -1 : o->client.pgid);
        if ((r = step_id(s, st, &client_id)) < 0)
                return r;

        if ((r = prepared(s, STMT_SERVER_ENDPOINT, &st)) < 0)
                return r;
        sqlite3_bind_text(st, 1, o->server.addr, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, o->server.port);
        sqlite3_bind_text(st, 3, server_side ? o->server.process : "", -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, server_side ? o->server.pgid : -1);
        if ((r = step_id(s, st, &server_id)) < 0)
                return r;

        if ((r = prepared(s, STMT_EDGE, &st)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, client_id);
        sqlite3_bind_int64(st, 2, server_id);
        sqlite3_bind_int64(st, 3, in->first_ts);
        sqlite3_bind_int64(st, 4, in->ts);
        sqlite3_bind_int64(st, 5, o->connections);
        sqlite3_bind_int(st, 6, (int)o->side);
        sqlite3_bind_int64(st, 7, o->side == ND_SIDE_CLIENT ? o->opened : 0);
        sqlite3_bind_int64(st, 8, o->side == ND_SIDE_SERVER ? o->opened : 0);
        sqlite3_bind_int64(st, 9, o->failed);
        sqlite3_bind_int(st, 10, server_side ? -1 : o->client.pgid);
        sqlite3_bind_int64(st, 11, server_side ? 0 : o->processes);
        if ((r = step_id(s, st, &edge_id)) < 0)
                return r;

        if ((r = prepared(s, STMT_OBSERVATION, &st)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, edge_id);
        sqlite3_bind_int64(st, 2, bucket_of(in->ts));
        sqlite3_bind_int64(st, 3, o->connections);
        sqlite3_bind_int64(st, 4, o->rtt_us);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)o->retrans);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)o->bytes_sent);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)o->bytes_received);
        sqlite3_bind_int64(st, 8, o->side == ND_SIDE_CLIENT ? o->opened : 0);
        sqlite3_bind_int64(st, 9, o->side == ND_SIDE_SERVER ? o->opened : 0);
        sqlite3_bind_int64(st, 10, o->failed);
        return step_done(s, st);
}

static int sqlite_ingest(struct nd_store *base, const struct nd_ingest *in)
{
        struct sqlite_store *s = to_sqlite(base);
        sqlite3_stmt *st = NULL;
        int r;

        r = exec(s, "BEGIN IMMEDIATE", "begin ingest");
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && in->hostname && i < in->n_host_addrs; i++) {
                r = prepared(s, STMT_HOST, &st);
                if (r < 0)
                        break;
                sqlite3_bind_text(st, 1, in->host_addrs[i], -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, in->hostname, -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 3, in->ts);
                r = step_done(s, st);
        }
        for (size_t i = 0; r >= 0 && i < in->n_rows; i++)
                r = ingest_row(s, in, &in->rows[i]);
        if (r < 0) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        return exec(s, "COMMIT", "commit ingest");
}

static int sqlite_prune(struct nd_store *base, int64_t before)
{
        struct sqlite_store *s = to_sqlite(base);
        char sql[512];
        int r, dropped;

        r = exec(s, "BEGIN IMMEDIATE", "begin prune");
        if (r < 0)
                return r;
        snprintf(sql, sizeof(sql), "DELETE FROM observations WHERE bucket < %lld", (long long)bucket_of(before));
        r = exec(s, sql, "prune observations");
        if (r >= 0) {
                snprintf(sql, sizeof(sql), "DELETE FROM edges WHERE last_seen < %lld", (long long)before);
                r = exec(s, sql, "prune edges");
        }
        dropped = sqlite3_changes(s->db);
        if (r >= 0)
                r = exec(s,
                         "DELETE FROM endpoints WHERE id NOT IN (SELECT client_id FROM edges) "
                         "AND id NOT IN (SELECT server_id FROM edges)",
                         "prune endpoints");
        if (r >= 0) {
                snprintf(sql, sizeof(sql), "DELETE FROM hosts WHERE last_seen < %lld", (long long)before);
                r = exec(s, sql, "prune hosts");
        }
        if (r < 0) {
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
                return r;
        }
        r = exec(s, "COMMIT", "commit prune");
        return r < 0 ? r : dropped;
}

/* A text column into a fixed buffer, cut to fit (a hot path: no printf). */
static void column_text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
        const unsigned char *text = sqlite3_column_text(st, col);
        size_t len = text ? (size_t)sqlite3_column_bytes(st, col) : 0;

        if (len >= size)
                len = size - 1;
        if (len)
                memcpy(buf, text, len);
        buf[len] = 0;
}

static void read_endpoint(sqlite3_stmt *st, int col, struct nd_endpoint *e)
{
        column_text(st, col, e->addr, sizeof(e->addr));
        e->port = (uint16_t)sqlite3_column_int(st, col + 1);
        column_text(st, col + 2, e->process, sizeof(e->process));
        e->pgid = sqlite3_column_int(st, col + 3);
}

/* The addresses as a JSON array, for "IN (SELECT value FROM json_each(?))":
 * one statement whatever their number. Addresses are plain text (digits,
 * hex, '.', ':'), so quoting them is enough. */
static char *addrs_json(const char *const *addrs, size_t n)
{
        size_t size = 3;
        char *json, *p;

        for (size_t i = 0; i < n; i++)
                size += strlen(addrs[i]) + 3;
        json = malloc(size);
        if (!json)
                return NULL;
        p = json;
        *p++ = '[';
        for (size_t i = 0; i < n; i++) {
                if (i)
                        *p++ = ',';
                *p++ = '"';
                for (const char *a = addrs[i]; *a; a++)
                        if (*a != '"' && *a != '\\')
                                *p++ = *a;
                *p++ = '"';
        }
        *p++ = ']';
        *p = 0;
        return json;
}

/* What a time range changes in a query of edges, by address or over the
 * whole store: the counts come from the buckets in the range, and the
 * edge's own first and last sightings say whether it was there in it (a
 * bucket that overlaps the range may hold sightings from just outside). */
struct range_sql {
        const char *connections, *counts, *buckets, *join, *group;
};

static struct range_sql range_sql(bool ranged)
{
        if (!ranged)
                return (struct range_sql){
                        "e.last_connections",
                        /* Both sides count the same connections opened: the larger. */
                        "max(e.opened_by_client, e.opened_by_server), e.failed", "0", "", "",
                };
        return (struct range_sql){
                "max(o.connections)", "max(sum(o.opened_by_client), sum(o.opened_by_server)), sum(o.failed)",
                "count(o.bucket)",
                "JOIN observations o ON o.edge_id = e.id AND o.bucket > :since_bucket AND o.bucket <= :until "
                "AND e.first_seen <= :until AND e.last_seen >= :since",
                "GROUP BY e.id",
        };
}

static void bind_range(sqlite3_stmt *st, const struct nd_time_range *range)
{
        /* A bucket [b, b + width) overlaps [since, until]. */
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since_bucket"),
                           range->since < INT64_MIN + ND_BUCKET_SECONDS ? INT64_MIN
                                                                         : range->since - ND_BUCKET_SECONDS);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":until"), range->until);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":since"), range->since);
}

static int sqlite_edges(struct nd_store *base, const struct nd_edge_query *q, struct nd_edge_list *out)
{
        struct sqlite_store *s = to_sqlite(base);
        bool ranged = !nd_time_range_is_open(&q->range);
        const char *match = q->match == ND_MATCH_SERVER_ADDR ? "s.addr" : "c.addr";
        struct range_sql rs = range_sql(ranged);
        char sql[2048];
        sqlite3_stmt *st;
        char *json;
        int rc, r = 0;

        snprintf(sql, sizeof(sql),
                 "SELECT e.id, c.addr, c.port, c.name, c.pgid, s.addr, s.port, s.name, s.pgid, "
                 "e.first_seen, e.last_seen, %s, e.sides, %s, e.client_pgid, e.client_processes, %s "
                 "FROM edges e JOIN endpoints c ON c.id = e.client_id JOIN endpoints s ON s.id = e.server_id "
                 "%s WHERE %s IN (SELECT value FROM json_each(:addrs)) %s",
                 rs.connections, rs.counts, rs.buckets, rs.join, match, rs.group);
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "query edges");
        json = addrs_json(q->addrs, q->n_addrs);
        if (!json) {
                sqlite3_finalize(st);
                return -ENOMEM;
        }
        sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":addrs"), json, -1, SQLITE_STATIC);
        if (ranged)
                bind_range(st, &q->range);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct nd_edge e = { .id = sqlite3_column_int64(st, 0) };

                read_endpoint(st, 1, &e.client);
                read_endpoint(st, 5, &e.server);
                e.first_seen = sqlite3_column_int64(st, 9);
                e.last_seen = sqlite3_column_int64(st, 10);
                e.connections = (uint32_t)sqlite3_column_int64(st, 11);
                e.sides = (uint8_t)sqlite3_column_int(st, 12);
                e.opened = (uint64_t)sqlite3_column_int64(st, 13);
                e.failed = (uint64_t)sqlite3_column_int64(st, 14);
                /* The edge's own: another edge of the endpoint may have
                 * been reported by another process since. */
                if (sqlite3_column_int(st, 15) >= 0)
                        e.client.pgid = sqlite3_column_int(st, 15);
                e.client_processes = (uint32_t)sqlite3_column_int64(st, 16);
                e.buckets = (uint32_t)sqlite3_column_int64(st, 17);
                r = nd_edge_list_push(out, &e);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "query edges");
        sqlite3_finalize(st);
        free(json);
        return r;
}

/* Endpoints by id, for a scan that reads edges on their own. */
struct endpoint_table {
        struct nd_endpoint *items;
        int64_t *ids; /* sorted, as SELECT ... ORDER BY id gives them */
        size_t n, allocated;
};

static void endpoint_table_done(struct endpoint_table *t)
{
        free(t->items);
        free(t->ids);
}

static const struct nd_endpoint *endpoint_by_id(const struct endpoint_table *t, int64_t id)
{
        size_t lo = 0, hi = t->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (t->ids[mid] < id)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < t->n && t->ids[lo] == id ? &t->items[lo] : NULL;
}

static int load_endpoints(struct sqlite_store *s, struct endpoint_table *t)
{
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT id, addr, port, name, pgid FROM endpoints ORDER BY id", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "read endpoints");
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (t->n == t->allocated) {
                        size_t want = t->allocated ? 2 * t->allocated : 1024;
                        struct nd_endpoint *items = reallocarray(t->items, want, sizeof(*items));
                        int64_t *ids = items ? reallocarray(t->ids, want, sizeof(*ids)) : NULL;
                        if (items)
                                t->items = items;
                        if (!ids) {
                                r = -ENOMEM;
                                break;
                        }
                        t->ids = ids;
                        t->allocated = want;
                }
                t->ids[t->n] = sqlite3_column_int64(st, 0);
                read_endpoint(st, 1, &t->items[t->n++]);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "read endpoints");
        sqlite3_finalize(st);
        return r;
}

/* The edges table read in server order (its index), each edge's endpoints
 * from a table read first: one pass, no join per edge. */
static int sqlite_scan_edges(struct nd_store *base, const struct nd_time_range *range, nd_edge_fn fn,
                             void *userdata)
{
        struct sqlite_store *s = to_sqlite(base);
        bool ranged = !nd_time_range_is_open(range);
        struct endpoint_table endpoints = {};
        struct range_sql rs = range_sql(ranged);
        char sql[1400];
        sqlite3_stmt *st;
        int rc, r;

        r = load_endpoints(s, &endpoints);
        if (r < 0) {
                endpoint_table_done(&endpoints);
                return r;
        }
        snprintf(sql, sizeof(sql),
                 "SELECT e.id, e.client_id, e.server_id, e.first_seen, e.last_seen, %s, e.sides, %s, "
                 "e.client_pgid, e.client_processes, %s FROM edges e %s %s ORDER BY e.server_id",
                 rs.connections, rs.counts, rs.buckets, rs.join, rs.group);
        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK) {
                endpoint_table_done(&endpoints);
                return fail(s, rc, "scan edges");
        }
        if (ranged)
                bind_range(st, range);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const struct nd_endpoint *client = endpoint_by_id(&endpoints, sqlite3_column_int64(st, 1));
                const struct nd_endpoint *server = endpoint_by_id(&endpoints, sqlite3_column_int64(st, 2));
                struct nd_edge e;

                if (!client || !server)
                        continue; /* an endpoint added since: the edge is newer than the scan */
                e = (struct nd_edge){
                        .id = sqlite3_column_int64(st, 0), .client = *client, .server = *server,
                        .first_seen = sqlite3_column_int64(st, 3), .last_seen = sqlite3_column_int64(st, 4),
                        .connections = (uint32_t)sqlite3_column_int64(st, 5),
                        .sides = (uint8_t)sqlite3_column_int(st, 6),
                        .opened = (uint64_t)sqlite3_column_int64(st, 7),
                        .failed = (uint64_t)sqlite3_column_int64(st, 8),
                        .client_processes = (uint32_t)sqlite3_column_int64(st, 10),
                        .buckets = (uint32_t)sqlite3_column_int64(st, 11),
                };
                if (sqlite3_column_int(st, 9) >= 0)
                        e.client.pgid = sqlite3_column_int(st, 9);
                r = fn(&e, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "scan edges");
        sqlite3_finalize(st);
        endpoint_table_done(&endpoints);
        return r < 0 ? r : 0;
}

static int sqlite_hosts(struct nd_store *base, struct nd_host_list *out)
{
        struct sqlite_store *s = to_sqlite(base);
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT addr, hostname FROM hosts ORDER BY addr", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "read hosts");
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
                r = nd_host_list_push(out, (const char *)sqlite3_column_text(st, 0),
                                      (const char *)sqlite3_column_text(st, 1));
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "read hosts");
        sqlite3_finalize(st);
        return r;
}

static int sqlite_hosts_of(struct nd_store *base, const char *const *addrs, size_t n, struct nd_host_list *out)
{
        struct sqlite_store *s = to_sqlite(base);
        char *json = addrs_json(addrs, n);
        sqlite3_stmt *st;
        int rc, r = 0;

        if (!json)
                return -ENOMEM;
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT addr, hostname FROM hosts WHERE addr IN (SELECT value FROM json_each(?1)) "
                                "ORDER BY addr",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) {
                free(json);
                return fail(s, rc, "read hosts");
        }
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
                r = nd_host_list_push(out, (const char *)sqlite3_column_text(st, 0),
                                      (const char *)sqlite3_column_text(st, 1));
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "read hosts");
        sqlite3_finalize(st);
        free(json);
        return r;
}

static int sqlite_servers_used(struct nd_store *base, const char *const *client_addrs, size_t n, int64_t since,
                               struct nd_server_list *out)
{
        struct sqlite_store *s = to_sqlite(base);
        char *json = addrs_json(client_addrs, n);
        sqlite3_stmt *st;
        int rc, r = 0;

        if (!json)
                return -ENOMEM;
        rc = sqlite3_prepare_v2(s->db,
                                "SELECT DISTINCT sv.addr, sv.port FROM endpoints c "
                                "JOIN edges e ON e.client_id = c.id JOIN endpoints sv ON sv.id = e.server_id "
                                "WHERE c.addr IN (SELECT value FROM json_each(?1)) AND e.client_last_seen >= ?2 "
                                "ORDER BY sv.addr, sv.port",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) {
                free(json);
                return fail(s, rc, "read the servers used");
        }
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, since);
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
                r = nd_server_list_push(out, (const char *)sqlite3_column_text(st, 0),
                                        (uint16_t)sqlite3_column_int(st, 1));
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "read the servers used");
        sqlite3_finalize(st);
        free(json);
        return r;
}

static int sqlite_endpoint_addrs(struct nd_store *base, struct nd_host_list *out)
{
        struct sqlite_store *s = to_sqlite(base);
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db, "SELECT DISTINCT addr FROM endpoints ORDER BY addr", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "read endpoint addresses");
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
                r = nd_host_list_push(out, (const char *)sqlite3_column_text(st, 0), "");
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "read endpoint addresses");
        sqlite3_finalize(st);
        return r;
}

static int sqlite_roles_replace(struct nd_store *base, const struct nd_role_rules *rules)
{
        struct sqlite_store *s = to_sqlite(base);
        sqlite3_stmt *st = NULL;
        int rc, r;

        r = exec(s, "BEGIN IMMEDIATE; DELETE FROM roles;", "replace roles");
        if (r < 0)
                goto rollback;
        rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO roles (position, match, service, role, datacenter, name) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                                -1, &st, NULL);
        if (rc != SQLITE_OK) {
                r = fail(s, rc, "replace roles");
                goto rollback;
        }
        for (size_t i = 0; i < rules->n; i++) {
                const struct nd_role_rule *rule = &rules->items[i];

                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, (sqlite3_int64)i);
                sqlite3_bind_text(st, 2, rule->match, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 3, rule->service, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 4, rule->role, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 5, rule->datacenter, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 6, rule->name, -1, SQLITE_STATIC);
                r = step_done(s, st);
                if (r < 0)
                        goto rollback;
        }
        sqlite3_finalize(st);
        return exec(s, "COMMIT", "commit roles");
rollback:
        sqlite3_finalize(st);
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

static int sqlite_roles_load(struct nd_store *base, struct nd_role_rules *out)
{
        struct sqlite_store *s = to_sqlite(base);
        sqlite3_stmt *st;
        int rc, r = 0;

        rc = sqlite3_prepare_v2(s->db,
                                "SELECT match, service || ':' || role, datacenter, name FROM roles ORDER BY position",
                                -1, &st, NULL);
        if (rc != SQLITE_OK)
                return fail(s, rc, "read roles");
        while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct nd_role_rule rule;
                char why[300];

                r = nd_role_rule_make((const char *)sqlite3_column_text(st, 0),
                                      (const char *)sqlite3_column_text(st, 1),
                                      (const char *)sqlite3_column_text(st, 2),
                                      (const char *)sqlite3_column_text(st, 3), &rule, why, sizeof(why));
                if (r < 0)
                        nd_store_set_error(base, "stored role rule is invalid: %s", why);
                else
                        r = nd_role_rules_push(out, &rule);
        }
        if (r >= 0 && rc != SQLITE_DONE)
                r = fail(s, rc, "read roles");
        sqlite3_finalize(st);
        return r;
}

const struct nd_store_ops nd_store_sqlite_ops = {
        .name = "sqlite",
        .open = sqlite_open,
        .close = sqlite_close,
        .schema_version = sqlite_schema_version,
        .migrate = sqlite_migrate,
        .ingest = sqlite_ingest,
        .prune = sqlite_prune,
        .edges = sqlite_edges,
        .scan_edges = sqlite_scan_edges,
        .hosts = sqlite_hosts,
        .hosts_of = sqlite_hosts_of,
        .servers_used = sqlite_servers_used,
        .endpoint_addrs = sqlite_endpoint_addrs,
        .roles_replace = sqlite_roles_replace,
        .roles_load = sqlite_roles_load,
};
