#include "serve/connectivity.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "serve/peer_list.h"
#include "shared/log.h"
#include "shared/ticker.h"

#define HOSTS_CACHE_S 60
#define ROLES_EVERY_S 60
#define SWEEP_EVERY_MS 1000
#define MAX_ALERTS_ANSWERED 1000

struct nd_connectivity {
        struct nd_connectivity_options o;
        struct nd_store_pool *pool;
        struct nd_live *live;
        struct nd_peer_rules rules;
        /* The store's hosts (address, hostname), cached: peer lists need
         * them, and 10,000 agents ask every 2 minutes. */
        pthread_mutex_t hosts_lock;
        struct nd_host_list hosts;
        int64_t hosts_at;
        /* Marks quiet hosts stale; reloads the role rules now and then. */
        struct nd_ticker *sweeper;
        int64_t roles_at;
};

/* ---- answers ---- */

static int text(struct nd_answer *a, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int text(struct nd_answer *a, unsigned status, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        s[strcspn(s, "\r\n")] = '\0';
        n = (int)strlen(s);
        s = realloc(s, (size_t)n + 2) ?: s;
        s[n] = '\n';
        s[n + 1] = '\0';
        *a = (struct nd_answer){ .status = status, .body = s, .size = (size_t)n + 1,
                                 .content_type = "text/plain; charset=utf-8" };
        return 0;
}

static int json(struct nd_answer *a, json_t *v)
{
        char *s = json_dumps(v, JSON_COMPACT);

        json_decref(v);
        if (!s)
                return -ENOMEM;
        *a = (struct nd_answer){ .status = 200, .body = s, .size = strlen(s), .content_type = "application/json" };
        return 0;
}

/* ---- the sweeper ---- */

static int load_roles(struct nd_connectivity *c)
{
        struct nd_role_rules rules = {};
        struct nd_store *s = NULL;
        char why[512] = "";
        int r = nd_store_pool_take(c->pool, &s, why, sizeof(why));

        if (r < 0)
                return r;
        r = nd_store_roles_load(s, &rules);
        if (r < 0)
                log_debug("serve: cannot load roles: %s", nd_store_last_error(s));
        nd_store_pool_give(c->pool, s, r < 0);
        if (r >= 0)
                r = nd_live_set_roles(c->live, &rules);
        nd_role_rules_done(&rules);
        return r;
}

static void sweep(void *userdata)
{
        struct nd_connectivity *c = userdata;
        int64_t now = (int64_t)time(NULL);

        if (now - c->roles_at >= ROLES_EVERY_S && load_roles(c) >= 0)
                c->roles_at = now;
        if (nd_live_sweep(c->live, now) < 0)
                log_warning("serve: cannot sweep the live state");
}

int nd_connectivity_new(const struct nd_connectivity_options *o, struct nd_store_pool *pool,
                        struct nd_connectivity **ret)
{
        struct nd_connectivity *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->o = *o;
        c->pool = pool;
        pthread_mutex_init(&c->hosts_lock, NULL);
        if (o->peers_file) {
                char why[512];
                FILE *f = fopen(o->peers_file, "re");

                if (!f) {
                        r = -errno;
                        log_error("serve: cannot read peers file %s: %m", o->peers_file);
                        nd_connectivity_free(c);
                        return r;
                }
                r = nd_peer_rules_parse(f, &c->rules, why, sizeof(why));
                fclose(f);
                if (r < 0) {
                        log_error("serve: %s:%s", o->peers_file, why);
                        nd_connectivity_free(c);
                        return r;
                }
        }
        r = nd_live_new(&o->policy, &c->live);
        if (r < 0) {
                nd_connectivity_free(c);
                return r;
        }
        r = nd_ticker_start(SWEEP_EVERY_MS, sweep, c, &c->sweeper);
        if (r < 0) {
                nd_connectivity_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

struct nd_connectivity *nd_connectivity_free(struct nd_connectivity *c)
{
        if (!c)
                return NULL;
        c->sweeper = nd_ticker_stop(c->sweeper);
        pthread_mutex_destroy(&c->hosts_lock);
        nd_host_list_done(&c->hosts);
        nd_peer_rules_done(&c->rules);
        nd_live_free(c->live);
        free(c);
        return NULL;
}

/* ---- POST /api/v1/report ---- */

int nd_connectivity_report(struct nd_connectivity *c, const char *body, size_t size, const char *bound_host,
                           struct nd_answer *ret)
{
        struct nd_report *r = NULL;
        char why[512];
        int k;

        k = nd_report_from_json(body, size, &r, why, sizeof(why));
        if (k < 0)
                return text(ret, k == -ENOMEM ? 503 : 400, "report refused: %s", why);
        if (bound_host && strcasecmp(bound_host, r->hostname) != 0) {
                k = text(ret, 403, "this token reports for host %s, not %.255s", bound_host, r->hostname);
                nd_report_free(r);
                return k;
        }
        k = nd_live_apply(c->live, r, (int64_t)time(NULL), why, sizeof(why));
        if (k < 0)
                k = text(ret, 503, "%s", why);
        else
                k = text(ret, 200, "%zu links", r->n_links);
        nd_report_free(r);
        return k;
}

/* ---- GET /api/v1/peers ---- */

/* The host's addresses, from the cached host list. */
static int addrs_of(struct nd_connectivity *c, const char *host, char ***ret, size_t *ret_n, char *why,
                    size_t why_size)
{
        int64_t now = (int64_t)time(NULL);
        char **addrs = NULL;
        size_t n = 0;
        int r = 0;

        pthread_mutex_lock(&c->hosts_lock);
        if (!c->hosts.items || now - c->hosts_at >= HOSTS_CACHE_S) {
                struct nd_host_list fresh = {};
                struct nd_store *s = NULL;

                r = nd_store_pool_take(c->pool, &s, why, why_size);
                if (r >= 0) {
                        r = nd_store_hosts(s, &fresh);
                        if (r < 0)
                                snprintf(why, why_size, "%s", nd_store_last_error(s));
                        nd_store_pool_give(c->pool, s, r < 0);
                }
                if (r >= 0) {
                        nd_host_list_done(&c->hosts);
                        c->hosts = fresh;
                        c->hosts_at = now;
                }
        }
        for (size_t i = 0; r >= 0 && i < c->hosts.n; i++) {
                char **more;

                if (strcasecmp(c->hosts.items[i].hostname, host) != 0)
                        continue;
                more = realloc(addrs, (n + 1) * sizeof(*addrs));
                if (!more || !(more[n] = strdup(c->hosts.items[i].addr))) {
                        addrs = more ?: addrs;
                        r = -ENOMEM;
                        break;
                }
                addrs = more;
                n++;
        }
        pthread_mutex_unlock(&c->hosts_lock);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(addrs[i]);
                free(addrs);
                return r;
        }
        *ret = addrs;
        *ret_n = n;
        return 0;
}

/* FNV-1a, 64 bits: a version for the list, not a secret. */
static uint64_t fnv1a(const char *s, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
        return h;
}

int nd_connectivity_peers(struct nd_connectivity *c, const char *host, const char *bound_host,
                          const char *if_none_match, struct nd_answer *ret)
{
        struct nd_server_list servers = {};
        struct nd_store *s = NULL;
        char **addrs = NULL, why[512] = "", etag[40];
        size_t n_addrs = 0;
        json_t *list = NULL;
        int r;

        if (!host || !*host || strlen(host) > 255)
                return text(ret, 400, "peers: want ?host=HOSTNAME");
        if (bound_host && strcasecmp(bound_host, host) != 0)
                return text(ret, 403, "this token fetches peers for host %s, not %.255s", bound_host, host);
        r = addrs_of(c, host, &addrs, &n_addrs, why, sizeof(why));
        if (r >= 0 && n_addrs > 0) {
                r = nd_store_pool_take(c->pool, &s, why, sizeof(why));
                if (r >= 0) {
                        r = nd_store_servers_used(s, (const char *const *)addrs, n_addrs,
                                                  (int64_t)time(NULL) - (int64_t)c->o.peer_window_s, &servers);
                        if (r < 0)
                                snprintf(why, sizeof(why), "%s", nd_store_last_error(s));
                        nd_store_pool_give(c->pool, s, r < 0);
                }
        }
        if (r >= 0)
                r = nd_peer_list_build(host, (const char *const *)addrs, n_addrs, &servers, &c->rules,
                                       c->o.discovered_kinds, &list);
        for (size_t i = 0; i < n_addrs; i++)
                free(addrs[i]);
        free(addrs);
        nd_server_list_done(&servers);
        if (r == -EBUSY) {
                r = text(ret, 503, "busy: %s", why);
                ret->retry_after_s = 2;
                return r;
        }
        if (r < 0)
                return text(ret, 503, "cannot make the peer list: %s", r == -ENOMEM ? "out of memory" : why);
        r = json(ret, list);
        if (r < 0)
                return r;
        snprintf(etag, sizeof(etag), "\"%016" PRIx64 "\"", fnv1a(ret->body, ret->size));
        snprintf(ret->etag, sizeof(ret->etag), "%s", etag);
        if (if_none_match && strcmp(if_none_match, etag) == 0) {
                free(ret->body);
                ret->body = NULL;
                ret->size = 0;
                ret->status = 304;
        }
        return 0;
}

/* ---- GET /api/v1/query, /api/v1/alerts ---- */

int nd_connectivity_query(struct nd_connectivity *c, const char *sql, const char *limit, struct nd_answer *ret)
{
        struct nd_query_limits limits = c->o.query_limits;
        json_t *res = NULL;
        char why[512], *end;
        int r;

        if (!sql || !*sql)
                return text(ret, 400, "query: want ?sql=SELECT...");
        if (limit) {
                unsigned long long n = strtoull(limit, &end, 10);
                if (*end || end == limit || n < 1 || n > c->o.query_limits.max_rows)
                        return text(ret, 400, "limit: want 1..%zu rows", c->o.query_limits.max_rows);
                limits.max_rows = (size_t)n;
        }
        r = nd_live_query(c->live, sql, &limits, &res, why, sizeof(why));
        if (r == -ENOMEM)
                return text(ret, 503, "out of memory");
        if (r < 0)
                return text(ret, 400, "%s", why);
        return json(ret, res);
}

int nd_connectivity_alerts(struct nd_connectivity *c, const char *since, struct nd_answer *ret)
{
        json_t *res = NULL;
        long long after = 0;
        char *end;
        int r;

        if (since) {
                after = strtoll(since, &end, 10);
                if (*end || end == since || after < 0)
                        return text(ret, 400, "since: want an alert sequence number, 0 or more");
        }
        r = nd_live_alerts(c->live, after, MAX_ALERTS_ANSWERED, &res);
        if (r < 0)
                return text(ret, 503, "cannot read alerts");
        return json(ret, res);
}

int nd_connectivity_write_metrics(struct nd_connectivity *c, FILE *out)
{
        return nd_live_write_metrics(c->live, out);
}
