/* Questions to the PostgreSQL store: edges by address, hosts, endpoint
 * addresses, and the role rules (kept and read here too). */
#include <endian.h>
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
/* The whole table in server endpoint order (edges_by_server), for
 * pg_scan_edges to read through a cursor SCAN_ROWS rows at a time: one
 * answer of all the edges would be held whole by libpq, and slices of
 * server endpoint ids were as large as the busiest endpoints made them (the
 * infra hosts' 200k edges in one). The columns in enum edge_column's order,
 * each a bigint, asked for in binary: 16M numbers that the server need not
 * format nor the client parse. */
#define SCAN_SQL(columns, join, group)                                                                   \
        "DECLARE netdep_scan NO SCROLL CURSOR FOR "                                                      \
        "SELECT id, client_id, server_id, first_seen, last_seen, connections::bigint, sides::bigint, "   \
        "opened::bigint, failed::bigint, client_pgid::bigint, client_processes::bigint, buckets::bigint " \
        "FROM (SELECT e.id, e.client_id, e.server_id, e.first_seen, e.last_seen, " columns ", "          \
        "e.client_pgid, e.client_processes FROM edges e " join " " group ") "                           \
        "x(id, client_id, server_id, first_seen, last_seen, connections, sides, opened, failed, "       \
        "buckets, client_pgid, client_processes) ORDER BY server_id"
#define OPEN_COLUMNS                                                                                    \
        /* Both sides count the same connections opened: the larger. */                                 \
        "e.last_connections, e.sides, greatest(e.opened_by_client, e.opened_by_server), e.failed, 0"
/* A bucket [b, b + width) overlaps [since, until]: since_bucket is since -
 * width. The edge's own first and last sightings say whether it was there
 * in the range: a bucket that overlaps it may hold only sightings from
 * before or after. The queries by address have them as $2..$4, after the
 * addresses; the scan as $1..$3. */
#define RANGED_COLUMNS                                                                                  \
        "max(o.connections), e.sides, greatest(sum(o.opened_by_client), sum(o.opened_by_server))::bigint, " \
        "sum(o.failed)::bigint, count(o.bucket)"
#define RANGED_JOIN_AT(since_bucket, until, since)                                                      \
        "JOIN observations o ON o.edge_id = e.id AND o.bucket > " since_bucket "::bigint "               \
        "AND o.bucket <= " until "::bigint AND e.first_seen <= " until "::bigint "                       \
        "AND e.last_seen >= " since "::bigint"
#define RANGED_JOIN RANGED_JOIN_AT("$2", "$3", "$4")
#define RANGED_GROUP                                                                                    \
        "GROUP BY e.id, e.client_id, e.server_id, e.first_seen, e.last_seen, e.sides, e.client_pgid, "    \
        "e.client_processes"

static const char *const edge_query_sql[_EDGE_QUERY_MAX] = {
        [EDGES_BY_SERVER] = EDGES_SQL("server_id", OPEN_COLUMNS, "", ""),
        [EDGES_BY_CLIENT] = EDGES_SQL("client_id", OPEN_COLUMNS, "", ""),
        [EDGES_BY_SERVER_RANGED] = EDGES_SQL("server_id", RANGED_COLUMNS, RANGED_JOIN, RANGED_GROUP),
        [EDGES_BY_CLIENT_RANGED] = EDGES_SQL("client_id", RANGED_COLUMNS, RANGED_JOIN, RANGED_GROUP),
        [EDGE_ENDPOINTS] = "SELECT id, addr, port, name, pgid FROM endpoints WHERE id = ANY ($1::bigint[])",
};

