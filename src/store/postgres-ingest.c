/* An agent's flush into PostgreSQL: one transaction of a few set-based
 * statements whatever its size, each given its rows as column arrays (an
 * array literal per column: one parameter), sent in one pipeline: one
 * round trip.
 *
 * Endpoints first. The connection remembers the ids, names and pgids of the
 * endpoints it has written or read; a flush whose endpoints it all knows,
 * unchanged, sends no endpoint statement. The others go in statements
 * that insert the new ones, update the changed ones and read every id
 * back (for the connection to remember); the edge statement that follows in
 * the same pipeline finds them by key itself. What the connection knows it asks again after ENDPOINT_TTL_SECONDS,
 * so that an endpoint another agent changed since (two agents claiming
 * one address) is written back within that time, as SQLite's row-by-row
 * upserts would write it at once; it forgets all of it after a prune. An
 * id that a prune elsewhere may have deleted fails the flush: the connection
 * says how many prunes had deleted endpoints when it read its ids
 * (netdep_prunes), and a new edge refuses them if that has changed (edges
 * have no foreign keys to check them: migration 003). The flush then runs
 * again, knowing nothing.
 *
 * Then edges and observations, in one statement, one row per edge: the
 * rows of one edge are folded here as SQLite's sequence of upserts would
 * leave them (the last row's count and RTT, the most of the other
 * counters; connections opened and failed connects add up; the client's
 * pgid and processes of the last client-side row), sent in key
 * order, and new edges are numbered in the order of their first rows, as
 * SQLite numbers them.
 *
 * Locks, so that ingests deadlock neither one another nor a prune: the
 * endpoints table first (as prune does), rows in key order (endpoints,
 * edges), observations in edge order. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/sort.h"
#include "store/postgres-internal.h"

#define ENDPOINT_TTL_SECONDS 300.0
#define ENDPOINT_KEY_MAX (ND_ADDR_TEXT_MAX + 8 + ND_PROCESS_NAME_MAX)
/* An edge id gone (STMT_KNOWN_EDGES), or endpoint ids maybe gone (STMT_EDGES). */
#define SQLSTATE_NOT_NULL_VIOLATION "23502"
/* "no partition of relation ... found for row" (the schema has no CHECK
 * constraint that could raise it otherwise). */
#define SQLSTATE_NO_PARTITION_FOR_ROW "23514"

enum statement {
        STMT_ENDPOINTS_INSERT,
        STMT_ENDPOINTS_UPDATE,
        STMT_ENDPOINT_IDS,
        STMT_EDGES,
        STMT_KNOWN_EDGES,
        STMT_HOSTS,
        _STMT_MAX,
};

/* $1 addr, $2 port, $3 process, $4 name, $5 pgid, $6 carries: one element
 * per distinct endpoint. */
#define ENDPOINT_ROWS                                                                                   \
        "unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::integer[], $6::boolean[]) "    \
        "WITH ORDINALITY AS x(addr, port, process, name, pgid, carries, ord) "
/* An endpoint by an index lookup, whatever the planner believes of the
 * table's size (a fresh store has no statistics). */
#define ENDPOINT_OF_X                                                                                   \
        "CROSS JOIN LATERAL (SELECT id, name, pgid FROM endpoints "                                     \
        "WHERE addr = x.addr AND port = x.port AND process = x.process LIMIT 1) e "

/* What both edge statements do to an edge. The client's pgid and
 * processes are as the client's agent last reported them: a flush with no
 * client-side row of the edge (sides & 1) knows neither. */
#define EDGE_MERGE(e, v)                                                                                \
        "first_seen = least(" e ".first_seen, " v ".first_seen), "                                      \
        "last_connections = CASE WHEN " v ".last_seen >= " e ".last_seen "                              \
        "THEN " v ".last_connections ELSE " e ".last_connections END, "                                 \
        "last_seen = greatest(" e ".last_seen, " v ".last_seen), "                                      \
        "sides = " e ".sides | " v ".sides, "                                                           \
        "opened_by_client = " e ".opened_by_client + " v ".opened_by_client, "                          \
        "opened_by_server = " e ".opened_by_server + " v ".opened_by_server, "                          \
        "failed = " e ".failed + " v ".failed, "                                                        \
        "client_pgid = CASE WHEN " v ".client_pgid >= 0 THEN " v ".client_pgid "                        \
        "ELSE " e ".client_pgid END, "                                                                  \
        "client_processes = CASE WHEN " v ".sides & 1 <> 0 THEN " v ".client_processes "                \
        "ELSE " e ".client_processes END, "                                                              \
        "client_last_seen = CASE WHEN " v ".sides & 1 <> 0 THEN greatest(" e ".client_last_seen, "      \
        v ".last_seen) ELSE " e ".client_last_seen END "
/* z: an edge's id (NULL when it does not check out, which the NOT NULL
 * column refuses: the flush fails rather than misfile a count) and its
 * counts in the bucket ($bucket). */
