/* Questions to the PostgreSQL store: edges by address, hosts, endpoint
 * addresses, and the role rules (kept and read here too). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres-internal.h"

/* Edges by address, in two questions: the edges (numbers only), then the
 * endpoints they name, each once. A look at depth 3 reads ten thousands of
 * edges between a few hundred endpoints: sending each endpoint's text
 * once, not with each of its edges, halves what the server formats and the
 * client parses and holds, and spares the server a join per edge. The
 * edges come as one row of column arrays, as an ingest sends them: a
 * result of ten thousand rows costs the client more (a tuple and its
 * fields allocated each, and the pages faulted in for them) than the
 * server spends finding them.
 *
 * Driven from the address list: each address finds its endpoints and
 * their edges through the indexes. OFFSET 0 keeps the planner from
 * flattening the lateral join into one hash join over every edge, which it
 * otherwise picks for a few dozen addresses (a sequential scan of the
 * whole table: 200+ ms at a million edges, against 20-40 ms this way).
 * Prepared once per connection: planning them costs about what running them
 * does on small answers. In no particular order (sorting 10k edges by id
 * took a third of the largest query): the one caller, graph.c, orders
 * them its own way. */
enum edge_query {
        EDGES_BY_SERVER,
        EDGES_BY_CLIENT,
        EDGES_BY_SERVER_RANGED,
        EDGES_BY_CLIENT_RANGED,
        EDGES_BY_ID,
        EDGES_BY_ID_RANGED,
        EDGE_ENDPOINTS,
        _EDGE_QUERY_MAX,
};

enum edge_column {
        EDGE_ID,
        EDGE_CLIENT_ID,
        EDGE_SERVER_ID,
        EDGE_FIRST_SEEN,
        EDGE_LAST_SEEN,
        EDGE_CONNECTIONS,
        EDGE_SIDES,
        EDGE_OPENED,
        EDGE_FAILED,
        EDGE_CLIENT_PGID,
        EDGE_CLIENT_PROCESSES,
        EDGE_BUCKETS,
        _EDGE_COLUMN_MAX,
};

#define EDGES_SQL(match, columns, join, group)                                                          \
        "SELECT array_agg(id), array_agg(client_id), array_agg(server_id), array_agg(first_seen), "     \
        "array_agg(last_seen), array_agg(connections), array_agg(sides), array_agg(opened), "          \
        "array_agg(failed), array_agg(client_pgid), array_agg(client_processes), array_agg(buckets) "   \
        "FROM (SELECT e.id, e.client_id, e.server_id, e.first_seen, e.last_seen, " columns ", "          \
        "e.client_pgid, e.client_processes "                                                            \
        "FROM (SELECT DISTINCT unnest($1::text[]) AS addr) q "                                           \
        "CROSS JOIN LATERAL (SELECT e.* FROM endpoints m JOIN edges e ON e." match " = m.id "          \
        "WHERE m.addr = q.addr OFFSET 0) e " join " " group ") "                                        \
        "x(id, client_id, server_id, first_seen, last_seen, connections, sides, opened, failed, "       \
        "buckets, client_pgid, client_processes)"
/* The same answer for the edges whose server endpoint's id is in ($1, $5]:
 * a scan of the whole store in slices, through edges_by_server, each
 * server endpoint's edges in one slice. */
#define EDGES_BY_ID_SQL(columns, join, group)                                                           \
        "SELECT array_agg(id), array_agg(client_id), array_agg(server_id), array_agg(first_seen), "     \
        "array_agg(last_seen), array_agg(connections), array_agg(sides), array_agg(opened), "          \
        "array_agg(failed), array_agg(client_pgid), array_agg(client_processes), array_agg(buckets) "   \
        "FROM (SELECT e.id, e.client_id, e.server_id, e.first_seen, e.last_seen, " columns ", "          \
        "e.client_pgid, e.client_processes FROM edges e " join " "                                      \
        "WHERE e.server_id > $1::bigint AND e.server_id <= $5::bigint " group ") "                      \
        "x(id, client_id, server_id, first_seen, last_seen, connections, sides, opened, failed, "       \
        "buckets, client_pgid, client_processes)"
#define OPEN_COLUMNS                                                                                    \
        /* Both sides count the same connections opened: the larger. */                                 \
        "e.last_connections, e.sides, greatest(e.opened_by_client, e.opened_by_server), e.failed, 0"
