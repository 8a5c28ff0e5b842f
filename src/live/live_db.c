#include "live/live_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "live/live_internal.h"
#include "model/addr.h"
#include "shared/log.h"
#include "shared/why.h"

static const char schema[] =
        "CREATE TABLE hosts ("
        " name TEXT PRIMARY KEY, dc TEXT, service TEXT, role TEXT, addrs TEXT,"
        " load REAL, load5 REAL, load15 REAL, cpu REAL,"
        " nginx_request_rate REAL, nginx_error_rate REAL, nginx_active INTEGER,"
        " links INTEGER NOT NULL DEFAULT 0, disconnects INTEGER NOT NULL DEFAULT 0,"
        " broken_peers INTEGER NOT NULL DEFAULT 0, broken INTEGER NOT NULL DEFAULT 0,"
        " stale INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'ok',"
        " interval_s INTEGER, last_report INTEGER) WITHOUT ROWID;"
        "CREATE TABLE links ("
        " src TEXT NOT NULL, dst TEXT NOT NULL, port INTEGER NOT NULL, kind TEXT NOT NULL,"
        " dst_host TEXT, dst_dc TEXT, dst_service TEXT, dst_role TEXT,"
        " sent INTEGER, lost INTEGER, refused INTEGER, loss REAL, rtt_p50 REAL, rtt_p99 REAL,"
        " state TEXT NOT NULL, state_since INTEGER, history TEXT, last_report INTEGER,"
        /* the fold's memory (live/link_state.h), not meant for reading */
        " down INTEGER NOT NULL DEFAULT 0, failed_bits INTEGER, refused_bits INTEGER, lossy_bits INTEGER,"
        " rounds INTEGER, clean_run INTEGER,"
        " PRIMARY KEY (src, dst, port, kind)) WITHOUT ROWID;"
        "CREATE INDEX links_dst_host ON links (dst_host);"
        "CREATE INDEX links_dst ON links (dst);"
        "CREATE TABLE host_addrs (addr TEXT PRIMARY KEY, host TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE INDEX host_addrs_host ON host_addrs (host);"
        "CREATE TABLE nginx_errors (host TEXT NOT NULL, status INTEGER NOT NULL, rate REAL,"
        " PRIMARY KEY (host, status)) WITHOUT ROWID;"
        "CREATE TABLE alerts (seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, kind TEXT NOT NULL,"
        " subject TEXT NOT NULL, state TEXT NOT NULL, detail TEXT);";

