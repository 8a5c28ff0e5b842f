/* The PostgreSQL schema over time: migrations (one transaction each,
 * under an advisory lock), the observations' day partitions, made on first
 * use, and retention, which drops whole days. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/migrations.h"
#include "store/postgres-internal.h"

/* netdep's advisory locks: 0x6e646570 ("ndep") and what they guard. */
#define PG_LOCK(key) "SELECT pg_advisory_xact_lock(1852073328, " key ")"
#define PG_LOCK_MIGRATE PG_LOCK("1")
#define PG_LOCK_PARTITIONS PG_LOCK("2")

int pg_schema_version(struct nd_store *base, int *ret)
{
        struct pg_store *s = to_pg(base);
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = pg_exec_params(s, "SELECT to_regclass('netdep_schema') IS NOT NULL", 0, NULL, "read schema version", &res);
        if (r < 0)
                return r;
        if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
                *ret = 0;
                return 0;
        }
        PQclear(TAKE_PTR(res));
        r = pg_exec_params(s, "SELECT coalesce(max(version), 0) FROM netdep_schema", 0, NULL, "read schema version",
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
        r = pg_exec(s, "BEGIN; " PG_LOCK_MIGRATE, "begin migration");
        if (r >= 0)
                r = pg_schema_version(&s->base, &version);
        for (const struct nd_migration *m = nd_postgres_migrations; r >= 0 && m->version && !next; m++)
                if (m->version > version)
                        next = m;
        if (r >= 0 && next) {
                r = pg_exec(s, next->sql, next->name);
                format_i64(version_text, next->version);
                format_i64(now_text, time(NULL));
                if (r >= 0)
                        r = pg_exec_params(s, "INSERT INTO netdep_schema (version, applied_at) VALUES ($1, $2)", 2,
                                           (const char *[]){ version_text, now_text }, "record migration", NULL);
        }
        r = pg_commit(s, r, "commit migration");
        return r < 0 ? r : next != NULL;
}

int pg_migrate(struct nd_store *base)
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

void pg_forget_partitions(struct pg_store *s)
{
        s->n_known_days = 0;
}

/* Its own short transaction: the DDL locks observations. */
int pg_ensure_partition(struct pg_store *s, int64_t bucket)
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
        r = pg_exec(s, sql, "create observation partition");
        if (r < 0) {
                pg_rollback(s);
                return r;
        }
        if (s->n_known_days == KNOWN_DAYS_MAX) {
                memmove(s->known_days, s->known_days + 1, sizeof(s->known_days[0]) * (KNOWN_DAYS_MAX - 1));
                s->n_known_days--;
        }
        s->known_days[s->n_known_days++] = day;
        return 0;
}

/* Drops the day partitions that end at or before cutoff: whole days go
 * without a row-by-row delete. */
static int drop_old_partitions(struct pg_store *s, int64_t cutoff)
{
        _cleanup_result_ PGresult *res = NULL;
        int r;

        r = pg_exec_params(s,
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
                r = pg_exec(s, sql, "drop observation partition");
        }
        return r;
}

int pg_prune(struct nd_store *base, int64_t before)
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
        r = pg_exec(s,
                    "BEGIN; LOCK TABLE endpoints IN EXCLUSIVE MODE; " PG_LOCK_PARTITIONS,
                    "begin prune");
        if (r >= 0)
                r = drop_old_partitions(s, bucket_of(before));
        if (r >= 0)
                r = pg_exec_params(s, "DELETE FROM observations WHERE bucket < $1", 1, (const char *[]){ cutoff },
                                   "prune observations", NULL);
        /* What SQLite's ON DELETE CASCADE does: observations of the edges
         * about to go. Such an edge was last seen before the cutoff's
         * bucket ended, so only that bucket can still hold any. */
        if (r >= 0)
                r = pg_exec_params(s,
                                   "DELETE FROM observations o USING edges e WHERE o.edge_id = e.id "
                                   "AND o.bucket <= $1 AND e.last_seen < $2",
                                   2, (const char *[]){ cutoff, before_text }, "prune observations", NULL);
        if (r >= 0)
                r = pg_exec_params(s, "DELETE FROM edges WHERE last_seen < $1", 1, (const char *[]){ before_text },
                                   "prune edges", &res);
        if (r >= 0)
                dropped = atoll(PQcmdTuples(res));
        /* Edges go before their endpoints: nothing else deletes
         * endpoints, so edges need no foreign keys (migration 003). A
         * connection that remembers endpoint ids learns from the count that
         * some may be gone. */
        if (r >= 0)
                r = pg_exec(s,
                            "WITH deleted AS (DELETE FROM endpoints p "
                            "WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.client_id = p.id) "
                            "AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.server_id = p.id) RETURNING 1) "
                            "UPDATE netdep_prunes SET endpoints_deleted = endpoints_deleted + 1 "
                            "WHERE EXISTS (SELECT 1 FROM deleted)",
                            "prune endpoints");
        if (r >= 0)
                r = pg_exec_params(s, "DELETE FROM hosts WHERE last_seen < $1", 1, (const char *[]){ before_text },
                                   "prune hosts", NULL);
        r = pg_commit(s, r, "commit prune");
        pg_forget_partitions(s);
        pg_forget_known(s);
        if (r < 0)
                return r;
        return dropped > INT_MAX ? INT_MAX : (int)dropped;
}