static const char *const edge_query_name[_EDGE_QUERY_MAX] = {
        [EDGES_BY_SERVER] = "netdep_edges_by_server",
        [EDGES_BY_CLIENT] = "netdep_edges_by_client",
        [EDGES_BY_SERVER_RANGED] = "netdep_edges_by_server_ranged",
        [EDGES_BY_CLIENT_RANGED] = "netdep_edges_by_client_ranged",
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

/* Row i of an answer to EDGE_ENDPOINTS; its id is column 0. */
static void read_endpoint(const PGresult *res, int i, struct nd_endpoint *e)
{
        copy_text(e->addr, sizeof(e->addr), PQgetvalue(res, i, 1));
        e->port = (uint16_t)atoi(PQgetvalue(res, i, 2));
        copy_text(e->process, sizeof(e->process), PQgetvalue(res, i, 3));
        e->pgid = atoi(PQgetvalue(res, i, 4));
}

/* An edge of its columns (enum edge_column) and endpoints. */
static void edge_of(const int64_t v[static _EDGE_COLUMN_MAX], const struct nd_endpoint *client,
                    const struct nd_endpoint *server, struct nd_edge *ret)
{
        *ret = (struct nd_edge){
                .id = v[EDGE_ID],
                .client = *client,
                .server = *server,
                .first_seen = v[EDGE_FIRST_SEEN],
                .last_seen = v[EDGE_LAST_SEEN],
                .connections = (uint32_t)v[EDGE_CONNECTIONS],
                .sides = (uint8_t)v[EDGE_SIDES],
                .opened = (uint64_t)v[EDGE_OPENED],
                .failed = (uint64_t)v[EDGE_FAILED],
                .client_processes = (uint32_t)v[EDGE_CLIENT_PROCESSES],
                .buckets = (uint32_t)v[EDGE_BUCKETS],
        };
        /* The edge's own: another edge of the endpoint may have been
         * reported by another process since. */
        if (v[EDGE_CLIENT_PGID] >= 0)
                ret->client.pgid = (int32_t)v[EDGE_CLIENT_PGID];
}

/* An answer of column arrays (EDGES_SQL) to edges, with their endpoints
 * asked in a second question, each to fn. The answer's text is freed once
 * read (*res is NULL then): the edges of an infra host are held as
 * numbers, not as text and edges both. */
static int edges_of_answer(struct pg_store *s, PGresult **res, nd_edge_fn fn, void *userdata)
{
        _cleanup_result_ PGresult *endpoints = NULL;
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

        r = endpoint_ids(column, n, &index, &ids);
        if (r >= 0)
                r = exec_edge_query(s, EDGE_ENDPOINTS, 1, (const char *[]){ ids }, &endpoints);
        if (r < 0)
                return r;
        ends = calloc((size_t)PQntuples(endpoints), sizeof(*ends));
        if (!ends)
                return -ENOMEM;
        for (int i = 0; i < PQntuples(endpoints); i++) {
                read_endpoint(endpoints, i, &ends[i]);
                index.rows[id_slot(&index, strtoll(PQgetvalue(endpoints, i, 0), NULL, 10))] = (uint32_t)i;
        }

        for (size_t i = 0; r >= 0 && i < n; i++) {
                uint32_t client = index.rows[id_slot(&index, column[EDGE_CLIENT_ID][i])];
                uint32_t server = index.rows[id_slot(&index, column[EDGE_SERVER_ID][i])];
                int64_t v[_EDGE_COLUMN_MAX];
                struct nd_edge e;

                /* Gone since the first question: a prune deleted the edge
                 * (an endpoint goes only with the last of its edges). */
                if (client == UINT32_MAX || server == UINT32_MAX)
                        continue;
                for (int c = 0; c < _EDGE_COLUMN_MAX; c++)
                        v[c] = column[c][i];
                edge_of(v, &ends[client], &ends[server], &e);
                r = fn(&e, userdata);
        }
        return r;
bad:
        nd_store_set_error(&s->base, "query edges: an answer not as asked");
        return -EBADMSG;
}

/* Frees the connection of a scan's FETCH in flight (pg_scan_edges), its
 * answer kept for the scan: its callback may ask a question of its own. */
static void settle_scan(struct pg_store *s)
{
        PGresult *more;

        if (!s->scan_fetching)
                return;
        /* The answer, then libpq's NULL that ends it. */
        s->scan_ahead = PQgetResult(s->conn);
        while ((more = PQgetResult(s->conn)))
                PQclear(more);
        s->scan_fetching = false;
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

        settle_scan(s);

        for (size_t i = 0; i < q->n_addrs; i++)
                text_array_add(&array, q->addrs[i]);
        addrs = text_array_finish(&array);
        if (!addrs)
                return -ENOMEM;
        range_params(&q->range, since_bucket, until, since);
        r = exec_edge_query(s, which, ranged ? 4 : 1, (const char *[]){ addrs, since_bucket, until, since }, &res);
        if (r < 0)
                return r;
        return edges_of_answer(s, &res, push_edge, out);
}

int pg_hosts(struct nd_store *base, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        settle_scan(s);

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

        settle_scan(s);

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

int pg_servers_used(struct nd_store *base, const char *const *client_addrs, size_t n, int64_t since,
                    struct nd_server_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        _cleanup_free_ char *array = NULL;
        struct text_array a = {};
        char since_text[32];
        int r;

        settle_scan(s);

        for (size_t i = 0; i < n; i++)
                text_array_add(&a, client_addrs[i]);
        array = text_array_finish(&a);
        if (!array)
                return -ENOMEM;
        snprintf(since_text, sizeof(since_text), "%lld", (long long)since);
        r = pg_exec_params(s,
                           "SELECT DISTINCT sv.addr COLLATE \"C\" AS addr, sv.port FROM endpoints c "
                           "JOIN edges e ON e.client_id = c.id JOIN endpoints sv ON sv.id = e.server_id "
                           "WHERE c.addr = ANY ($1::text[]) AND e.client_last_seen >= $2::bigint ORDER BY 1, 2",
                           2, (const char *[]){ array, since_text }, "read the servers used", &res);
        for (int i = 0; r >= 0 && i < PQntuples(res); i++)
                r = nd_server_list_push(out, PQgetvalue(res, i, 0), (uint16_t)atoi(PQgetvalue(res, i, 1)));
        return r;
}

int pg_endpoint_addrs(struct nd_store *base, struct nd_host_list *out)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        settle_scan(s);

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

        settle_scan(s);

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

/* The rows a scan asks for at a time. Each round trip's answer is held
 * twice at most (the rows handed to fn, the next ones being read), ~4 MB
 * each in libpq, however the edges fall on endpoints: 20,000 cost 4 MiB
 * more of peak RSS and saved no time. */
#define SCAN_ROWS 10000
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* The endpoints a scan has read, by id. The clients of one server
 * endpoint are mostly those of the next: asked for with each round trip's
 * edges, at 10,000 hosts, they came to 270k rows in 137 questions against
 * 54k endpoints, a tenth of the scan's time. So the whole table is read
 * with the cursor's opening, when it fits (ENDPOINT_CACHE_MAX); else each
 * round trip asks for those it lacks, and the cache starts again from
 * nothing when the next might overflow it. */
#define ENDPOINT_CACHE_MAX 65536
_Static_assert(ENDPOINT_CACHE_MAX >= 2 * SCAN_ROWS, "a round trip's endpoints fit in the cache");

struct endpoint_cache {
        struct id_index index; /* rows: the place in ends; UINT32_MAX: asked for, not found */
        struct nd_endpoint *ends;
        size_t n_ids, n_ends;
        bool complete; /* every endpoint the scan's snapshot holds */
};

static void endpoint_cache_done(struct endpoint_cache *c)
{
        id_index_done(&c->index);
        free(c->ends);
}

static int endpoint_cache_init(struct endpoint_cache *c)
{
        /* Pages are touched as endpoints come: a small store costs little. */
        *c = (struct endpoint_cache){ .ends = malloc(ENDPOINT_CACHE_MAX * sizeof(*c->ends)) };
        if (!c->ends)
                return -ENOMEM;
        return id_index_init(&c->index, ENDPOINT_CACHE_MAX);
}

static void endpoint_cache_clear(struct endpoint_cache *c)
{
        memset(c->index.ids, 0, (c->index.mask + 1) * sizeof(*c->index.ids));
        memset(c->index.rows, 0xff, (c->index.mask + 1) * sizeof(*c->index.rows));
        c->n_ids = c->n_ends = 0;
}

static int scan_answer_bad(struct pg_store *s)
{
        nd_store_set_error(&s->base, "scan edges: an answer not as asked");
        return -EBADMSG;
}

/* Column c of a FETCH's row i: a bigint, in binary. */
static int scan_field(struct pg_store *s, const PGresult *res, int i, int c, int64_t *ret)
{
        uint64_t v;

        if (PQgetlength(res, i, c) != (int)sizeof(v))
                return scan_answer_bad(s);
        memcpy(&v, PQgetvalue(res, i, c), sizeof(v));
        *ret = (int64_t)be64toh(v);
        return 0;
}

/* Endpoints (EDGE_ENDPOINTS' columns) into the cache: with asked, only
 * those of ids put there to be asked for; else all. */
static void cache_answer(struct endpoint_cache *c, const PGresult *endpoints, bool asked)
{
        for (int i = 0; i < PQntuples(endpoints) && c->n_ends < ENDPOINT_CACHE_MAX; i++) {
                int64_t id = strtoll(PQgetvalue(endpoints, i, 0), NULL, 10);
                size_t slot = id_slot(&c->index, id);

                if (c->index.ids[slot] != id) {
                        if (asked)
                                continue;
                        c->index.ids[slot] = id;
                        c->n_ids++;
                } else if (c->index.rows[slot] != UINT32_MAX)
                        continue; /* there already */
                read_endpoint(endpoints, i, &c->ends[c->n_ends]);
                c->index.rows[slot] = (uint32_t)c->n_ends++;
        }
}

/* Asks, in one question, for the endpoints of a FETCH's rows that the
 * cache lacks. */
static int cache_endpoints(struct pg_store *s, struct endpoint_cache *c, const PGresult *res)
{
        _cleanup_result_ PGresult *endpoints = NULL;
        _cleanup_free_ char *ids = NULL;
        struct text_array missing = {};
        size_t n_missing = 0;
        int n = PQntuples(res), r = 0;

        if (c->complete)
                return 0;
        if (c->n_ids + 2 * (size_t)n > ENDPOINT_CACHE_MAX)
                endpoint_cache_clear(c);
        for (int i = 0; r >= 0 && i < n; i++)
                for (int col = EDGE_CLIENT_ID; r >= 0 && col <= EDGE_SERVER_ID; col++) {
                        int64_t id;
                        size_t slot;

                        r = scan_field(s, res, i, col, &id);
                        if (r < 0)
                                break;
                        slot = id_slot(&c->index, id);
                        if (c->index.ids[slot] == id)
                                continue;
                        c->index.ids[slot] = id; /* rows[slot] stays UINT32_MAX until answered */
                        c->n_ids++;
                        text_array_add_i64(&missing, id);
                        n_missing++;
                }
        ids = text_array_finish(&missing);
        if (r < 0 || n_missing == 0)
                return r;
        if (!ids)
                return -ENOMEM;
        r = exec_edge_query(s, EDGE_ENDPOINTS, 1, (const char *[]){ ids }, &endpoints);
        if (r >= 0)
                cache_answer(c, endpoints, true);
        return r;
}

/* Reads what has come of the FETCH in flight: the server, which waits once
 * the socket's buffer is full, goes on with it while the client works
 * through the rows before. libpq parses it as it comes (PQisBusy), so its
 * input buffer stays small. */
static void read_along(struct pg_store *s)
{
        if (s->scan_fetching && PQconsumeInput(s->conn))
                (void) PQisBusy(s->conn);
}

/* A FETCH's rows, their endpoints cached, to fn. */
static int edges_of_rows(struct pg_store *s, const struct endpoint_cache *c, const PGresult *res, nd_edge_fn fn,
                         void *userdata)
{
        int r = 0;

        for (int i = 0; r >= 0 && i < PQntuples(res); i++) {
                int64_t v[_EDGE_COLUMN_MAX];
                uint32_t client, server;
                struct nd_edge e;

                if (i % 256 == 0)
                        read_along(s);
                for (int col = 0; r >= 0 && col < _EDGE_COLUMN_MAX; col++)
                        r = scan_field(s, res, i, col, &v[col]);
                if (r < 0)
                        break;
                client = c->index.rows[id_slot(&c->index, v[EDGE_CLIENT_ID])];
                server = c->index.rows[id_slot(&c->index, v[EDGE_SERVER_ID])];
                /* Not to be within one snapshot (an endpoint goes only with
                 * the last of its edges); if it were, the edge is left out. */
                if (client == UINT32_MAX || server == UINT32_MAX)
                        continue;
                edge_of(v, &c->ends[client], &c->ends[server], &e);
                r = fn(&e, userdata);
        }
        return r;
}

static int send_fetch(struct pg_store *s)
{
        /* Binary (the last argument): SCAN_SQL's columns are bigints. */
        if (!PQsendQueryParams(s->conn, "FETCH " STRINGIFY(SCAN_ROWS) " FROM netdep_scan", 0, NULL, NULL, NULL,
                               NULL, 1))
                return pg_fail(s, NULL, "scan edges");
        s->scan_fetching = true;
        return 0;
}

/* The answer of the FETCH sent: read already by a question of fn's
 * (settle_scan), else now. */
static PGresult *take_fetch(struct pg_store *s)
{
        settle_scan(s);
        return TAKE_PTR(s->scan_ahead);
}

/* The edges table through a cursor (SCAN_SQL), SCAN_ROWS rows per round
 * trip, in one read-only transaction: memory bounded by two round trips'
 * rows and the endpoint cache, however many edges an endpoint has; and
 * one snapshot, so that every edge's endpoints are there to be read. Each
 * FETCH goes out before the rows of the one before go to fn, so that the
 * server reads on while the client works. */
int pg_scan_edges(struct nd_store *base, const struct nd_time_range *range, nd_edge_fn fn, void *userdata)
{
        struct pg_store *s = to_pg(base);
        bool ranged = !nd_time_range_is_open(range);
        _cleanup_(endpoint_cache_done) struct endpoint_cache cache = {};
        _cleanup_result_ PGresult *endpoints = NULL;
        char since_bucket[24], since[24], until[24];
        struct pg_step steps[3] = {
                { .sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" },
                { .sql = ranged ? SCAN_SQL(RANGED_COLUMNS, RANGED_JOIN_AT("$1", "$2", "$3"), RANGED_GROUP)
                                : SCAN_SQL(OPEN_COLUMNS, "", ""),
                  .n_params = ranged ? 3 : 0,
                  .params = { since_bucket, until, since } },
                /* No rows when there are more than the cache holds. */
                { .sql = "SELECT id, addr, port, name, pgid FROM endpoints "
                         "WHERE (SELECT count(*) FROM endpoints) <= " STRINGIFY(ENDPOINT_CACHE_MAX),
                  .ret = &endpoints },
        };
        bool more;
        int r;

        range_params(range, since_bucket, until, since);
        r = endpoint_cache_init(&cache);
        if (r >= 0)
                r = pg_run_pipeline(s, steps, ELEMENTSOF(steps), "scan edges");
        /* The first rows come while the endpoints are read. */
        if (r >= 0)
                r = send_fetch(s);
        if (r >= 0 && PQntuples(endpoints) > 0) {
                cache_answer(&cache, endpoints, false);
                cache.complete = true;
        }
        PQclear(TAKE_PTR(endpoints));
        more = r >= 0;
        while (more) {
                _cleanup_result_ PGresult *res = take_fetch(s);
                int n;

                if (!pg_result_ok(res)) {
                        r = pg_fail(s, res, "scan edges");
                        break;
                }
                n = PQntuples(res);
                if (n > 0 && (PQnfields(res) != _EDGE_COLUMN_MAX || PQfformat(res, 0) != 1))
                        r = scan_answer_bad(s);
                if (r >= 0)
                        r = cache_endpoints(s, &cache, res);
                /* Fewer rows than asked for: the last of them. */
                more = r >= 0 && n == SCAN_ROWS;
                if (more)
                        r = send_fetch(s);
                if (r >= 0)
                        r = edges_of_rows(s, &cache, res, fn, userdata);
                more = more && r >= 0;
        }
        /* fn failed with a FETCH in flight. */
        settle_scan(s);
        PQclear(TAKE_PTR(s->scan_ahead));
        return pg_commit(s, r, "scan edges");
}
