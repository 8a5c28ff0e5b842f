/* Questions to the PostgreSQL store: edges by address, hosts, endpoint
 * addresses, and the role rules (kept and read here too). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres-internal.h"

static void read_endpoint(const PGresult *res, int row, int col, struct nd_endpoint *e)
{
        snprintf(e->addr, sizeof(e->addr), "%s", PQgetvalue(res, row, col));
        e->port = (uint16_t)atoi(PQgetvalue(res, row, col + 1));
        snprintf(e->process, sizeof(e->process), "%s", PQgetvalue(res, row, col + 2));
        e->pgid = atoi(PQgetvalue(res, row, col + 3));
}

int pg_edges(struct nd_store *base, const struct nd_edge_query *q, struct nd_edge_list *out)
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
        r = pg_exec_params(s, sql, ranged ? 3 : 1, (const char *[]){ addrs, since, until }, "query edges", &res);
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