/* A bucket [b, b + width) overlaps [since, until]: $2 is since - width,
 * $4 since. The edge's own first and last sightings say whether it was
 * there in the range: a bucket that overlaps it may hold only sightings
 * from before or after. */
#define RANGED_COLUMNS                                                                                  \
        "max(o.connections), e.sides, greatest(sum(o.opened_by_client), sum(o.opened_by_server))::bigint, " \
        "sum(o.failed)::bigint, count(o.bucket)"
#define RANGED_JOIN                                                                                     \
        "JOIN observations o ON o.edge_id = e.id AND o.bucket > $2::bigint AND o.bucket <= $3::bigint "   \
        "AND e.first_seen <= $3::bigint AND e.last_seen >= $4::bigint"
#define RANGED_GROUP                                                                                    \
        "GROUP BY e.id, e.client_id, e.server_id, e.first_seen, e.last_seen, e.sides, e.client_pgid, "    \
        "e.client_processes"

static const char *const edge_query_sql[_EDGE_QUERY_MAX] = {
        [EDGES_BY_SERVER] = EDGES_SQL("server_id", OPEN_COLUMNS, "", ""),
        [EDGES_BY_CLIENT] = EDGES_SQL("client_id", OPEN_COLUMNS, "", ""),
        [EDGES_BY_SERVER_RANGED] = EDGES_SQL("server_id", RANGED_COLUMNS, RANGED_JOIN, RANGED_GROUP),
        [EDGES_BY_CLIENT_RANGED] = EDGES_SQL("client_id", RANGED_COLUMNS, RANGED_JOIN, RANGED_GROUP),
        /* $2..$4 unused but typed, so that both take the same parameters. */
        [EDGES_BY_ID] = EDGES_BY_ID_SQL(OPEN_COLUMNS, "", "AND $2::bigint IS NOT NULL AND $3::bigint IS NOT NULL "
                                                          "AND $4::bigint IS NOT NULL"),
        [EDGES_BY_ID_RANGED] = EDGES_BY_ID_SQL(RANGED_COLUMNS, RANGED_JOIN, RANGED_GROUP),
        [EDGE_ENDPOINTS] = "SELECT id, addr, port, name, pgid FROM endpoints WHERE id = ANY ($1::bigint[])",
};

static const char *const edge_query_name[_EDGE_QUERY_MAX] = {
        [EDGES_BY_SERVER] = "netdep_edges_by_server",
        [EDGES_BY_CLIENT] = "netdep_edges_by_client",
        [EDGES_BY_SERVER_RANGED] = "netdep_edges_by_server_ranged",
        [EDGES_BY_CLIENT_RANGED] = "netdep_edges_by_client_ranged",
        [EDGES_BY_ID] = "netdep_edges_by_id",
        [EDGES_BY_ID_RANGED] = "netdep_edges_by_id_ranged",
        [EDGE_ENDPOINTS] = "netdep_edge_endpoints",
};

/* Runs one of them, preparing it first (in the same round trip) the
 * first time a connection asks. */
static int exec_edge_query(struct pg_store *s, enum edge_query which, int n_params, const char *const *params,
                           PGresult **ret)
{
        unsigned bit = 1u << which;
        struct pg_step steps[2] = {
                { .statement = edge_query_name[which], .sql = edge_query_sql[which], .prepare = true },
                { .statement = edge_query_name[which], .n_params = n_params },
        };
        _cleanup_result_ PGresult *res = NULL;
        int r;

        if (s->prepared_queries & bit) {
                res = PQexecPrepared(s->conn, edge_query_name[which], n_params, params, NULL, NULL, 0);
                if (!pg_result_ok(res))
                        return pg_fail(s, res, "query edges");
                *ret = TAKE_PTR(res);
                return 0;
        }
        memcpy(steps[1].params, params, (size_t)n_params * sizeof(*params));
        steps[1].ret = &res;
        r = pg_run_pipeline(s, steps, ELEMENTSOF(steps), "query edges");
        if (r < 0) {
                /* Prepared or not, start again from nothing next time. */
                char sql[64];

                snprintf(sql, sizeof(sql), "DEALLOCATE %s", edge_query_name[which]);
                PQclear(PQexec(s->conn, sql));
                return r;
        }
        s->prepared_queries |= bit;
        *ret = TAKE_PTR(res);
        return 0;
}

