/* An agent's flush into PostgreSQL: one transaction of a handful of
 * set-based statements whatever its size, each given the rows as column
 * arrays, all sent in one pipeline: one round trip. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres-internal.h"

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

                if (!pg_result_ok(res)) {
                        int r = pg_fail(s, res, "prepare ingest");

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

                text_array_add(&columns[COL_CADDR], o->client.addr);
                text_array_add(&columns[COL_CPROCESS], server_side ? "" : o->client.process);
                text_array_add_i64(&columns[COL_CPGID], server_side ? -1 : o->client.pgid);
                text_array_add(&columns[COL_SADDR], o->server.addr);
                text_array_add_i64(&columns[COL_SPORT], o->server.port);
                text_array_add(&columns[COL_SNAME], server_side ? o->server.process : "");
                text_array_add_i64(&columns[COL_SPGID], server_side ? o->server.pgid : -1);
                text_array_add_i64(&columns[COL_SIDE], (int)o->side);
                text_array_add_i64(&columns[COL_CONNECTIONS], clamp_int32(o->connections));
                text_array_add_i64(&columns[COL_RTT_US], clamp_int32(o->rtt_us));
                text_array_add_i64(&columns[COL_RETRANS], (int64_t)o->retrans);
                text_array_add_i64(&columns[COL_BYTES_SENT], (int64_t)o->bytes_sent);
                text_array_add_i64(&columns[COL_BYTES_RECEIVED], (int64_t)o->bytes_received);
                text_array_add_i64(&columns[COL_OPENED_BY_CLIENT], server_side ? 0 : o->opened);
                text_array_add_i64(&columns[COL_OPENED_BY_SERVER], server_side ? o->opened : 0);
                text_array_add_i64(&columns[COL_FAILED], o->failed);
        }
        for (int c = 0; c < _COL_MAX; c++) {
                ret[c] = text_array_finish(&columns[c]);
                oom = oom || !ret[c];
        }
        return oom ? -ENOMEM : 0;
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
        struct pg_step steps[_STMT_MAX + 2];
        size_t n = 0;
        int r;

        format_i64(first_ts, in->first_ts);
        format_i64(ts, in->ts);
        format_i64(bucket, bucket_of(in->ts));
        steps[n++] = (struct pg_step){ .sql = "BEGIN" };
        if (in->n_rows > 0) {
                r = rows_to_arrays(in, col);
                if (r < 0)
                        return r;
                steps[n++] = (struct pg_step){ statement_name[STMT_ENDPOINTS_INSERT], NULL, 7, { ENDPOINT_COLUMNS } };
                steps[n++] = (struct pg_step){ statement_name[STMT_ENDPOINTS_UPDATE], NULL, 7, { ENDPOINT_COLUMNS } };
                steps[n++] = (struct pg_step){ statement_name[STMT_EDGES_AND_OBSERVATIONS], NULL, 16,
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
                steps[n++] = (struct pg_step){ statement_name[STMT_HOSTS], NULL, 3, { addrs, hostname, ts } };
        }
        if (n == 1)
                return 0;
        steps[n++] = (struct pg_step){ .sql = "COMMIT" };

        r = pg_run_pipeline(s, steps, n, "ingest");
        if (r < 0)
                pg_rollback(s);
        return r;
}

/* "no partition of relation ... found for row" (the schema has no CHECK
 * constraint that could raise it otherwise). */
static bool no_partition_for_row(const struct pg_store *s)
{
        return strcmp(s->sqlstate, "23514") == 0;
}

int pg_ingest(struct nd_store *base, const struct nd_ingest *in)
{
        struct pg_store *s = to_pg(base);
        int r;

        r = ensure_prepared(s);
        if (r >= 0 && in->n_rows > 0)
                r = pg_ensure_partition(s, bucket_of(in->ts));
        if (r < 0)
                return r;
        r = ingest_once(s, in);
        /* A prune elsewhere dropped a day this session thought it had:
         * make it again, once. */
        if (r == -EIO && in->n_rows > 0 && no_partition_for_row(s)) {
                pg_forget_partitions(s);
                r = pg_ensure_partition(s, bucket_of(in->ts));
                if (r >= 0)
                        r = ingest_once(s, in);
        }
        return r;
}