static const char *const statements[_ST_MAX] = {
        [ST_HOST_UPSERT] =
                "INSERT INTO hosts (name, dc, service, role, addrs, load, load5, load15, cpu,"
                " nginx_request_rate, nginx_error_rate, nginx_active, interval_s, last_report, stale)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)"
                " ON CONFLICT (name) DO UPDATE SET dc = ?2, service = ?3, role = ?4, addrs = ?5, load = ?6,"
                " load5 = ?7, load15 = ?8, cpu = ?9, nginx_request_rate = ?10, nginx_error_rate = ?11,"
                " nginx_active = ?12, interval_s = ?13, last_report = ?14, stale = 0",
        [ST_HOST_ADDRS_CLEAR] = "DELETE FROM host_addrs WHERE host = ?1",
        [ST_HOST_ADDR_PUT] = "INSERT OR REPLACE INTO host_addrs (addr, host) VALUES (?1, ?2)",
        [ST_HOST_OF_ADDR] = "SELECT h.name, h.dc, h.service, h.role FROM host_addrs a JOIN hosts h"
                            " ON h.name = a.host WHERE a.addr = ?1",
        [ST_ERRORS_CLEAR] = "DELETE FROM nginx_errors WHERE host = ?1",
        [ST_ERROR_PUT] = "INSERT OR REPLACE INTO nginx_errors (host, status, rate) VALUES (?1, ?2, ?3)",
        [ST_LINKS_OF] = "SELECT dst, port, kind, down, failed_bits, refused_bits, lossy_bits, rounds, clean_run,"
                        " state, state_since, dst_host FROM links WHERE src = ?1",
        /* Updated in place; where the far end is (dst_host and its place)
         * is set when the link is new, and by ST_LINKS_RENAME when a host
         * shows up with the address. */
        [ST_LINK_PUT] =
                "INSERT INTO links (src, dst, port, kind, dst_host, dst_dc, dst_service, dst_role,"
                " sent, lost, refused, loss, rtt_p50, rtt_p99, state, state_since, history, last_report,"
                " down, failed_bits, refused_bits, lossy_bits, rounds, clean_run)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,"
                " ?19, ?20, ?21, ?22, ?23, ?24)"
                " ON CONFLICT (src, dst, port, kind) DO UPDATE SET sent = ?9, lost = ?10, refused = ?11, loss = ?12,"
                " rtt_p50 = ?13, rtt_p99 = ?14, state = ?15, state_since = ?16, history = ?17, last_report = ?18,"
                " down = ?19, failed_bits = ?20, refused_bits = ?21, lossy_bits = ?22, rounds = ?23, clean_run = ?24",
        [ST_LINK_DELETE] = "DELETE FROM links WHERE src = ?1 AND dst = ?2 AND port = ?3 AND kind = ?4",
        /* A host's counts, from its own links and others' links to it;
         * links whose reporter went quiet count for nothing. */
        [ST_HOST_RECOUNT] =
                "UPDATE hosts SET"
                " links = (SELECT count(*) FROM links WHERE src = ?1),"
                " disconnects = (SELECT count(DISTINCT dst) FROM links WHERE src = ?1 AND down = 1"
                "  AND state <> 'stale'),"
                " broken_peers = (SELECT count(DISTINCT src) FROM links WHERE dst_host = ?1 AND src <> ?1"
                "  AND down = 1 AND state <> 'stale')"
                " WHERE name = ?1",
        [ST_HOST_STATE] = "SELECT disconnects, broken_peers, stale, state FROM hosts WHERE name = ?1",
        [ST_HOST_SET_STATE] = "UPDATE hosts SET broken = ?2, state = ?3 WHERE name = ?1",
        [ST_ALERT] = "INSERT INTO alerts (ts, kind, subject, state, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        [ST_HOST_ADDRS_OF] = "SELECT addrs FROM hosts WHERE name = ?1",
        [ST_LINKS_RENAME] = "UPDATE links SET (dst_host, dst_dc, dst_service, dst_role) ="
                            " (SELECT name, dc, service, role FROM hosts WHERE name = ?2) WHERE dst = ?1",
        [ST_BEGIN] = "BEGIN",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
};

const char *nd_live_schema(void)
{
        return schema;
}

int nd_live_exec(struct nd_live *live, const char *sql)
{
        char *err = NULL;

        if (sqlite3_exec(live->db, sql, NULL, NULL, &err) != SQLITE_OK) {
                log_debug("live: %s: %s", sql, err ? err : "?");
                sqlite3_free(err);
                return -EIO;
        }
        return 0;
}

int nd_live_new(const struct nd_link_policy *policy, struct nd_live **ret)
{
        struct nd_live *live = calloc(1, sizeof(*live));

        if (!live)
                return -ENOMEM;
        pthread_mutex_init(&live->lock, NULL);
        live->policy = *policy;
        if (!nd_link_policy_valid(policy)) {
                nd_live_free(live);
                return -EINVAL;
        }
        if (sqlite3_open_v2(":memory:", &live->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL) != SQLITE_OK ||
            nd_live_exec(live, schema) < 0) {
                nd_live_free(live);
                return -ENOMEM;
        }
        /* What one query may build: no 1 GB strings. */
        sqlite3_limit(live->db, SQLITE_LIMIT_LENGTH, 1 << 20);
        sqlite3_limit(live->db, SQLITE_LIMIT_ATTACHED, 0);
        for (int i = 0; i < _ST_MAX; i++)
                if (sqlite3_prepare_v3(live->db, statements[i], -1, SQLITE_PREPARE_PERSISTENT, &live->st[i], NULL) !=
                    SQLITE_OK) {
                        log_debug("live: statement %d: %s", i, sqlite3_errmsg(live->db));
                        nd_live_free(live);
                        return -EIO;
                }
        *ret = live;
        return 0;
}

struct nd_live *nd_live_free(struct nd_live *live)
{
        if (!live)
                return NULL;
        for (int i = 0; i < _ST_MAX; i++)
                sqlite3_finalize(live->st[i]);
        sqlite3_close(live->db);
        nd_role_rules_done(&live->roles);
        pthread_mutex_destroy(&live->lock);
        free(live);
        return NULL;
}

/* ---- small statement helpers ---- */