/* Endpoint ids to their place in an answer: open addressing, load <= 1/2. */
struct id_index {
        int64_t *ids; /* 0: empty */
        uint32_t *rows;
        size_t mask;
};

static void id_index_done(struct id_index *x)
{
        free(x->ids);
        free(x->rows);
}

static int id_index_init(struct id_index *x, size_t n)
{
        size_t capacity = 16;

        while (capacity < 2 * n)
                capacity *= 2;
        *x = (struct id_index){ .ids = calloc(capacity, sizeof(*x->ids)),
                                .rows = malloc(capacity * sizeof(*x->rows)), .mask = capacity - 1 };
        if (!x->ids || !x->rows)
                return -ENOMEM;
        memset(x->rows, 0xff, capacity * sizeof(*x->rows)); /* UINT32_MAX: not in the answer */
        return 0;
}

/* The slot of id: where it is, or the empty one where it would go. */
static size_t id_slot(const struct id_index *x, int64_t id)
{
        uint64_t h = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);
        size_t i = (size_t)(h >> 32) & x->mask;

        while (x->ids[i] != 0 && x->ids[i] != id)
                i = (i + 1) & x->mask;
        return i;
}

static void copy_text(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(src, size - 1);

        memcpy(dst, src, n);
        dst[n] = 0;
}

/* Elements in an array literal of numbers, {1,2,3}; "" (no rows: NULL)
 * has none. */
static size_t array_length(const char *text)
{
        size_t n = 0;

        if (text[0] != '{' || text[1] == '}' || !text[1])
                return 0;
        for (const char *p = text; *p; p++)
                n += *p == ',';
        return n + 1;
}

/* Reads an array literal of n numbers into ret. */
static int parse_numbers(const char *text, size_t n, int64_t *ret)
{
        const char *p = text + 1;

        if (text[0] != '{')
                return n == 0 ? 0 : -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                char *end;

                ret[i] = strtoll(p, &end, 10);
                if (end == p || *end != (i + 1 < n ? ',' : '}'))
                        return -EBADMSG;
                p = end + 1;
        }
        return 0;
}

/* The distinct endpoint ids of the edges, as an array literal; their
 * slots in *ret. */