#define OBSERVATIONS_INSERT(bucket, which)                                                              \
        "INSERT INTO observations (edge_id, bucket, connections, rtt_us, retrans, bytes_sent, "         \
        "bytes_received, opened_by_client, opened_by_server, failed) "                                  \
        "SELECT edge_id, " bucket "::bigint, connections, rtt_us, retrans, bytes_sent, bytes_received, " \
        "opened_by_client, opened_by_server, failed FROM z " which " ORDER BY edge_id "
#define OBSERVATIONS_UPSERT(bucket, which)                                                              \
        OBSERVATIONS_INSERT(bucket, which)                                                              \
        "ON CONFLICT (edge_id, bucket) DO UPDATE SET "                                                  \
        "connections = greatest(observations.connections, excluded.connections), "                      \
        "rtt_us = excluded.rtt_us, "                                                                    \
        "retrans = greatest(observations.retrans, excluded.retrans), "                                  \
        "bytes_sent = greatest(observations.bytes_sent, excluded.bytes_sent), "                         \
        "bytes_received = greatest(observations.bytes_received, excluded.bytes_received), "             \
        "opened_by_client = observations.opened_by_client + excluded.opened_by_client, "                \
        "opened_by_server = observations.opened_by_server + excluded.opened_by_server, "                \
        "failed = observations.failed + excluded.failed"

/* The flush's host: its addresses (addrs, '{}' for none) and hostname. */
#define HOSTS_UPSERT(addrs, hostname, ts)                                                               \
        "INSERT INTO hosts (addr, hostname, last_seen) "                                                \
        "SELECT DISTINCT addr, " hostname ", " ts "::bigint FROM unnest(" addrs "::text[]) AS addr "    \
        "ORDER BY addr "                                                                                \
        "ON CONFLICT (addr) DO UPDATE SET hostname = excluded.hostname, "                               \
        "last_seen = greatest(hosts.last_seen, excluded.last_seen)"

/* Prepared once per connection.
 *
 * Endpoints: new ones in key order; then those whose attributes changed,
 * locked in id order; then every id.
 *
 * Edges, one element per edge: $1 client, $2 server, each an endpoint id
 * or, where this connection does not know it, -i for the i-th endpoint of
 * $20 addresses, $21 ports, $22 processes (those the endpoint statements
 * before it in the flush wrote: it finds them by key); $3 rank (new edges
 * are numbered in rank order), $4
 * last connections, $5 sides, $6 opened by the client, $7 by the server,
 * $8 failed, $9 most connections, $10 RTT, $11 retransmits, $12 bytes
 * sent, $13 received; $14 first_ts, $15 ts, $16 the bucket; $17 and $18
 * the host's addresses and name; $19 netdep_prunes.endpoints_deleted when
 * the connection read the endpoint ids it uses (NULL: it knows none from
 * before this flush); $23 the client's pgid (-1: no client-side row gave
 * one), $24 its processes. Upserted in key order; their ids, in the order
 * sent, and the count of prunes are the statement's answer, which a
 * changed $19 makes a NOT NULL violation instead.
 *
 * Known edges, by id, in (client_id, server_id) order: $1 ids, then as
 * above without client, server and rank ($2 last connections ... $11
 * received; $12 first_ts, $13 ts, $14 the bucket; $15 and $16 the host;
 * $17 the client's pgid, $18 its processes). An id whose edge is gone
 * (pruned) fails the flush.
 *
 * The host goes with the flush's last edge statement, '{}' to the other:
 * a statement fewer per flush. */