static sqlite3_stmt *stmt(struct nd_live *live, enum live_stmt i)
{
        sqlite3_reset(live->st[i]);
        sqlite3_clear_bindings(live->st[i]);
        return live->st[i];
}

static int done(struct nd_live *live, sqlite3_stmt *st)
{
        int r = sqlite3_step(st);

        sqlite3_reset(st);
        if (r != SQLITE_DONE && r != SQLITE_ROW) {
                log_debug("live: %s", sqlite3_errmsg(live->db));
                return -EIO;
        }
        return 0;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s)
{
        if (s && *s)
                sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, i);
}

static int alert(struct nd_live *live, int64_t now, const char *kind, const char *subject, const char *state,
                 const char *detail)
{
        sqlite3_stmt *st = stmt(live, ST_ALERT);

        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, subject, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 4, state, -1, SQLITE_STATIC);
        bind_text_or_null(st, 5, detail);
        return done(live, st);
}

/* ---- roles ---- */

static const struct nd_role_rule *role_of(const struct nd_live *live, const char *hostname, const char *addrs)
{
        const struct nd_role_rule *rule = NULL;
        char *copy = strdup(addrs ? addrs : ""), *save = NULL;

        if (!copy)
                return NULL;
        for (char *a = strtok_r(copy, ",", &save); a && !rule; a = strtok_r(NULL, ",", &save)) {
                struct nd_addr addr;
                if (nd_addr_parse(a, &addr) == 0)
                        rule = nd_role_rules_find(&live->roles, &addr, hostname);
        }
        free(copy);
        if (!rule && hostname) {
                struct nd_addr none = { .family = AF_UNSPEC };
                rule = nd_role_rules_find(&live->roles, &none, hostname);
        }
        return rule;
}

int nd_live_set_roles(struct nd_live *live, const struct nd_role_rules *rules)
{
        struct nd_role_rules copy = {};
        sqlite3_stmt *st = NULL, *up = NULL;
        int r = 0;

        for (size_t i = 0; i < rules->n; i++)
                if (nd_role_rules_push(&copy, &rules->items[i]) < 0) {
                        nd_role_rules_done(&copy);
                        return -ENOMEM;
                }
        pthread_mutex_lock(&live->lock);
        nd_role_rules_done(&live->roles);
        live->roles = copy;
        if (sqlite3_prepare_v2(live->db, "SELECT name, addrs FROM hosts", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(live->db, "UPDATE hosts SET dc = ?2, service = ?3, role = ?4 WHERE name = ?1", -1, &up,
                               NULL) != SQLITE_OK ||
            nd_live_exec(live, "BEGIN") < 0) {
                r = -EIO;
                goto out;
        }
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(st, 0);
                const struct nd_role_rule *rule = role_of(live, name, (const char *)sqlite3_column_text(st, 1));

                sqlite3_reset(up);
                sqlite3_bind_text(up, 1, name, -1, SQLITE_TRANSIENT);
                bind_text_or_null(up, 2, rule ? rule->datacenter : NULL);
                bind_text_or_null(up, 3, rule ? rule->service : NULL);
                bind_text_or_null(up, 4, rule ? rule->role : NULL);
                if (sqlite3_step(up) != SQLITE_DONE)
                        r = -EIO;
        }
        /* Links carry their destination's place too. */
        if (r == 0)
                r = nd_live_exec(live, "UPDATE links SET (dst_dc, dst_service, dst_role) ="
                                       " (SELECT dc, service, role FROM hosts WHERE name = links.dst_host)");
        nd_live_exec(live, r == 0 ? "COMMIT" : "ROLLBACK");
out:
        sqlite3_finalize(st);
        sqlite3_finalize(up);
        pthread_mutex_unlock(&live->lock);
        return r;
}

/* ---- hosts ---- */

/* Recounts a host's links and peers, and raises an alert when it turns
 * broken or comes back. */