static int endpoint_ids(int64_t *const columns[static _EDGE_COLUMN_MAX], size_t n, struct id_index *ret,
                        char **ret_array)
{
        struct text_array array = {};
        int r;

        r = id_index_init(ret, 2 * n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                for (int c = EDGE_CLIENT_ID; c <= EDGE_SERVER_ID; c++) {
                        int64_t id = columns[c][i];
                        size_t slot = id_slot(ret, id);

                        if (ret->ids[slot] == id)
                                continue;
                        ret->ids[slot] = id;
                        text_array_add_i64(&array, id);
                }
        *ret_array = text_array_finish(&array);
        return r < 0 ? r : *ret_array ? 0 : -ENOMEM;
}

static void free_columns(int64_t *(*columns)[_EDGE_COLUMN_MAX])
{
        for (size_t c = 0; c < _EDGE_COLUMN_MAX; c++)
                free((*columns)[c]);
}

/* Row indexes by the values of a column (userdata). */
static int compare_by_column(const void *a, const void *b, void *userdata)
{
        const int64_t *column = userdata;
        int64_t x = column[*(const uint32_t *)a], y = column[*(const uint32_t *)b];

        return x < y ? -1 : x > y;
}

/* An answer of column arrays (EDGES_SQL) to edges, with their endpoints
 * asked in a second question, each to fn; by_server: in server endpoint
 * order. The answer's text is freed once read (*res is NULL then): a
 * slice of 200k edges is held as numbers, not as text and edges both. */
static int edges_of_answer(struct pg_store *s, PGresult **res, bool by_server, nd_edge_fn fn, void *userdata)
{
        _cleanup_result_ PGresult *endpoints = NULL;
        _cleanup_free_ uint32_t *order = NULL;
        _cleanup_(free_columns) int64_t *column[_EDGE_COLUMN_MAX] = {};
        _cleanup_free_ struct nd_endpoint *ends = NULL;
        _cleanup_free_ char *ids = NULL;
        _cleanup_(id_index_done) struct id_index index = {};
        size_t n;
        int r;

        if (PQntuples(*res) != 1 || PQnfields(*res) != _EDGE_COLUMN_MAX)
                goto bad;
        n = array_length(PQgetvalue(*res, 0, EDGE_ID));
        if (n == 0)
                return 0;
        for (int c = 0; c < _EDGE_COLUMN_MAX; c++) {
                column[c] = malloc(n * sizeof(*column[c]));
                if (!column[c])
                        return -ENOMEM;
                if (parse_numbers(PQgetvalue(*res, 0, c), n, column[c]) < 0)
                        goto bad;
        }
        PQclear(*res);
        *res = NULL;
        order = malloc(n * sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = (uint32_t)i;
        if (by_server)
                qsort_r(order, n, sizeof(*order), compare_by_column, column[EDGE_SERVER_ID]);

        r = endpoint_ids(column, n, &index, &ids);
        if (r >= 0)
                r = exec_edge_query(s, EDGE_ENDPOINTS, 1, (const char *[]){ ids }, &endpoints);
        if (r < 0)
                return r;
        ends = calloc((size_t)PQntuples(endpoints), sizeof(*ends));
        if (!ends)
                return -ENOMEM;
        for (int i = 0; i < PQntuples(endpoints); i++) {
                struct nd_endpoint *e = &ends[i];

                copy_text(e->addr, sizeof(e->addr), PQgetvalue(endpoints, i, 1));
                e->port = (uint16_t)atoi(PQgetvalue(endpoints, i, 2));
                copy_text(e->process, sizeof(e->process), PQgetvalue(endpoints, i, 3));
                e->pgid = atoi(PQgetvalue(endpoints, i, 4));
                index.rows[id_slot(&index, strtoll(PQgetvalue(endpoints, i, 0), NULL, 10))] = (uint32_t)i;
        }

        for (size_t k = 0; r >= 0 && k < n; k++) {
                size_t i = order[k];
                uint32_t client = index.rows[id_slot(&index, column[EDGE_CLIENT_ID][i])];
                uint32_t server = index.rows[id_slot(&index, column[EDGE_SERVER_ID][i])];
                struct nd_edge edge, *e = &edge;

                /* Gone since the first question: a prune deleted the edge
                 * (an endpoint goes only with the last of its edges). */
                if (client == UINT32_MAX || server == UINT32_MAX)
                        continue;
                *e = (struct nd_edge){
                        .id = column[EDGE_ID][i],
                        .client = ends[client],
                        .server = ends[server],
                        .first_seen = column[EDGE_FIRST_SEEN][i],
                        .last_seen = column[EDGE_LAST_SEEN][i],
                        .connections = (uint32_t)column[EDGE_CONNECTIONS][i],
                        .sides = (uint8_t)column[EDGE_SIDES][i],
                        .opened = (uint64_t)column[EDGE_OPENED][i],
                        .failed = (uint64_t)column[EDGE_FAILED][i],
                        .client_processes = (uint32_t)column[EDGE_CLIENT_PROCESSES][i],
                        .buckets = (uint32_t)column[EDGE_BUCKETS][i],
                };
                /* The edge's own: another edge of the endpoint may have
                 * been reported by another process since. */
                if (column[EDGE_CLIENT_PGID][i] >= 0)
                        e->client.pgid = (int32_t)column[EDGE_CLIENT_PGID][i];
                r = fn(e, userdata);
        }
        return r;
bad:
        nd_store_set_error(&s->base, "query edges: an answer not as asked");
        return -EBADMSG;
}

/* A range's parameters: since less a bucket (an overlapping bucket starts
 * after it), until, since. */
static void range_params(const struct nd_time_range *range, char since_bucket[24], char until[24], char since[24])
{
        format_i64(since_bucket, range->since < INT64_MIN + ND_BUCKET_SECONDS ? INT64_MIN
                                                                                 : range->since - ND_BUCKET_SECONDS);
        format_i64(until, range->until);
        format_i64(since, range->since);
}

static int push_edge(const struct nd_edge *e, void *userdata)
{
        return nd_edge_list_push(userdata, e);
}

int pg_edges(struct nd_store *base, const struct nd_edge_query *q, struct nd_edge_list *out)
{
        struct pg_store *s = to_pg(base);
        bool ranged = !nd_time_range_is_open(&q->range);
        enum edge_query which = (q->match == ND_MATCH_SERVER_ADDR ? EDGES_BY_SERVER : EDGES_BY_CLIENT) +
                                (ranged ? EDGES_BY_SERVER_RANGED : 0);
        _cleanup_result_ PGresult *res = NULL;
        _cleanup_free_ char *addrs = NULL;
        struct text_array array = {};
        char since_bucket[24], since[24], until[24];
        int r;

        for (size_t i = 0; i < q->n_addrs; i++)
                text_array_add(&array, q->addrs[i]);
        addrs = text_array_finish(&array);
        if (!addrs)
                return -ENOMEM;
        range_params(&q->range, since_bucket, until, since);
        r = exec_edge_query(s, which, ranged ? 4 : 1, (const char *[]){ addrs, since_bucket, until, since }, &res);
        if (r < 0)
                return r;
        return edges_of_answer(s, &res, false, push_edge, out);
}

int pg_hosts(struct nd_store *base, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        /* Byte order, as SQLite sorts text. */
        r = pg_exec_params(s, "SELECT addr, hostname FROM hosts ORDER BY addr COLLATE \"C\"", 0, NULL, "read hosts",
                           &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = nd_host_list_push(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        return r;
}

int pg_hosts_of(struct nd_store *base, const char *const *addrs, size_t n, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        _cleanup_free_ char *array = NULL;
        struct text_array a = {};
        int r;

        for (size_t i = 0; i < n; i++)
                text_array_add(&a, addrs[i]);
        array = text_array_finish(&a);
        if (!array)
                return -ENOMEM;
        r = pg_exec_params(s,
                           "SELECT addr, hostname FROM hosts WHERE addr = ANY ($1::text[]) ORDER BY addr COLLATE \"C\"",
                           1, (const char *[]){ array }, "read hosts", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = nd_host_list_push(out, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
        return r;
}

int pg_endpoint_addrs(struct nd_store *base, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = pg_exec_params(s, "SELECT DISTINCT addr COLLATE \"C\" AS addr FROM endpoints ORDER BY 1", 0, NULL,
                           "read endpoint addresses", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = nd_host_list_push(out, PQgetvalue(res, i, 0), "");
        return r;
}

int pg_roles_replace(struct nd_store *base, const struct nd_role_rules *rules)
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
        r = oom ? -ENOMEM : pg_exec(s, "BEGIN; DELETE FROM roles", "replace roles");
        if (r >= 0)
                r = pg_exec_params(s,
                                   "INSERT INTO roles (position, match, service, role, datacenter, name) "
                                   "SELECT (ord - 1)::integer, m, sv, rl, dc, nm "
                                   "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) "
                                   "WITH ORDINALITY AS t(m, sv, rl, dc, nm, ord)",
                                   5, (const char *const *)params, "replace roles", NULL);
        if (!oom)
                r = pg_commit(s, r, "commit roles");
        for (size_t i = 0; i < ELEMENTSOF(params); i++)
                free(params[i]);
        return r;
}

int pg_roles_load(struct nd_store *base, struct nd_role_rules *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = pg_exec_params(s, "SELECT match, service || ':' || role, datacenter, name FROM roles ORDER BY position", 0,
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

/* The edges table in slices of server endpoint ids, each one question (and
 * one for its endpoints), each in server endpoint order: memory bounded by
 * a slice, whatever the store holds. */
int pg_scan_edges(struct nd_store *base, const struct nd_time_range *range, nd_edge_fn fn, void *userdata)
{
        enum { SLICE = 2000 }; /* server endpoints */
        struct pg_store *s = to_pg(base);
        bool ranged = !nd_time_range_is_open(range);
        _cleanup_result_ PGresult *top = NULL;
        char since_bucket[24], since[24], until[24], lo[24], hi[24];
        int64_t max_id;
        int r = 0;

        top = PQexec(s->conn, "SELECT coalesce(max(id), 0) FROM endpoints");
        if (!pg_result_ok(top))
                return pg_fail(s, top, "scan edges");
        max_id = strtoll(PQgetvalue(top, 0, 0), NULL, 10);
        range_params(range, since_bucket, until, since);
        for (int64_t start = 0; r >= 0 && start < max_id; start += SLICE) {
                _cleanup_result_ PGresult *res = NULL;

                format_i64(lo, start);
                format_i64(hi, start + SLICE);
                r = exec_edge_query(s, ranged ? EDGES_BY_ID_RANGED : EDGES_BY_ID, 5,
                                    (const char *[]){ lo, since_bucket, until, since, hi }, &res);
                if (r >= 0)
                        r = edges_of_answer(s, &res, true, fn, userdata);
        }
        return r < 0 ? r : 0;
}