static const char *const statement_sql[_STMT_MAX] = {
        [STMT_ENDPOINTS_INSERT] =
                "INSERT INTO endpoints (addr, port, process, name, pgid) "
                "SELECT addr, port, process, name, pgid FROM " ENDPOINT_ROWS
                "ORDER BY addr, port, process "
                "ON CONFLICT (addr, port, process) DO NOTHING",
        [STMT_ENDPOINTS_UPDATE] =
                "WITH changed AS (SELECT e.id, x.name, x.pgid FROM " ENDPOINT_ROWS ENDPOINT_OF_X
                "WHERE x.carries AND (e.name <> x.name OR e.pgid <> x.pgid)), "
                "locked AS (SELECT id FROM endpoints WHERE id = ANY (ARRAY(SELECT id FROM changed)) "
                "ORDER BY id FOR NO KEY UPDATE) "
                "UPDATE endpoints e SET name = changed.name, pgid = changed.pgid FROM changed "
                "WHERE e.id = changed.id AND e.id = ANY (ARRAY(SELECT id FROM locked))",
        [STMT_ENDPOINT_IDS] =
                "SELECT x.ord, e.id, e.name, e.pgid FROM " ENDPOINT_ROWS ENDPOINT_OF_X "ORDER BY x.ord",
        [STMT_EDGES] =
                "WITH prunes AS (SELECT endpoints_deleted, "
                "$19::bigint IS NULL OR $19::bigint = endpoints_deleted AS ok FROM netdep_prunes), "
                "ep AS (SELECT x.ord, e.id FROM unnest($20::text[], $21::integer[], $22::text[]) "
                "WITH ORDINALITY AS x(addr, port, process, ord) " ENDPOINT_OF_X "), "
                "r AS (SELECT CASE WHEN x.client_ref > 0 THEN x.client_ref ELSE c.id END AS client_id, "
                "CASE WHEN x.server_ref > 0 THEN x.server_ref ELSE s.id END AS server_id, x.* FROM unnest("
                "$1::bigint[], $2::bigint[], $3::integer[], $4::integer[], $5::integer[], $6::bigint[], "
                "$7::bigint[], $8::bigint[], $9::integer[], $10::integer[], $11::bigint[], $12::bigint[], "
                "$13::bigint[], $23::integer[], $24::integer[]) WITH ORDINALITY AS x(client_ref, server_ref, "
                "rank, last_connections, sides, opened_by_client, opened_by_server, failed, connections, rtt_us, "
                "retrans, bytes_sent, bytes_received, client_pgid, client_processes, ord) "
                "LEFT JOIN ep c ON c.ord = -x.client_ref LEFT JOIN ep s ON s.ord = -x.server_ref), "
                "v AS (SELECT nextval('edges_id_seq') AS id, r.* FROM r ORDER BY rank), "
                "upserted AS (INSERT INTO edges AS e (id, client_id, server_id, first_seen, last_seen, "
                "last_connections, sides, opened_by_client, opened_by_server, failed, client_pgid, "
                "client_processes, client_last_seen) "
                "SELECT id, CASE WHEN (SELECT ok FROM prunes) THEN client_id END, server_id, $14::bigint, "
                "$15::bigint, last_connections, sides, opened_by_client, opened_by_server, failed, client_pgid, "
                "client_processes, CASE WHEN sides & 1 <> 0 THEN $15::bigint ELSE 0 END FROM v "
                "ORDER BY client_id, server_id "
                "ON CONFLICT (client_id, server_id) DO UPDATE SET " EDGE_MERGE("e", "excluded")
                "RETURNING id, client_id, server_id), "
                /* An edge that kept the id numbered for it is new: no
                 * observation of it can be there yet. */
                "z AS (SELECT u.id AS edge_id, u.id = v.id AS inserted, v.ord, v.connections, v.rtt_us, "
                "v.retrans, v.bytes_sent, v.bytes_received, v.opened_by_client, v.opened_by_server, v.failed "
                "FROM upserted u JOIN v ON v.client_id = u.client_id AND v.server_id = u.server_id), "
                "inserted AS (" OBSERVATIONS_INSERT("$16", "WHERE inserted") "), "
                "observed AS (" OBSERVATIONS_UPSERT("$16", "WHERE NOT inserted") "), "
                "host AS (" HOSTS_UPSERT("$17", "$18", "$15") ") "
                "SELECT array_agg(edge_id ORDER BY ord), (SELECT endpoints_deleted FROM prunes) FROM z",
        [STMT_KNOWN_EDGES] =
                "WITH v AS (SELECT $12::bigint AS first_seen, $13::bigint AS last_seen, v.* FROM unnest("
                "$1::bigint[], $2::integer[], $3::integer[], $4::bigint[], $5::bigint[], $6::bigint[], "
                "$17::integer[], $18::integer[]) "
                "WITH ORDINALITY AS v(id, last_connections, sides, opened_by_client, opened_by_server, failed, "
                "client_pgid, client_processes, ord)), "
                "updated AS (UPDATE edges e SET " EDGE_MERGE("e", "v") "FROM v WHERE e.id = v.id "
                "RETURNING e.id, v.ord), "
                "z AS (SELECT CASE WHEN z.updated_id = z.id THEN z.id END AS edge_id, z.* FROM unnest("
                "(SELECT array_agg(id ORDER BY ord) FROM updated), $1::bigint[], $7::integer[], $8::integer[], "
                "$9::bigint[], $10::bigint[], $11::bigint[], $4::bigint[], $5::bigint[], $6::bigint[]) "
                "AS z(updated_id, id, connections, rtt_us, retrans, bytes_sent, bytes_received, "
                "opened_by_client, opened_by_server, failed)), "
                "host AS (" HOSTS_UPSERT("$15", "$16", "$13") ") "
                OBSERVATIONS_UPSERT("$14", ""),
        /* $1 the addresses, $2 the hostname, $3 ts */
        [STMT_HOSTS] = HOSTS_UPSERT("$1", "$2", "$3"),
};

static const char *const statement_name[_STMT_MAX] = {
        [STMT_ENDPOINTS_INSERT] = "netdep_endpoints_insert",
        [STMT_ENDPOINTS_UPDATE] = "netdep_endpoints_update",
        [STMT_ENDPOINT_IDS] = "netdep_endpoint_ids",
        [STMT_EDGES] = "netdep_edges",
        [STMT_KNOWN_EDGES] = "netdep_known_edges",
        [STMT_HOSTS] = "netdep_hosts",
};