static int host_recount(struct nd_live *live, const char *name, int64_t now)
{
        sqlite3_stmt *st = stmt(live, ST_HOST_RECOUNT);
        int64_t disconnects, peers;
        bool stale, broken;
        char old[16], detail[96];
        const char *state;

        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (done(live, st) < 0)
                return -EIO;
        st = stmt(live, ST_HOST_STATE);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_ROW) {
                sqlite3_reset(st);
                return 0; /* a destination that runs no agent */
        }
        disconnects = sqlite3_column_int64(st, 0);
        peers = sqlite3_column_int64(st, 1);
        stale = sqlite3_column_int(st, 2);
        snprintf(old, sizeof(old), "%s", (const char *)sqlite3_column_text(st, 3));
        sqlite3_reset(st);

        broken = disconnects >= ND_LIVE_BROKEN_LINKS || peers >= ND_LIVE_BROKEN_PEERS;
        /* A host others cannot reach has usually stopped reporting too:
         * broken says more than stale. */
        state = broken ? "broken" : stale ? "stale" : "ok";
        st = stmt(live, ST_HOST_SET_STATE);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 2, broken);
        sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
        if (done(live, st) < 0)
                return -EIO;
        if (strcmp(old, state) == 0)
                return 0;
        snprintf(detail, sizeof(detail), "%" PRId64 " links down, %" PRId64 " hosts cannot reach it", disconnects,
                 peers);
        return alert(live, now, "host", name, state, detail);
}

static int put_host(struct nd_live *live, const struct nd_report *r, int64_t now)
{
        const struct nd_report_indicators *ind = &r->indicators;
        const struct nd_role_rule *rule;
        sqlite3_stmt *st;
        char *addrs;
        size_t len = 1;
        bool same_addrs;

        for (size_t i = 0; i < r->n_addrs; i++)
                len += strlen(r->addrs[i]) + 1;
        if (!(addrs = calloc(1, len)))
                return -ENOMEM;
        for (size_t i = 0; i < r->n_addrs; i++) {
                if (i)
                        strcat(addrs, ",");
                strcat(addrs, r->addrs[i]);
        }
        rule = role_of(live, r->hostname, addrs);
        st = stmt(live, ST_HOST_ADDRS_OF);
        sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
        same_addrs = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
                     strcmp((const char *)sqlite3_column_text(st, 0), addrs) == 0;
        sqlite3_reset(st);

        st = stmt(live, ST_HOST_UPSERT);
        sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
        bind_text_or_null(st, 2, rule ? rule->datacenter : NULL);
        bind_text_or_null(st, 3, rule ? rule->service : NULL);
        bind_text_or_null(st, 4, rule ? rule->role : NULL);
        sqlite3_bind_text(st, 5, addrs, -1, free);
        if (ind->has_load)
                for (int i = 0; i < 3; i++)
                        sqlite3_bind_double(st, 6 + i, ind->load[i]);
        if (ind->has_cpu)
                sqlite3_bind_double(st, 9, ind->cpu);
        if (ind->has_nginx) {
                if (ind->nginx_requests_per_s >= 0)
                        sqlite3_bind_double(st, 10, ind->nginx_requests_per_s);
                sqlite3_bind_double(st, 11, nd_report_error_rate(ind));
                if (ind->nginx_active >= 0)
                        sqlite3_bind_int64(st, 12, ind->nginx_active);
        }
        sqlite3_bind_int64(st, 13, r->interval_s);
        sqlite3_bind_int64(st, 14, now);
        if (done(live, st) < 0)
                return -EIO;

        /* A host new, or with new addresses: links to them now end at it. */
        if (!same_addrs) {
                st = stmt(live, ST_HOST_ADDRS_CLEAR);
                sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
                if (done(live, st) < 0)
                        return -EIO;
                for (size_t i = 0; i < r->n_addrs; i++) {
                        st = stmt(live, ST_HOST_ADDR_PUT);
                        sqlite3_bind_text(st, 1, r->addrs[i], -1, SQLITE_STATIC);
                        sqlite3_bind_text(st, 2, r->hostname, -1, SQLITE_STATIC);
                        if (done(live, st) < 0)
                                return -EIO;
                        st = stmt(live, ST_LINKS_RENAME);
                        sqlite3_bind_text(st, 1, r->addrs[i], -1, SQLITE_STATIC);
                        sqlite3_bind_text(st, 2, r->hostname, -1, SQLITE_STATIC);
                        if (done(live, st) < 0)
                                return -EIO;
                }
        }
        st = stmt(live, ST_ERRORS_CLEAR);
        sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
        if (done(live, st) < 0)
                return -EIO;
        for (size_t i = 0; i < ind->n_errors; i++) {
                st = stmt(live, ST_ERROR_PUT);
                sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 2, ind->errors[i].status);
                sqlite3_bind_double(st, 3, ind->errors[i].per_s);
                if (done(live, st) < 0)
                        return -EIO;
        }
        return 0;
}

/* ---- links ---- */

struct prev_link {
        char dst[ND_ADDR_TEXT_MAX], dst_host[256];
        int port;
        enum nd_link_kind kind;
        struct nd_link_state state;
        int64_t since;
        bool seen;
};

struct prev_links {
        struct prev_link *items;
        size_t n;
};

static int load_prev(struct nd_live *live, const char *src, struct prev_links *ret)
{
        sqlite3_stmt *st = stmt(live, ST_LINKS_OF);
        size_t allocated = 0;
        int r;

        sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                struct prev_link *p;

                if (ret->n == allocated) {
                        size_t want = allocated ? 2 * allocated : 32;
                        p = realloc(ret->items, want * sizeof(*p));
                        if (!p) {
                                sqlite3_reset(st);
                                return -ENOMEM;
                        }
                        ret->items = p;
                        allocated = want;
                }
                p = &ret->items[ret->n++];
                *p = (struct prev_link){ .port = sqlite3_column_int(st, 1) };
                snprintf(p->dst, sizeof(p->dst), "%s", (const char *)sqlite3_column_text(st, 0));
                if (nd_link_kind_parse((const char *)sqlite3_column_text(st, 2), &p->kind) < 0)
                        p->kind = ND_LINK_TCP;
                p->state.down = sqlite3_column_int(st, 3);
                p->state.failed_bits = (uint32_t)sqlite3_column_int64(st, 4);
                p->state.refused_bits = (uint32_t)sqlite3_column_int64(st, 5);
                p->state.lossy_bits = (uint32_t)sqlite3_column_int64(st, 6);
                p->state.rounds = (unsigned)sqlite3_column_int(st, 7);
                p->state.clean_run = (unsigned)sqlite3_column_int(st, 8);
                if (nd_link_health_parse((const char *)sqlite3_column_text(st, 9), &p->state.health) < 0)
                        p->state.health = ND_HEALTH_OK;
                p->since = sqlite3_column_int64(st, 10);
                snprintf(p->dst_host, sizeof(p->dst_host), "%s",
                         sqlite3_column_text(st, 11) ? (const char *)sqlite3_column_text(st, 11) : "");
        }
        sqlite3_reset(st);
        return r == SQLITE_DONE ? 0 : -EIO;
}

static struct prev_link *find_prev(struct prev_links *prev, const struct nd_link_result *l)
{
        for (size_t i = 0; i < prev->n; i++) {
                struct prev_link *p = &prev->items[i];
                if (!p->seen && p->port == l->port && p->kind == l->kind && strcmp(p->dst, l->addr) == 0)
                        return p;
        }
        return NULL;
}

/* A set of host names to recount once the report is in. */
struct names {
        char **items;
        size_t n, allocated;
};

static int names_add(struct names *s, const char *name)
{
        if (!name || !*name)
                return 0;
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->items[i], name) == 0)
                        return 0;
        if (s->n == s->allocated) {
                size_t want = s->allocated ? 2 * s->allocated : 8;
                char **p = realloc(s->items, want * sizeof(*p));
                if (!p)
                        return -ENOMEM;
                s->items = p;
                s->allocated = want;
        }
        if (!(s->items[s->n] = strdup(name)))
                return -ENOMEM;
        s->n++;
        return 0;
}

static void names_done(struct names *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->items[i]);
        free(s->items);
}