static int ensure_prepared(struct pg_store *s)
{
        if (s->prepared)
                return 0;
        for (int i = 0; i < _STMT_MAX; i++) {
                _cleanup_result_ PGresult *res = PQprepare(s->conn, statement_name[i], statement_sql[i], 0, NULL);

                if (!pg_result_ok(res)) {
                        int r = pg_fail(s, res, "prepare ingest");

                        /* Start again from nothing next time. */
                        PQclear(PQexec(s->conn, "DEALLOCATE ALL"));
                        s->prepared_queries = 0;
                        return r;
                }
        }
        s->prepared = true;
        return 0;
}

static double monotonic_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One distinct endpoint of a flush, its text as the server keeps it
 * (UTF-8). Its name and pgid are those of its last row that carries them
 * (a pgid for a client, a name for a server), else of its first row: what
 * SQLite's upserts would leave. */
struct flush_endpoint {
        char key[ENDPOINT_KEY_MAX];
        char addr[ND_ADDR_TEXT_MAX];
        uint16_t port;
        char process[ND_PROCESS_NAME_MAX];
        char name[ND_PROCESS_NAME_MAX];
        int32_t pgid;
        bool carries;
        bool learned; /* read from the server in this flush: name and pgid are the server's */
        int64_t id; /* 0 until known */
        /* What the edge statement is given: the id if known before the
         * flush, else -i for the i-th endpoint the flush writes. */
        int64_t ref;
};

/* One edge of a flush: its rows folded. */
struct flush_edge {
        size_t client, server; /* endpoints[] */
        int64_t client_ref, server_ref; /* their refs: the edge's key in the flush */
        int64_t id; /* 0 unless known: from the connection, or the server's answer */
        bool known; /* from the connection */
        size_t row; /* while folding: the row; then the edge's first */
        int32_t rank; /* of its first row among the edges' first rows */
        int32_t last_connections, max_connections, last_rtt_us;
        int32_t client_pgid, client_processes; /* of the last client-side row; -1, 0 without one */
        int sides;
        int64_t retrans, bytes_sent, bytes_received; /* the most */
        int64_t opened_by_client, opened_by_server, failed; /* the sum */
};

struct flush {
        struct strmap index; /* key -> endpoints[] */
        struct flush_endpoint *endpoints;
        size_t n_endpoints;
        size_t *client_of_row, *server_of_row;
        struct flush_edge *edges;
        size_t n_edges;
        int64_t prunes; /* netdep_prunes.endpoints_deleted, as STMT_EDGES read it */
};

static void flush_done(struct flush *f)
{
        strmap_done(&f->index);
        free(f->endpoints);
        free(f->client_of_row);
        free(f->server_of_row);
        free(f->edges);
}