static int put_link(struct nd_live *live, const char *src, const struct nd_link_result *l, struct prev_link *prev,
                    int64_t now, struct names *recount)
{
        struct nd_link_state s = prev ? prev->state : (struct nd_link_state){};
        enum nd_link_health before = prev ? prev->state.health : ND_HEALTH_OK;
        bool edge = nd_link_state_fold(&s, &live->policy, l);
        char history[ND_LINK_HISTORY_MAX + 1], subject[400];
        char dst_host[256] = "", dst_dc[ND_ROLE_FIELD_MAX] = "", dst_service[ND_ROLE_FIELD_MAX] = "",
             dst_role[ND_ROLE_FIELD_MAX] = "";
        int64_t since = prev && before == s.health ? prev->since : now;
        sqlite3_stmt *st = stmt(live, ST_HOST_OF_ADDR);

        /* The far end's host, for a new link (then kept up to date by
         * ST_LINKS_RENAME and nd_live_set_roles()). */
        if (prev)
                snprintf(dst_host, sizeof(dst_host), "%s", prev->dst_host);
        sqlite3_bind_text(st, 1, l->addr, -1, SQLITE_STATIC);
        if (!prev && sqlite3_step(st) == SQLITE_ROW) {
#define COPY(buf, i) snprintf(buf, sizeof(buf), "%s", sqlite3_column_text(st, i) ? (const char *)sqlite3_column_text(st, i) : "")
                COPY(dst_host, 0);
                COPY(dst_dc, 1);
                COPY(dst_service, 2);
                COPY(dst_role, 3);
#undef COPY
        }
        sqlite3_reset(st);

        st = stmt(live, ST_LINK_PUT);
        sqlite3_bind_text(st, 1, src, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, l->addr, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, l->port);
        sqlite3_bind_text(st, 4, nd_link_kind_name(l->kind), -1, SQLITE_STATIC);
        bind_text_or_null(st, 5, dst_host);
        bind_text_or_null(st, 6, dst_dc);
        bind_text_or_null(st, 7, dst_service);
        bind_text_or_null(st, 8, dst_role);
        sqlite3_bind_int64(st, 9, l->sent);
        sqlite3_bind_int64(st, 10, l->lost);
        sqlite3_bind_int64(st, 11, l->refused);
        if (l->sent > 0)
                sqlite3_bind_double(st, 12, (double)l->lost / l->sent);
        if (l->rtt_p50_us >= 0) {
                sqlite3_bind_double(st, 13, (double)l->rtt_p50_us / 1000.0);
                sqlite3_bind_double(st, 14, (double)l->rtt_p99_us / 1000.0);
        }
        sqlite3_bind_text(st, 15, nd_link_health_name(s.health), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 16, since);
        sqlite3_bind_text(st, 17, nd_link_state_history(&s, live->policy.window, history), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 18, now);
        sqlite3_bind_int(st, 19, s.down);
        sqlite3_bind_int64(st, 20, s.failed_bits);
        sqlite3_bind_int64(st, 21, s.refused_bits);
        sqlite3_bind_int64(st, 22, s.lossy_bits);
        sqlite3_bind_int(st, 23, (int)s.rounds);
        sqlite3_bind_int(st, 24, (int)s.clean_run);
        if (done(live, st) < 0)
                return -EIO;

        /* Counts change only with a link that is new, back from stale,
         * or crossed between up and down: most rounds recount nothing. */
        if (prev && !edge && before != ND_HEALTH_STALE)
                return 0;
        if (names_add(recount, src) < 0)
                return -ENOMEM;
        /* The far end's count of hosts that cannot reach it: only a link
         * that can be down moves it, and a new one is not yet. */
        if (prev && names_add(recount, dst_host) < 0)
                return -ENOMEM;
        if (!edge)
                return 0;
        if (l->kind == ND_LINK_ICMP)
                snprintf(subject, sizeof(subject), "%s -> %s%s%s (icmp)", src, l->addr, dst_host[0] ? " " : "",
                         dst_host);
        else
                snprintf(subject, sizeof(subject), "%s -> %s:%u%s%s", src, l->addr, l->port, dst_host[0] ? " " : "",
                         dst_host);
        return alert(live, now, "link", subject, s.down ? nd_link_health_name(s.health) : "ok", history);
}

static int apply_locked(struct nd_live *live, const struct nd_report *r, int64_t now)
{
        struct prev_links prev = {};
        struct names recount = {};
        bool was_stale = false;
        sqlite3_stmt *st;
        int k;

        st = stmt(live, ST_HOST_STATE);
        sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
                was_stale = sqlite3_column_int(st, 2);
        sqlite3_reset(st);

        k = put_host(live, r, now);
        if (k >= 0)
                k = load_prev(live, r->hostname, &prev);
        if (k >= 0 && was_stale)
                k = names_add(&recount, r->hostname);
        for (size_t i = 0; k >= 0 && i < r->n_links; i++) {
                struct prev_link *p = find_prev(&prev, &r->links[i]);
                if (p)
                        p->seen = true;
                k = put_link(live, r->hostname, &r->links[i], p, now, &recount);
        }
        /* Links it no longer probes are gone from its peer list. */
        for (size_t i = 0; k >= 0 && i < prev.n; i++) {
                struct prev_link *p = &prev.items[i];
                if (p->seen)
                        continue;
                st = stmt(live, ST_LINK_DELETE);
                sqlite3_bind_text(st, 1, r->hostname, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, p->dst, -1, SQLITE_STATIC);
                sqlite3_bind_int(st, 3, p->port);
                sqlite3_bind_text(st, 4, nd_link_kind_name(p->kind), -1, SQLITE_STATIC);
                k = done(live, st);
                if (k >= 0)
                        k = names_add(&recount, r->hostname);
                if (k >= 0 && p->state.down)
                        k = names_add(&recount, p->dst_host);
        }
        if (k >= 0 && was_stale)
                k = alert(live, now, "host", r->hostname, "reporting", NULL);
        for (size_t i = 0; k >= 0 && i < recount.n; i++)
                k = host_recount(live, recount.items[i], now);
        free(prev.items);
        names_done(&recount);
        return k;
}

int nd_live_apply(struct nd_live *live, const struct nd_report *r, int64_t now, char *why, size_t why_size)
{
        int k;

        pthread_mutex_lock(&live->lock);
        k = done(live, stmt(live, ST_BEGIN));
        if (k >= 0) {
                k = apply_locked(live, r, now);
                if (k < 0)
                        nd_why_set(why, why_size, "live state: %s",
                                   k == -ENOMEM ? "out of memory" : sqlite3_errmsg(live->db));
                done(live, stmt(live, k < 0 ? ST_ROLLBACK : ST_COMMIT));
        }
        pthread_mutex_unlock(&live->lock);
        return k;
}

/* ---- time passing ---- */

int nd_live_sweep(struct nd_live *live, int64_t now)
{
        sqlite3_stmt *st = NULL, *mark = NULL;
        struct names stale = {}, recount = {};
        char sql[640];
        int k = 0;

        pthread_mutex_lock(&live->lock);
        if (nd_live_exec(live, "BEGIN") < 0) {
                pthread_mutex_unlock(&live->lock);
                return -EIO;
        }
        snprintf(sql, sizeof(sql),
                 "SELECT name FROM hosts WHERE stale = 0 AND last_report < %" PRId64 " - %d * interval_s", now,
                 ND_LIVE_STALE_INTERVALS);
        if (sqlite3_prepare_v2(live->db, sql, -1, &st, NULL) != SQLITE_OK)
                k = -EIO;
        while (k >= 0 && sqlite3_step(st) == SQLITE_ROW)
                k = names_add(&stale, (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        st = NULL;
        if (k >= 0 && stale.n > 0 &&
            (sqlite3_prepare_v2(live->db,
                                "UPDATE links SET state = 'stale', state_since = ?2 WHERE src = ?1 RETURNING dst_host",
                                -1, &st, NULL) != SQLITE_OK ||
             sqlite3_prepare_v2(live->db, "UPDATE hosts SET stale = 1 WHERE name = ?1", -1, &mark, NULL) != SQLITE_OK))
                k = -EIO;
        for (size_t i = 0; k >= 0 && i < stale.n; i++) {
                sqlite3_reset(st);
                sqlite3_bind_text(st, 1, stale.items[i], -1, SQLITE_STATIC);
                sqlite3_bind_int64(st, 2, now);
                while (k >= 0 && sqlite3_step(st) == SQLITE_ROW)
                        k = names_add(&recount, (const char *)sqlite3_column_text(st, 0));
                sqlite3_reset(st);
                sqlite3_reset(mark);
                sqlite3_bind_text(mark, 1, stale.items[i], -1, SQLITE_STATIC);
                if (k >= 0 && sqlite3_step(mark) != SQLITE_DONE)
                        k = -EIO;
                sqlite3_reset(mark);
                if (k >= 0)
                        k = names_add(&recount, stale.items[i]);
        }
        sqlite3_finalize(st);
        sqlite3_finalize(mark);
        for (size_t i = 0; k >= 0 && i < recount.n; i++)
                k = host_recount(live, recount.items[i], now);
        if (k >= 0) {
                snprintf(sql, sizeof(sql), "DELETE FROM alerts WHERE seq <= (SELECT max(seq) FROM alerts) - %d",
                         ND_LIVE_ALERTS_KEPT);
                k = nd_live_exec(live, sql);
        }
        /* Hosts quiet for a day are gone (decommissioned, renamed): the
         * tables keep what is, not what was. Not broken ones: something
         * still fails to reach them. */
        if (k >= 0) {
                snprintf(sql, sizeof(sql),
                         "CREATE TEMP TABLE IF NOT EXISTS gone (name TEXT PRIMARY KEY); DELETE FROM gone;"
                         "INSERT INTO gone SELECT name FROM hosts WHERE stale = 1 AND broken = 0"
                         " AND last_report < %" PRId64 ";"
                         "DELETE FROM links WHERE src IN gone; DELETE FROM host_addrs WHERE host IN gone;"
                         "DELETE FROM nginx_errors WHERE host IN gone; DELETE FROM hosts WHERE name IN gone;",
                         now - ND_LIVE_FORGET_S);
                k = nd_live_exec(live, sql);
        }
        nd_live_exec(live, k < 0 ? "ROLLBACK" : "COMMIT");
        pthread_mutex_unlock(&live->lock);
        k = k < 0 ? k : (int)stale.n;
        names_done(&stale);
        names_done(&recount);
        return k;
}

/* ---- reading ---- */

int nd_live_query(struct nd_live *live, const char *sql, const struct nd_query_limits *limits, json_t **ret,
                  char *why, size_t why_size)
{
        int r;

        pthread_mutex_lock(&live->lock);
        r = nd_live_query_run(live->db, sql, limits, ret, why, why_size);
        pthread_mutex_unlock(&live->lock);
        return r;
}

int nd_live_alerts(struct nd_live *live, int64_t after_seq, size_t limit, json_t **ret)
{
        sqlite3_stmt *st = NULL;
        json_t *alerts = json_array(), *root;
        int64_t last = after_seq;
        int r = 0;

        if (!alerts)
                return -ENOMEM;
        pthread_mutex_lock(&live->lock);
        if (sqlite3_prepare_v2(live->db,
                               "SELECT seq, ts, kind, subject, state, detail FROM alerts WHERE seq > ?1"
                               " ORDER BY seq LIMIT ?2",
                               -1, &st, NULL) != SQLITE_OK)
                r = -EIO;
        else {
                sqlite3_bind_int64(st, 1, after_seq);
                sqlite3_bind_int64(st, 2, (int64_t)limit);
        }
        while (r == 0 && sqlite3_step(st) == SQLITE_ROW) {
                const char *detail = (const char *)sqlite3_column_text(st, 5);
                last = sqlite3_column_int64(st, 0);
                if (json_array_append_new(alerts, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s?}", "seq", (json_int_t)last,
                                                            "ts", (json_int_t)sqlite3_column_int64(st, 1), "kind",
                                                            (const char *)sqlite3_column_text(st, 2), "subject",
                                                            (const char *)sqlite3_column_text(st, 3), "state",
                                                            (const char *)sqlite3_column_text(st, 4), "detail",
                                                            detail)) < 0)
                        r = -ENOMEM;
        }
        if (r == 0 && last == after_seq) {
                /* Nothing new: say where the log stands, so a poller can
                 * start from there. */
                sqlite3_stmt *m = NULL;
                if (sqlite3_prepare_v2(live->db, "SELECT coalesce(max(seq), 0) FROM alerts", -1, &m, NULL) ==
                            SQLITE_OK &&
                    sqlite3_step(m) == SQLITE_ROW && sqlite3_column_int64(m, 0) < after_seq)
                        last = sqlite3_column_int64(m, 0);
                sqlite3_finalize(m);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&live->lock);
        if (r < 0) {
                json_decref(alerts);
                return r;
        }
        root = json_pack("{s:o, s:I}", "alerts", alerts, "last_seq", (json_int_t)last);
        if (!root)
                return -ENOMEM;
        *ret = root;
        return 0;
}

void nd_live_counts(struct nd_live *live, struct nd_live_counts *ret)
{
        sqlite3_stmt *st = NULL;

        *ret = (struct nd_live_counts){};
        pthread_mutex_lock(&live->lock);
        if (sqlite3_prepare_v2(live->db,
                               "SELECT (SELECT count(*) FROM hosts), (SELECT count(*) FROM hosts WHERE broken = 1),"
                               " (SELECT count(*) FROM hosts WHERE stale = 1), (SELECT count(*) FROM links),"
                               " (SELECT count(*) FROM links WHERE down = 1 AND state <> 'stale')",
                               -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                *ret = (struct nd_live_counts){
                        (size_t)sqlite3_column_int64(st, 0), (size_t)sqlite3_column_int64(st, 1),
                        (size_t)sqlite3_column_int64(st, 2), (size_t)sqlite3_column_int64(st, 3),
                        (size_t)sqlite3_column_int64(st, 4),
                };
        sqlite3_finalize(st);
        pthread_mutex_unlock(&live->lock);
}