static int32_t clamp_int32(uint32_t v)
{
        return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

/* Adds a row's endpoint (process and name raw, as the row has them);
 * its index in *ret. */
static int add_endpoint(struct flush *f, const char *addr, uint16_t port, const char *process, const char *name,
                        int32_t pgid, bool carries, size_t *ret)
{
        struct flush_endpoint e = { .port = port, .pgid = pgid, .carries = carries };
        size_t i;
        int r;

        snprintf(e.addr, sizeof(e.addr), "%s", addr);
        utf8_sanitize_into(e.process, process);
        utf8_sanitize_into(e.name, name);
        snprintf(e.key, sizeof(e.key), "%s\x1f%u\x1f%s", e.addr, (unsigned)port, e.process);
        r = strmap_put(&f->index, e.key, f->n_endpoints, &i);
        if (r < 0)
                return r;
        if (r > 0) {
                f->endpoints[f->n_endpoints] = e;
                *ret = f->n_endpoints++;
                return 0;
        }
        if (carries) {
                memcpy(f->endpoints[i].name, e.name, sizeof(e.name));
                f->endpoints[i].pgid = pgid;
                f->endpoints[i].carries = true;
        }
        *ret = i;
        return 0;
}

/* A server-side row knows neither the client's process nor its pgid, a
 * client-side row not the server's name and pgid. A client endpoint's name
 * is its process. */
static int flush_endpoints(const struct nd_ingest *in, struct flush *f)
{
        f->endpoints = calloc(2 * in->n_rows, sizeof(*f->endpoints));
        f->client_of_row = calloc(in->n_rows, sizeof(*f->client_of_row));
        f->server_of_row = calloc(in->n_rows, sizeof(*f->server_of_row));
        if (!f->endpoints || !f->client_of_row || !f->server_of_row)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_rows; i++) {
                const struct nd_edge_observation *o = &in->rows[i];
                bool server_side = o->side == ND_SIDE_SERVER;
                const char *cprocess = server_side ? "" : o->client.process;
                int32_t cpgid = server_side ? -1 : o->client.pgid;
                const char *sname = server_side ? o->server.process : "";
                int r;

                r = add_endpoint(f, o->client.addr, 0, cprocess, cprocess, cpgid, cpgid >= 0, &f->client_of_row[i]);
                if (r >= 0)
                        r = add_endpoint(f, o->server.addr, o->server.port, "", sname,
                                         server_side ? o->server.pgid : -1, sname[0] != 0, &f->server_of_row[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Known, not due for a check, and no row changes it. */
static bool endpoint_known(const struct pg_store *s, struct flush_endpoint *e, double now)
{
        const struct pg_known_endpoint *k = pg_known_endpoint(s, e->key);

        if (!k || k->expires <= now)
                return false;
        if (e->carries && (k->pgid != e->pgid || strcmp(k->name, e->name) != 0))
                return false;
        e->id = k->id;
        return true;
}

/* Reads the ids of the endpoints in missing[] (in that order) from
 * STMT_ENDPOINT_IDS's result. */
static int read_endpoint_ids(struct pg_store *s, const PGresult *res, struct flush *f, const size_t *missing,
                             size_t n_missing)
{
        if ((size_t)PQntuples(res) != n_missing) {
                nd_store_set_error(&s->base, "ingest: %d of %zu endpoints found after writing them",
                                   PQntuples(res), n_missing);
                return -EIO;
        }
        for (size_t i = 0; i < n_missing; i++) {
                struct flush_endpoint *e = &f->endpoints[missing[i]];

                if (strtoull(PQgetvalue(res, (int)i, 0), NULL, 10) != i + 1) {
                        nd_store_set_error(&s->base, "ingest: endpoint ids out of order");
                        return -EIO;
                }
                e->id = strtoll(PQgetvalue(res, (int)i, 1), NULL, 10);
                snprintf(e->name, sizeof(e->name), "%s", PQgetvalue(res, (int)i, 2));
                e->pgid = (int32_t)strtol(PQgetvalue(res, (int)i, 3), NULL, 10);
                e->learned = true;
        }
        return 0;
}

/* What the endpoint statements are given: the endpoints this connection
 * does not know (or must check), one array per column. */
struct endpoint_columns {
        char *col[6]; /* addr, port, process, name, pgid, carries */
        size_t *missing; /* their indexes in endpoints[] */
        size_t n_missing;
};

static void endpoint_columns_done(struct endpoint_columns *c)
{
        for (size_t i = 0; i < ELEMENTSOF(c->col); i++)
                free(c->col[i]);
        free(c->missing);
}

/* Gives every endpoint of the flush its ref: its id where this connection
 * knows it, else a place in *ret, which the flush writes and reads back. */
static int resolve_endpoints(struct pg_store *s, struct flush *f, struct endpoint_columns *ret)
{
        struct text_array a[6] = {};
        double now = monotonic_seconds();
        bool oom = false;

        ret->missing = calloc(f->n_endpoints, sizeof(*ret->missing));
        if (!ret->missing)
                return -ENOMEM;
        for (size_t i = 0; i < f->n_endpoints; i++) {
                struct flush_endpoint *e = &f->endpoints[i];

                if (endpoint_known(s, e, now)) {
                        e->ref = e->id;
                        continue;
                }
                ret->missing[ret->n_missing++] = i;
                e->ref = -(int64_t)ret->n_missing;
                text_array_add(&a[0], e->addr);
                text_array_add_i64(&a[1], e->port);
                text_array_add(&a[2], e->process);
                text_array_add(&a[3], e->name);
                text_array_add_i64(&a[4], e->pgid);
                text_array_add(&a[5], e->carries ? "t" : "f");
        }
        for (size_t c = 0; c < ELEMENTSOF(ret->col); c++) {
                ret->col[c] = text_array_finish(&a[c]);
                oom = oom || !ret->col[c];
        }
        return oom ? -ENOMEM : 0;
}

/* By refs: the known edges (both refs ids) in (client_id, server_id)
 * order, the order their updates lock them in. */
static int compare_edge_keys(const void *a, const void *b)
{
        const struct flush_edge *x = a, *y = b;

        if (x->client_ref != y->client_ref)
                return x->client_ref < y->client_ref ? -1 : 1;
        if (x->server_ref != y->server_ref)
                return x->server_ref < y->server_ref ? -1 : 1;
        return x->row < y->row ? -1 : x->row > y->row;
}

static int64_t max_i64(int64_t a, int64_t b)
{
        return a > b ? a : b;
}

/* Folds the rows into one edge each, in key order; numbers them by their
 * first rows. Counters are 64-bit signed, as SQLite stores them. */
static int fold_edges(const struct pg_store *s, const struct nd_ingest *in, struct flush *f)
{
        _cleanup_free_ size_t *edge_of_row = NULL;
        struct flush_edge *e = NULL;
        int32_t rank = 0;

        f->edges = calloc(in->n_rows, sizeof(*f->edges));
        edge_of_row = calloc(in->n_rows, sizeof(*edge_of_row));
        if (!f->edges || !edge_of_row)
                return -ENOMEM;
        for (size_t i = 0; i < in->n_rows; i++)
                f->edges[i] = (struct flush_edge){ .client = f->client_of_row[i],
                                                   .server = f->server_of_row[i],
                                                   .client_ref = f->endpoints[f->client_of_row[i]].ref,
                                                   .server_ref = f->endpoints[f->server_of_row[i]].ref,
                                                   .row = i };
        qsort_safe(f->edges, in->n_rows, sizeof(*f->edges), compare_edge_keys);

        for (size_t i = 0; i < in->n_rows; i++) {
                const struct flush_edge key = f->edges[i];
                const struct nd_edge_observation *o = &in->rows[key.row];
                int32_t connections = clamp_int32(o->connections);
                int64_t opened = o->opened;

                if (!e || e->client_ref != key.client_ref || e->server_ref != key.server_ref) {
                        bool ids = key.client_ref > 0 && key.server_ref > 0;

                        e = &f->edges[f->n_edges++]; /* never past i: folding only shrinks */
                        *e = (struct flush_edge){ .client = key.client, .server = key.server,
                                                  .client_ref = key.client_ref, .server_ref = key.server_ref,
                                                  .id = ids ? pg_known_edge(s, key.client_ref, key.server_ref) : 0,
                                                  .row = key.row, .rank = -1, .max_connections = connections,
                                                  .client_pgid = -1,
                                                  .retrans = (int64_t)o->retrans,
                                                  .bytes_sent = (int64_t)o->bytes_sent,
                                                  .bytes_received = (int64_t)o->bytes_received };
                        e->known = e->id != 0;
                }
                /* Rows come in order within an edge: the last one wins. */
                e->last_connections = connections;
                e->last_rtt_us = clamp_int32(o->rtt_us);
                e->sides |= (int)o->side;
                e->max_connections = connections > e->max_connections ? connections : e->max_connections;
                e->retrans = max_i64(e->retrans, (int64_t)o->retrans);
                e->bytes_sent = max_i64(e->bytes_sent, (int64_t)o->bytes_sent);
                e->bytes_received = max_i64(e->bytes_received, (int64_t)o->bytes_received);
                e->opened_by_client += o->side == ND_SIDE_SERVER ? 0 : opened;
                e->opened_by_server += o->side == ND_SIDE_SERVER ? opened : 0;
                e->failed += o->failed;
                if (o->side == ND_SIDE_CLIENT) {
                        if (o->client.pgid >= 0)
                                e->client_pgid = o->client.pgid;
                        e->client_processes = clamp_int32(o->processes);
                }
                edge_of_row[key.row] = (size_t)(e - f->edges);
        }
        for (size_t i = 0; i < in->n_rows; i++) {
                struct flush_edge *first = &f->edges[edge_of_row[i]];

                if (first->rank < 0)
                        first->rank = rank++;
        }
        return 0;
}

enum edge_column {
        EDGE_CLIENT_ID, /* a known edge's id */
        EDGE_SERVER_ID,
        EDGE_RANK,
        EDGE_LAST_CONNECTIONS,
        EDGE_SIDES,
        EDGE_OPENED_BY_CLIENT,
        EDGE_OPENED_BY_SERVER,
        EDGE_FAILED,
        EDGE_MAX_CONNECTIONS,
        EDGE_RTT_US,
        EDGE_RETRANS,
        EDGE_BYTES_SENT,
        EDGE_BYTES_RECEIVED,
        EDGE_CLIENT_PGID,
        EDGE_CLIENT_PROCESSES,
        _EDGE_COLUMN_MAX,
};

static void free_edge_columns(char *(*columns)[_EDGE_COLUMN_MAX])
{
        for (size_t i = 0; i < _EDGE_COLUMN_MAX; i++)
                free((*columns)[i]);
}

/* The known edges (by id) or the others (by key), one array per column;
 * returns how many. */
static int edges_to_arrays(const struct flush *f, bool known, char *ret[static _EDGE_COLUMN_MAX])
{
        struct text_array a[_EDGE_COLUMN_MAX] = {};
        bool oom = false;
        int n = 0;

        for (size_t i = 0; i < f->n_edges; i++) {
                const struct flush_edge *e = &f->edges[i];

                if (e->known != known)
                        continue;
                n++;
                if (known) {
                        text_array_add_i64(&a[EDGE_CLIENT_ID], e->id);
                } else {
                        text_array_add_i64(&a[EDGE_CLIENT_ID], e->client_ref);
                        text_array_add_i64(&a[EDGE_SERVER_ID], e->server_ref);
                        text_array_add_i64(&a[EDGE_RANK], e->rank);
                }
                text_array_add_i64(&a[EDGE_LAST_CONNECTIONS], e->last_connections);
                text_array_add_i64(&a[EDGE_SIDES], e->sides);
                text_array_add_i64(&a[EDGE_OPENED_BY_CLIENT], e->opened_by_client);
                text_array_add_i64(&a[EDGE_OPENED_BY_SERVER], e->opened_by_server);
                text_array_add_i64(&a[EDGE_FAILED], e->failed);
                text_array_add_i64(&a[EDGE_MAX_CONNECTIONS], e->max_connections);
                text_array_add_i64(&a[EDGE_RTT_US], e->last_rtt_us);
                text_array_add_i64(&a[EDGE_RETRANS], e->retrans);
                text_array_add_i64(&a[EDGE_BYTES_SENT], e->bytes_sent);
                text_array_add_i64(&a[EDGE_BYTES_RECEIVED], e->bytes_received);
                text_array_add_i64(&a[EDGE_CLIENT_PGID], e->client_pgid);
                text_array_add_i64(&a[EDGE_CLIENT_PROCESSES], e->client_processes);
        }
        for (size_t c = 0; c < _EDGE_COLUMN_MAX; c++) {
                ret[c] = text_array_finish(&a[c]);
                oom = oom || !ret[c];
        }
        return oom ? -ENOMEM : n;
}

/* The ids STMT_EDGES answers, {1,2,...}, for the unknown edges in order,
 * and the count of prunes they go with. */
static int read_edge_ids(struct pg_store *s, const PGresult *res, struct flush *f)
{
        const char *p = PQntuples(res) == 1 && PQnfields(res) == 2 ? PQgetvalue(res, 0, 0) : "";

        if (*p++ != '{')
                goto bad;
        for (size_t i = 0; i < f->n_edges; i++) {
                struct flush_edge *e = &f->edges[i];
                char *end;

                if (e->known)
                        continue;
                e->id = strtoll(p, &end, 10);
                if (end == p || e->id <= 0 || (*end != ',' && *end != '}'))
                        goto bad;
                p = end + 1;
        }
        if (p[-1] == '}' && *p == 0) {
                f->prunes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
                return 0;
        }
bad:
        nd_store_set_error(&s->base, "ingest: unexpected edge ids from the server");
        return -EIO;
}

/* After the commit: what the flush learned of endpoints and edges. */
static int remember_flush(struct pg_store *s, const struct flush *f, bool edges_learned)
{
        double expires = monotonic_seconds() + ENDPOINT_TTL_SECONDS;
        int r;

        for (size_t i = 0; i < f->n_endpoints; i++) {
                const struct flush_endpoint *e = &f->endpoints[i];
                struct pg_known_endpoint k = { .id = e->id, .expires = expires, .pgid = e->pgid };

                if (!e->learned)
                        continue;
                snprintf(k.name, sizeof(k.name), "%s", e->name);
                r = pg_remember_endpoint(s, e->key, &k);
                if (r < 0)
                        return r;
        }
        if (edges_learned)
                s->known_prunes = f->prunes;
        for (size_t i = 0; edges_learned && i < f->n_edges; i++) {
                const struct flush_edge *e = &f->edges[i];

                if (e->known)
                        continue;
                r = pg_remember_edge(s, f->endpoints[e->client].id, f->endpoints[e->server].id, e->id);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int ingest_once(struct pg_store *s, const struct nd_ingest *in)
{
        _cleanup_(free_edge_columns) char *known_col[_EDGE_COLUMN_MAX] = {};
        _cleanup_(free_edge_columns) char *col[_EDGE_COLUMN_MAX] = {};
        _cleanup_(flush_done) struct flush f = {};
        _cleanup_(endpoint_columns_done) struct endpoint_columns ends = {};
        _cleanup_result_ PGresult *edge_ids = NULL, *endpoint_ids = NULL;
        _cleanup_free_ char *addrs = NULL, *hostname = NULL;
        char first_ts[24], ts[24], bucket[24], prunes[24];
        bool host = in->hostname && in->n_host_addrs > 0;
        int n_known = 0, n_unknown = 0, r;
        struct pg_step steps[8];
        size_t n = 0;

        if (in->n_rows == 0 && !host)
                return 0;
        format_i64(first_ts, in->first_ts);
        format_i64(ts, in->ts);
        format_i64(bucket, bucket_of(in->ts));
        format_i64(prunes, s->known_prunes);
        if (in->n_rows > 0) {
                r = flush_endpoints(in, &f);
                if (r >= 0)
                        r = resolve_endpoints(s, &f, &ends);
                if (r >= 0)
                        r = fold_edges(s, in, &f);
                if (r >= 0)
                        r = n_known = edges_to_arrays(&f, true, known_col);
                if (r >= 0)
                        r = n_unknown = edges_to_arrays(&f, false, col);
                if (r < 0)
                        goto fail;
        }
        steps[n++] = (struct pg_step){ .sql = "BEGIN" };
        if (ends.n_missing > 0) {
#define ENDPOINT_STEP(which, ...)                                                                       \
        (struct pg_step){ .statement = statement_name[which], .n_params = 6,                            \
                          .params = { ends.col[0], ends.col[1], ends.col[2], ends.col[3], ends.col[4],      \
                                      ends.col[5] },                                                     \
                          __VA_ARGS__ }
                steps[n++] = ENDPOINT_STEP(STMT_ENDPOINTS_INSERT);
                steps[n++] = ENDPOINT_STEP(STMT_ENDPOINTS_UPDATE);
                steps[n++] = ENDPOINT_STEP(STMT_ENDPOINT_IDS, .ret = &endpoint_ids);
#undef ENDPOINT_STEP
        } else if (in->n_rows > 0)
                /* What writing an endpoint would take: a prune waits
                 * until this flush is done, or this flush for the prune. */
                steps[n++] = (struct pg_step){ .sql = "LOCK TABLE endpoints IN ROW EXCLUSIVE MODE" };
        if (host) {
                struct text_array array = {};

                for (size_t i = 0; i < in->n_host_addrs; i++)
                        text_array_add(&array, in->host_addrs[i]);
                addrs = text_array_finish(&array);
                hostname = utf8_sanitized(in->hostname);
                if (!addrs || !hostname) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        /* The host goes with the last edge statement, or on its own. */
        const char *known_host_addrs = host && n_unknown == 0 ? addrs : "{}";
        const char *host_addrs = host && n_unknown > 0 ? addrs : "{}";
        const char *host_name = hostname ? hostname : "";
        if (n_known > 0)
                steps[n++] = (struct pg_step){
                        .statement = statement_name[STMT_KNOWN_EDGES], .n_params = 18,
                        .params = { known_col[EDGE_CLIENT_ID], known_col[EDGE_LAST_CONNECTIONS], known_col[EDGE_SIDES],
                                    known_col[EDGE_OPENED_BY_CLIENT], known_col[EDGE_OPENED_BY_SERVER],
                                    known_col[EDGE_FAILED], known_col[EDGE_MAX_CONNECTIONS], known_col[EDGE_RTT_US],
                                    known_col[EDGE_RETRANS], known_col[EDGE_BYTES_SENT],
                                    known_col[EDGE_BYTES_RECEIVED], first_ts, ts, bucket, known_host_addrs,
                                    host_name, known_col[EDGE_CLIENT_PGID], known_col[EDGE_CLIENT_PROCESSES] },
                };
        if (n_unknown > 0)
                steps[n++] = (struct pg_step){
                        .statement = statement_name[STMT_EDGES], .n_params = 24,
                        .params = { col[EDGE_CLIENT_ID], col[EDGE_SERVER_ID], col[EDGE_RANK],
                                    col[EDGE_LAST_CONNECTIONS], col[EDGE_SIDES], col[EDGE_OPENED_BY_CLIENT],
                                    col[EDGE_OPENED_BY_SERVER], col[EDGE_FAILED], col[EDGE_MAX_CONNECTIONS],
                                    col[EDGE_RTT_US], col[EDGE_RETRANS], col[EDGE_BYTES_SENT],
                                    col[EDGE_BYTES_RECEIVED], first_ts, ts, bucket, host_addrs, host_name,
                                    s->known_prunes < 0 ? NULL : prunes, ends.col[0], ends.col[1],
                                    ends.col[2], col[EDGE_CLIENT_PGID], col[EDGE_CLIENT_PROCESSES] },
                        .ret = &edge_ids,
                };
        if (host && in->n_rows == 0)
                steps[n++] = (struct pg_step){ .statement = statement_name[STMT_HOSTS], .n_params = 3,
                                               .params = { addrs, hostname, ts } };
        steps[n++] = (struct pg_step){ .sql = "COMMIT" };

        r = pg_run_pipeline(s, steps, n, "ingest");
        if (r >= 0 && ends.n_missing > 0)
                r = read_endpoint_ids(s, endpoint_ids, &f, ends.missing, ends.n_missing);
        if (r >= 0 && n_unknown > 0)
                r = read_edge_ids(s, edge_ids, &f);
        if (r < 0)
                goto fail;
        return remember_flush(s, &f, n_unknown > 0);
fail:
        pg_rollback(s);
        return r;
}

static bool last_error_is(const struct pg_store *s, const char *sqlstate)
{
        return strcmp(s->sqlstate, sqlstate) == 0;
}

int pg_ingest(struct nd_store *base, const struct nd_ingest *in)
{
        struct pg_store *s = to_pg(base);
        bool forgot_known = false, made_partition = false;
        int r;

        r = ensure_prepared(s);
        if (r >= 0 && in->n_rows > 0)
                r = pg_ensure_partition(s, bucket_of(in->ts));
        if (r < 0)
                return r;
        /* A prune elsewhere may have deleted what this connection knew: each
         * of its traces is followed once (a prune can leave both). */
        for (;;) {
                s->sqlstate[0] = 0;
                r = ingest_once(s, in);
                if (r != -EIO || in->n_rows == 0)
                        return r;
                if (!forgot_known && last_error_is(s, SQLSTATE_NOT_NULL_VIOLATION)) {
                        /* An endpoint or an edge this connection knew may be gone. */
                        pg_forget_known(s);
                        forgot_known = true;
                } else if (!made_partition && last_error_is(s, SQLSTATE_NO_PARTITION_FOR_ROW)) {
                        /* The day this connection thought it had is gone. */
                        pg_forget_partitions(s);
                        made_partition = true;
                        r = pg_ensure_partition(s, bucket_of(in->ts));
                        if (r < 0)
                                return r;
                } else
                        return r;
        }
}
