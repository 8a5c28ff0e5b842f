#include "serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "agent/flush_json.h"
#include "model/addr.h"
#include "serve/connectivity.h"
#include "serve/http_answer.h"
#include "serve/live_forward.h"
#include "serve/metrics.h"
#include "serve/peer_list.h"
#include "serve/read_request.h"
#include "serve/store_pool.h"
#include "serve/tokens.h"
#include "serve/verb_child.h"
#include "serve/web.h"
#include "shared/gzip.h"
#include "shared/log.h"
#include "shared/ticker.h"

/* A gzip'd flush inflates to at most this many times its size: JSON this
 * repetitive compresses about 10:1; a bomb compresses 1000:1. */
#define INFLATE_RATIO 16
#define RETRY_AFTER_BUSY_S 2
#define RETRY_AFTER_STORE_DOWN_S 10
#define AGENT_WINDOW_S 60
#define CONNECTION_MEMORY (10 * 1024)

struct server {
        const struct nd_serve_options *o;
        struct nd_store_pool *pool;
        struct nd_connectivity *conn;
        struct nd_live_forward *forward; /* NULL without --live-peers */
        struct nd_metrics *metrics;
        pthread_rwlock_t tokens_lock;
        struct nd_tokens tokens;
        bool auth; /* a token file was given */
        atomic_size_t reads_running;
        struct nd_ticker *pruner; /* hourly: observations past the retention */
};

enum request_kind {
        REQ_FLUSH,
        REQ_READ,
        REQ_REPORT,
        REQ_LOGIN,
};

struct request {
        enum request_kind kind;
        struct nd_token token; /* a copy: the file may be reloaded meanwhile */
        bool has_token;
        struct nd_read_request read;
        char *body;
        size_t size, allocated;
        bool too_large;
        bool forwarded; /* a report another server passed on */
};

/* ---- who asks ---- */

/* 0 and the token (when auth is on), or the answer to give. The page's
 * cookie stands for the header on GETs only: a browser sends it with a
 * form another site posts here too. */
static int authorize(struct server *srv, struct MHD_Connection *c, bool is_get, enum nd_scope scope,
                     struct request *req, unsigned *ret_status, char *why, size_t why_size)
{
        const char *header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        char from_cookie[ND_WEB_BEARER_MAX];
        const struct nd_token *t;

        if (!srv->auth)
                return 0; /* loopback only, and said so at start */
        if (!header && is_get && nd_web_cookie_bearer(c, from_cookie, sizeof(from_cookie)) == 0)
                header = from_cookie;
        pthread_rwlock_rdlock(&srv->tokens_lock);
        t = nd_tokens_check(&srv->tokens, header);
        if (t) {
                req->token = *t;
                req->has_token = true;
        }
        pthread_rwlock_unlock(&srv->tokens_lock);
        if (header == from_cookie)
                explicit_bzero(from_cookie, sizeof(from_cookie));
        if (!t) {
                *ret_status = MHD_HTTP_UNAUTHORIZED;
                snprintf(why, why_size, header ? "unknown token" : "missing token (Authorization: Bearer TOKEN)");
                return -EACCES;
        }
        if (!nd_token_allows(&req->token, scope)) {
                *ret_status = MHD_HTTP_FORBIDDEN;
                snprintf(why, why_size, "this token may not %s",
                         scope == ND_SCOPE_AGENT ? "post flushes" : scope == ND_SCOPE_ADMIN ? "change roles" : "read");
                return -EPERM;
        }
        return 0;
}

/* ---- POST /api/v1/flush ---- */

/* The body as JSON text: inflated when gzip'd. On failure the answer is
 * queued (*ret_answered) and -1 returned. *ret is NULL when the body was
 * sent as is: use req->body then. */
static int inflate_body(struct server *srv, struct MHD_Connection *c, struct request *req, char **ret,
                        size_t *ret_size, enum MHD_Result *ret_answered)
{
        const char *encoding = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        int r;

        *ret = NULL;
        *ret_size = 0;
        if (req->too_large) {
                *ret_answered = nd_http_text(c, MHD_HTTP_CONTENT_TOO_LARGE, 0, "body larger than %zu bytes",
                                             srv->o->max_body);
                return -1;
        }
        if (encoding && strcasecmp(encoding, "gzip") == 0) {
                r = nd_gunzip(req->body, req->size, srv->o->max_body * INFLATE_RATIO, ret, ret_size);
                if (r == -EFBIG) {
                        req->too_large = true;
                        *ret_answered = nd_http_text(c, MHD_HTTP_CONTENT_TOO_LARGE, 0, "body inflates past %zu bytes",
                                                     srv->o->max_body * INFLATE_RATIO);
                        return -1;
                }
                if (r < 0) {
                        *ret_answered = nd_http_text(c, MHD_HTTP_BAD_REQUEST, 0, "body is not whole gzip: %s",
                                                     r == -EBADMSG ? "damaged or cut short" : strerror(-r));
                        return -1;
                }
        } else if (encoding && strcasecmp(encoding, "identity") != 0) {
                *ret_answered = nd_http_text(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, 0,
                                             "Content-Encoding %s: want gzip or none", encoding);
                return -1;
        }
        return 0;
}

static enum MHD_Result finish_flush(struct server *srv, struct MHD_Connection *c, struct request *req)
{
        enum MHD_Result answered = MHD_NO;
        struct nd_flush *f = NULL;
        struct nd_store *s = NULL;
        char why[512] = "", *json = NULL;
        size_t json_size = 0;
        struct timespec t0, t1;
        int r;

        if (inflate_body(srv, c, req, &json, &json_size, &answered) < 0) {
                nd_metrics_ingest(srv->metrics, req->too_large ? ND_INGEST_TOO_LARGE : ND_INGEST_BAD_REQUEST, 0);
                return answered;
        }
        r = nd_flush_from_json(json ? json : (req->body ? req->body : ""), json ? json_size : req->size, &f, why,
                               sizeof(why));
        free(json);
        if (r < 0) {
                nd_metrics_ingest(srv->metrics, ND_INGEST_BAD_REQUEST, 0);
                return nd_http_text(c, r == -ENOMEM ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_BAD_REQUEST,
                                   r == -ENOMEM ? RETRY_AFTER_BUSY_S : 0, "flush refused: %s", why);
        }
        /* An agent writes for the host its token names, and nothing else. */
        if (req->has_token && req->token.scope == ND_SCOPE_AGENT && strcasecmp(req->token.hostname, f->hostname) != 0) {
                size_t n = f->n_rows;
                nd_metrics_ingest(srv->metrics, ND_INGEST_FORBIDDEN, n);
                r = nd_http_text(c, MHD_HTTP_FORBIDDEN, 0, "this token writes for host %s, not %.255s",
                                req->token.hostname, f->hostname);
                nd_flush_free(f);
                return (enum MHD_Result)r;
        }

        r = nd_store_pool_take(srv->pool, &s, why, sizeof(why));
        if (r < 0) {
                size_t n = f->n_rows;
                nd_flush_free(f);
                nd_metrics_ingest(srv->metrics, r == -EBUSY ? ND_INGEST_OVERLOADED : ND_INGEST_STORE_ERROR, n);
                if (r != -EBUSY)
                        log_warning("serve: store unavailable: %s", why);
                return nd_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                                   r == -EBUSY ? RETRY_AFTER_BUSY_S : RETRY_AFTER_STORE_DOWN_S, "%s%s",
                                   r == -EBUSY ? "" : "store unavailable: ", why);
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        r = nd_flush_write(s, f);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (r < 0)
                snprintf(why, sizeof(why), "%s", nd_store_last_error(s));
        nd_store_pool_give(srv->pool, s, r < 0);
        if (r < 0) {
                size_t n = f->n_rows;
                nd_flush_free(f);
                nd_metrics_ingest(srv->metrics, ND_INGEST_STORE_ERROR, n);
                log_warning("serve: store write failed: %s", why);
                return nd_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, RETRY_AFTER_STORE_DOWN_S, "store write failed: %s",
                                   why);
        }
        nd_metrics_store_write(srv->metrics, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        nd_metrics_ingest(srv->metrics, ND_INGEST_STORED, f->n_rows);
        nd_metrics_agent_seen(srv->metrics, f->hostname, (int64_t)time(NULL));
        r = nd_http_text(c, MHD_HTTP_OK, 0, "stored %zu edges", f->n_rows);
        nd_flush_free(f);
        return (enum MHD_Result)r;
}

/* ---- POST /api/v1/report, and the live state's reads ---- */

static const char *bound_host(const struct request *req)
{
        return req->has_token && req->token.scope == ND_SCOPE_AGENT ? req->token.hostname : NULL;
}

static enum MHD_Result finish_report(struct server *srv, struct MHD_Connection *c, struct request *req)
{
        enum MHD_Result answered = MHD_NO;
        struct nd_answer a = {};
        char *json = NULL;
        size_t json_size = 0;
        int r;

        if (inflate_body(srv, c, req, &json, &json_size, &answered) < 0)
                return answered;
        const char *text = json ? json : (req->body ? req->body : "");
        size_t size = json ? json_size : req->size;

        r = nd_connectivity_report(srv->conn, text, size, req->forwarded ? NULL : bound_host(req), &a);
        /* Taken: the other servers fold it in too. */
        if (r >= 0 && a.status == MHD_HTTP_OK && srv->forward && !req->forwarded)
                nd_live_forward_report(srv->forward, text, size);
        free(json);
        if (r < 0)
                return MHD_NO;
        return nd_http_send(c, &a);
}

/* GET /api/v1/peers, /query and /alerts: answered at once, no body. */
static enum MHD_Result answer_live(struct server *srv, struct MHD_Connection *c, const char *url, bool is_get)
{
        struct request req = {};
        struct nd_answer a = {};
        enum nd_scope scope = strcmp(url, "/api/v1/peers") == 0 ? ND_SCOPE_AGENT | ND_SCOPE_READER : ND_SCOPE_READER;
        unsigned status = 0;
        char why[512] = "";
        int r;

        if (!is_get)
                return nd_http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, 0, "%s takes GET", url);
        r = authorize(srv, c, true, scope, &req, &status, why, sizeof(why));
        if (r < 0)
                return nd_http_text(c, status, 0, "%s", why);
        if (strcmp(url, "/api/v1/peers") == 0)
                r = nd_connectivity_peers(srv->conn, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "host"),
                                          bound_host(&req),
                                          MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                                      MHD_HTTP_HEADER_IF_NONE_MATCH),
                                          &a);
        else if (strcmp(url, "/api/v1/query") == 0)
                r = nd_connectivity_query(srv->conn, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sql"),
                                          MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit"), &a);
        else
                r = nd_connectivity_alerts(srv->conn, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since"),
                                           &a);
        if (r < 0)
                return nd_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, RETRY_AFTER_BUSY_S, "out of memory");
        return nd_http_send(c, &a);
}

/* ---- the page's login (src/serve/web.c) ---- */

static bool token_reads(void *userdata, const char *bearer)
{
        struct server *srv = userdata;
        const struct nd_token *t;
        bool reads;

        pthread_rwlock_rdlock(&srv->tokens_lock);
        t = nd_tokens_check(&srv->tokens, bearer);
        reads = t && nd_token_allows(t, ND_SCOPE_READER);
        pthread_rwlock_unlock(&srv->tokens_lock);
        return reads;
}

static enum MHD_Result finish_login(struct server *srv, struct MHD_Connection *c, struct request *req)
{
        return nd_web_login(c, srv->auth ? token_reads : NULL, srv, req->too_large ? NULL : req->body, req->size,
                            srv->o->tls_cert != NULL);
}

/* GET /login: whether the page must ask for a token first. */
static enum MHD_Result answer_login_state(struct server *srv, struct MHD_Connection *c)
{
        struct request req = {};
        unsigned status = 0;
        char why[256];

        return nd_web_login_state(c, !srv->auth ? "none"
                                     : authorize(srv, c, true, ND_SCOPE_READER, &req, &status, why, sizeof(why)) == 0
                                             ? "done"
                                             : "required");
}

/* ---- the read API ---- */

struct params {
        struct nd_param items[ND_READ_MAX_PARAMS + 1];
        size_t n;
};

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
        struct params *p = cls;

        if (p->n <= ND_READ_MAX_PARAMS)
                p->items[p->n] = (struct nd_param){ key, value };
        p->n++;
        return MHD_YES;
}

#define GZIP_READ_MAX (64u << 20)

/* A read's answer gzip'd, for a client that takes it (the page: a
 * whole-store graph is a megabyte of JSON): read from the child's file,
 * which is closed then. NULL: send the file as it is. */
static struct MHD_Response *gzip_answer(struct MHD_Connection *c, struct nd_verb_result *res)
{
        struct MHD_Response *response = NULL;
        uint8_t *gz = NULL;
        size_t gz_size = 0, got = 0;
        char *text;

        if (!nd_http_accepts_gzip(c) || res->out_size < 1024 || res->out_size > GZIP_READ_MAX)
                return NULL;
        text = malloc(res->out_size);
        if (!text)
                return NULL;
        while (got < res->out_size) {
                ssize_t n = pread(res->out_fd, text + got, res->out_size - got, (off_t)got);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        if (got == res->out_size && nd_http_gzip_for(c, text, got, &gz, &gz_size) > 0) {
                response = MHD_create_response_from_buffer(gz_size, gz, MHD_RESPMEM_MUST_FREE);
                if (response) {
                        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
                        close(res->out_fd);
                } else
                        free(gz);
        }
        free(text);
        return response;
}

static enum MHD_Result finish_read(struct server *srv, struct MHD_Connection *c, struct request *req)
{
        struct nd_verb_result res;
        struct MHD_Response *response;
        unsigned status;
        enum MHD_Result ret;
        int r;

        if (req->too_large) {
                nd_metrics_read(srv->metrics, ND_READ_CLIENT_ERROR);
                return nd_http_text(c, MHD_HTTP_CONTENT_TOO_LARGE, 0, "body larger than %zu bytes", srv->o->max_body);
        }
        if (atomic_fetch_add(&srv->reads_running, 1) >= srv->o->readers) {
                atomic_fetch_sub(&srv->reads_running, 1);
                nd_metrics_read(srv->metrics, ND_READ_OVERLOADED);
                return nd_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, RETRY_AFTER_BUSY_S,
                                   "busy: %zu reads are being answered", srv->o->readers);
        }
        r = nd_verb_run(req->read.argv, srv->o->store_uri, req->body, req->size, srv->o->request_timeout_ms, &res);
        atomic_fetch_sub(&srv->reads_running, 1);
        if (r < 0) {
                nd_metrics_read(srv->metrics, ND_READ_FAILED);
                return nd_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, RETRY_AFTER_BUSY_S, "cannot answer: %s",
                                   strerror(-r));
        }
        if (res.exit_status != 0) {
                /* The CLI's exit status: 2 a usage error; 1 nothing found,
                 * or the store failed ("Failed to ..."). */
                close(res.out_fd);
                if (res.exit_status == 2)
                        status = MHD_HTTP_BAD_REQUEST;
                else if (res.exit_status == 1 && strncmp(res.error, "Failed to", 9) != 0)
                        status = MHD_HTTP_NOT_FOUND;
                else if (res.exit_status < 0)
                        status = MHD_HTTP_GATEWAY_TIMEOUT;
                else
                        status = MHD_HTTP_SERVICE_UNAVAILABLE;
                nd_metrics_read(srv->metrics, status < 500 ? ND_READ_CLIENT_ERROR : ND_READ_FAILED);
                return nd_http_text(c, status, status == MHD_HTTP_SERVICE_UNAVAILABLE ? RETRY_AFTER_STORE_DOWN_S : 0,
                                   "%s", res.error[0] ? res.error : "failed");
        }
        nd_metrics_read(srv->metrics, ND_READ_OK);
        response = gzip_answer(c, &res);
        if (!response)
                response = MHD_create_response_from_fd(res.out_size, res.out_fd);
        if (!response) {
                close(res.out_fd);
                return MHD_NO;
        }
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, req->read.content_type);
        MHD_add_response_header(response, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
        ret = MHD_queue_response(c, MHD_HTTP_OK, response);
        MHD_destroy_response(response);
        return ret;
}

/* ---- operations ---- */

static enum MHD_Result answer_metrics(struct server *srv, struct MHD_Connection *c)
{
        struct nd_store_pool_stats ps;
        struct nd_metrics_gauges g;
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream(&text, &size);
        int r;

        if (!out)
                return MHD_NO;
        nd_store_pool_stats(srv->pool, &ps);
        g = (struct nd_metrics_gauges){
                .store_open = ps.open, .store_busy = ps.busy, .store_waiting = ps.waiting,
                .reads_running = atomic_load(&srv->reads_running), .now = (int64_t)time(NULL),
                .agent_window_s = AGENT_WINDOW_S,
        };
        r = nd_metrics_write(srv->metrics, &g, out);
        if (r >= 0)
                r = nd_connectivity_write_metrics(srv->conn, out);
        if (r >= 0 && srv->forward) {
                struct nd_live_forward_stats fs;
                nd_live_forward_stats(srv->forward, &fs);
                fprintf(out,
                        "# HELP netdep_live_forward_reports_total Probe reports passed on to the live peers.\n"
                        "# TYPE netdep_live_forward_reports_total counter\n"
                        "netdep_live_forward_reports_total{result=\"sent\"} %llu\n"
                        "netdep_live_forward_reports_total{result=\"failed\"} %llu\n"
                        "netdep_live_forward_reports_total{result=\"dropped\"} %llu\n",
                        (unsigned long long)fs.sent, (unsigned long long)fs.failed, (unsigned long long)fs.dropped);
        }
        if (fclose(out) != 0 || r < 0) {
                free(text);
                return nd_http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, 0, "cannot write metrics");
        }
        return nd_http_answer(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text, size, 0);
}

static enum MHD_Result answer_ready(struct server *srv, struct MHD_Connection *c)
{
        struct nd_store *s = NULL;
        char why[512] = "";
        int version = 0, r;

        r = nd_store_pool_take(srv->pool, &s, why, sizeof(why));
        if (r >= 0) {
                r = nd_store_schema_version(s, &version);
                if (r < 0)
                        snprintf(why, sizeof(why), "%s", nd_store_last_error(s));
                nd_store_pool_give(srv->pool, s, r < 0);
        }
        if (r < 0)
                return nd_http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, RETRY_AFTER_BUSY_S, "not ready: %s", why);
        return nd_http_text(c, MHD_HTTP_OK, 0, "ready: store schema version %d", version);
}

/* ---- the request handler ---- */

static enum MHD_Result begin(struct server *srv, struct MHD_Connection *c, const char *url, const char *method,
                             struct request **ret)
{
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        bool is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
        struct request *req;
        unsigned status = 0;
        char why[512] = "";
        int r;

        if (strcmp(url, "/healthz") == 0 && is_get)
                return nd_http_text(c, MHD_HTTP_OK, 0, "ok");
        if (strcmp(url, "/readyz") == 0 && is_get)
                return answer_ready(srv, c);
        if (strcmp(url, "/metrics") == 0 && is_get)
                return answer_metrics(srv, c);

        if (strcmp(url, ND_WEB_LOGIN_PATH) == 0 && is_get)
                return answer_login_state(srv, c);
        if (nd_web_owns(url)) {
                if (strcmp(method, "POST") == 0 && strcmp(url, "/logout") == 0)
                        return nd_web_logout_answer(c, srv->o->tls_cert != NULL);
                if (strcmp(method, "POST") != 0 || strcmp(url, ND_WEB_LOGIN_PATH) != 0)
                        return nd_web_answer(c, url, method);
        }
        if (strcmp(url, "/api/v1/peers") == 0 || strcmp(url, "/api/v1/query") == 0 ||
            strcmp(url, "/api/v1/alerts") == 0)
                return answer_live(srv, c, url, is_get);

        req = calloc(1, sizeof(*req));
        if (!req)
                return MHD_NO;
        if (strcmp(url, ND_WEB_LOGIN_PATH) == 0) {
                req->kind = REQ_LOGIN; /* the form's body, then finish_login() */
        } else if (strcmp(url, "/api/v1/flush") == 0 || strcmp(url, "/api/v1/report") == 0 ||
            strcmp(url, ND_LIVE_FORWARD_PATH) == 0) {
                if (strcmp(method, "POST") != 0) {
                        free(req);
                        return nd_http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, 0, "%s takes POST", url);
                }
                req->kind = strcmp(url, "/api/v1/flush") == 0 ? REQ_FLUSH : REQ_REPORT;
                req->forwarded = strcmp(url, ND_LIVE_FORWARD_PATH) == 0;
                /* Only another server (an admin token) passes reports on. */
                r = authorize(srv, c, false, req->forwarded ? ND_SCOPE_ADMIN : ND_SCOPE_AGENT, req, &status, why,
                              sizeof(why));
                if (r < 0) {
                        free(req);
                        nd_metrics_ingest(srv->metrics,
                                          status == MHD_HTTP_UNAUTHORIZED ? ND_INGEST_UNAUTHORIZED : ND_INGEST_FORBIDDEN,
                                          0);
                        return nd_http_text(c, status, 0, "%s", why);
                }
        } else {
                struct params p = {};

                MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_param, &p);
                r = nd_read_request_make(url, method, p.items, p.n > ND_READ_MAX_PARAMS ? ND_READ_MAX_PARAMS + 1 : p.n,
                                         &req->read, why, sizeof(why));
                if (r < 0) {
                        free(req);
                        if (r != -ENOENT)
                                nd_metrics_read(srv->metrics, ND_READ_CLIENT_ERROR);
                        return nd_http_text(c,
                                           r == -ENOENT        ? MHD_HTTP_NOT_FOUND
                                           : r == -EOPNOTSUPP ? MHD_HTTP_METHOD_NOT_ALLOWED
                                           : r == -ENOMEM     ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                              : MHD_HTTP_BAD_REQUEST,
                                           0, "%s", r == -ENOMEM ? "out of memory" : why);
                }
                req->kind = REQ_READ;
                r = authorize(srv, c, is_get, req->read.scope, req, &status, why, sizeof(why));
                if (r < 0) {
                        nd_read_request_done(&req->read);
                        free(req);
                        nd_metrics_read(srv->metrics, ND_READ_CLIENT_ERROR);
                        return nd_http_text(c, status, 0, "%s", why);
                }
        }
        /* Known too large before a byte of it is read: say so now. */
        if (length && strtoull(length, NULL, 10) > srv->o->max_body) {
                if (req->kind == REQ_FLUSH)
                        nd_metrics_ingest(srv->metrics, ND_INGEST_TOO_LARGE, 0);
                nd_read_request_done(&req->read);
                free(req);
                return nd_http_text(c, MHD_HTTP_CONTENT_TOO_LARGE, 0, "body of %s bytes, more than %zu", length,
                                   srv->o->max_body);
        }
        *ret = req;
        return MHD_YES;
}

static int append_body(struct server *srv, struct request *req, const char *data, size_t size)
{
        if (req->too_large || req->size + size > srv->o->max_body) {
                req->too_large = true;
                return 0;
        }
        if (req->size + size + 1 > req->allocated) {
                size_t want = req->allocated ? req->allocated : 16384;
                char *bigger;

                while (want < req->size + size + 1)
                        want *= 2;
                if (want > srv->o->max_body + 1)
                        want = srv->o->max_body + 1;
                bigger = realloc(req->body, want);
                if (!bigger)
                        return -ENOMEM;
                req->body = bigger;
                req->allocated = want;
        }
        memcpy(req->body + req->size, data, size);
        req->size += size;
        req->body[req->size] = '\0';
        return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
        struct server *srv = cls;
        struct request *req = *con_cls;

        if (!req) {
                enum MHD_Result r = begin(srv, c, url, method, &req);
                if (req)
                        *con_cls = req;
                return r;
        }
        if (*upload_data_size > 0) {
                if (append_body(srv, req, upload_data, *upload_data_size) < 0)
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        switch (req->kind) {
        case REQ_FLUSH:
                return finish_flush(srv, c, req);
        case REQ_REPORT:
                return finish_report(srv, c, req);
        case REQ_LOGIN:
                return finish_login(srv, c, req);
        default:
                return finish_read(srv, c, req);
        }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
        struct request *req = *con_cls;

        if (!req)
                return;
        nd_read_request_done(&req->read);
        free(req->body);
        free(req);
        *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char line[512];

        vsnprintf(line, sizeof(line), fmt, ap);
        line[strcspn(line, "\n")] = '\0';
        log_debug("serve: libmicrohttpd: %s", line);
}

/* ---- start and stop ---- */

static int parse_listen(const char *listen, struct sockaddr_storage *ret, socklen_t *ret_len, bool *ret_loopback)
{
        char host[256];
        const char *port, *colon = strrchr(listen, ':');
        struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE, .ai_socktype = SOCK_STREAM },
                        *ai = NULL;
        struct nd_addr a;
        size_t len;

        if (!colon)
                return -EINVAL;
        port = colon + 1;
        len = (size_t)(colon - listen);
        if (len >= 2 && listen[0] == '[' && listen[len - 1] == ']') {
                listen++;
                len -= 2;
        }
        if (len == 0 || len >= sizeof(host) || !*port)
                return -EINVAL;
        memcpy(host, listen, len);
        host[len] = '\0';
        if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai)
                return -EINVAL;
        memcpy(ret, ai->ai_addr, ai->ai_addrlen);
        *ret_len = ai->ai_addrlen;
        freeaddrinfo(ai);
        *ret_loopback = nd_addr_parse(host, &a) == 0 && nd_addr_is_loopback(&a);
        return 0;
}

static char *read_file(const char *path, char *why, size_t why_size)
{
        FILE *f = fopen(path, "re");
        char *text = NULL;
        size_t size = 0;
        FILE *out;
        char buf[4096];
        size_t n;

        if (!f) {
                snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
                return NULL;
        }
        out = open_memstream(&text, &size);
        while (out && (n = fread(buf, 1, sizeof(buf), f)) > 0)
                fwrite(buf, 1, n, out);
        fclose(f);
        if (!out || fclose(out) != 0) {
                free(text);
                snprintf(why, why_size, "cannot read %s: out of memory", path);
                return NULL;
        }
        return text;
}

static int load_tokens(struct server *srv)
{
        struct nd_tokens fresh;
        char why[512];
        int r = nd_tokens_load(srv->o->tokens, &fresh, why, sizeof(why));

        if (r < 0) {
                log_error("serve: %s", why);
                return r;
        }
        pthread_rwlock_wrlock(&srv->tokens_lock);
        nd_tokens_done(&srv->tokens);
        srv->tokens = fresh;
        pthread_rwlock_unlock(&srv->tokens_lock);
        return 0;
}

#define PRUNE_EVERY_MS (3600 * 1000)

/* Observations past the retention go, through the pool like any write.
 * Several servers on one store prune the same days: harmless. */
static void prune(void *userdata)
{
        struct server *srv = userdata;
        struct nd_store *s = NULL;
        char why[512] = "";
        int r;

        r = nd_store_pool_take(srv->pool, &s, why, sizeof(why));
        if (r >= 0) {
                r = nd_store_prune(s, (int64_t)time(NULL) - (int64_t)srv->o->retention_s);
                if (r < 0)
                        snprintf(why, sizeof(why), "%s", nd_store_last_error(s));
                nd_store_pool_give(srv->pool, s, r < 0);
        }
        if (r < 0)
                log_warning("serve: pruning failed, next try in an hour: %s", why);
        else if (r > 0)
                log_info("serve: pruned %d edges older than the retention", r);
}

/* The store's schema, made or brought up to date, as `db migrate` does. */
static int prepare_store(const char *uri)
{
        struct nd_store *s = NULL;
        char why[512];
        int r = nd_store_open(uri, ND_STORE_CREATE, &s, why, sizeof(why));

        if (r < 0) {
                char *shown = nd_store_redact_uri(uri);
                log_error("serve: cannot open store %s: %s", shown ? shown : "(store)", why);
                free(shown);
                return r;
        }
        r = nd_store_migrate(s);
        if (r < 0)
                log_error("serve: cannot migrate store %s: %s", s->display_uri, nd_store_last_error(s));
        nd_store_close(s);
        return r;
}

int nd_serve_run(const struct nd_serve_options *o)
{
        struct server srv = { .o = o, .auth = o->tokens != NULL };
        struct sockaddr_storage addr;
        socklen_t addr_len;
        struct MHD_Daemon *d = NULL;
        char *cert = NULL, *key = NULL, why[512];
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
        struct rlimit rl;
        bool loopback;
        sigset_t mask;
        int sig, r;

        if (parse_listen(o->listen, &addr, &addr_len, &loopback) < 0) {
                log_error("serve: invalid listen address '%s' (want ADDR:PORT or [ADDR6]:PORT)", o->listen);
                return -EINVAL;
        }
        if (!o->tokens && !loopback) {
                log_error("serve: without --tokens anyone could write and read: only a loopback address may be "
                          "listened on (not %s)", o->listen);
                return -EINVAL;
        }
        if (!o->tls_cert != !o->tls_key) {
                log_error("serve: --tls-cert and --tls-key go together");
                return -EINVAL;
        }
        pthread_rwlock_init(&srv.tokens_lock, NULL);
        r = o->tokens ? load_tokens(&srv) : 0;
        if (r >= 0 && o->tls_cert) {
                cert = read_file(o->tls_cert, why, sizeof(why));
                key = cert ? read_file(o->tls_key, why, sizeof(why)) : NULL;
                if (!cert || !key) {
                        log_error("serve: %s", why);
                        r = -EIO;
                }
                flags |= MHD_USE_TLS;
        }
        if (r >= 0)
                r = prepare_store(o->store_uri);
        /* SQLite writes one transaction at a time: more connections would
         * only wait on its lock, in its busy loop, instead of in the pool's
         * bounded queue. */
        if (r >= 0)
                r = nd_store_pool_new(o->store_uri, nd_store_uri_is_postgres(o->store_uri) ? o->pool : 1,
                                      o->max_queued, o->queue_timeout_ms, &srv.pool);
        if (r >= 0)
                r = nd_metrics_new(&srv.metrics);
        if (r >= 0) {
                struct nd_connectivity_options co = {
                        .peers_file = o->peers_file, .peer_window_s = o->peer_window_s,
                        .discovered_kinds = o->probe_kinds, .policy = o->link_policy,
                        .query_limits = ND_QUERY_LIMITS_DEFAULT,
                };
                r = nd_connectivity_new(&co, srv.pool, &srv.conn);
        }
        if (r >= 0 && o->live_peers) {
                r = nd_live_forward_start(o->live_peers, o->live_peer_token_file, o->live_peer_ca_file, &srv.forward,
                                          why, sizeof(why));
                if (r < 0)
                        log_error("serve: --live-peers: %s", why);
        }
        if (r < 0)
                goto out;

        /* Every connection is a descriptor: take what the hard limit allows. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        /* The request threads inherit this: signals come to sigwait below. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* Without the option, libmicrohttpd sets SO_REUSEADDR, and a server
         * restarted at once can listen again beside the sockets its last
         * run left closing; with it at 0 it would not. So: there, or not. */
        struct MHD_OptionItem reuse_port[] = {
                { o->reuse_port ? MHD_OPTION_LISTENING_ADDRESS_REUSE : MHD_OPTION_END, 1, NULL },
                { MHD_OPTION_END, 0, NULL },
        };
        d = MHD_start_daemon(flags, 0, NULL, NULL, handle, &srv,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                             MHD_OPTION_ARRAY, reuse_port,
                             MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads,
                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)o->max_connections,
                             MHD_OPTION_CONNECTION_TIMEOUT, o->idle_timeout_s,
                             /* Headers and a read buffer, per connection;
                              * bodies go to a buffer of our own. 10,000
                              * agents kept alive cost 10 KiB each, not 32:
                              * a URL (a query's SQL) up to about 8 KiB. */
                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                             MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, &srv,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                             cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
                             MHD_OPTION_HTTPS_MEM_KEY, key,
                             MHD_OPTION_END);
        if (!d) {
                log_error("serve: cannot listen on %s%s (in use, or not this host's address?)", o->listen,
                          cert ? " with TLS" : "");
                r = -EADDRINUSE;
                goto out;
        }
        {
                char *shown = nd_store_redact_uri(o->store_uri);
                log_notice("serve: listening on %s%s, store %s, at most %zu store connections", o->listen,
                           cert ? " (TLS)" : "", shown ? shown : "(store)",
                           nd_store_uri_is_postgres(o->store_uri) ? o->pool : (size_t)1);
                free(shown);
        }
        if (!o->tokens)
                log_warning("serve: no --tokens: anyone on this host may read and write; loopback only");
        else if (!cert && !loopback)
                log_warning("serve: tokens travel in clear text over plain HTTP on %s: give --tls-cert and --tls-key",
                            o->listen);
        if (o->retention_s && nd_ticker_start(PRUNE_EVERY_MS, prune, &srv, &srv.pruner) < 0)
                log_warning("serve: cannot start the pruner: nothing will be pruned");
        sd_notifyf(0, "READY=1\nSTATUS=listening on %s", o->listen);

        for (;;) {
                if (sigwait(&mask, &sig) != 0)
                        continue;
                if (sig != SIGHUP)
                        break;
                if (o->tokens && load_tokens(&srv) >= 0)
                        log_notice("serve: token file %s reloaded (%zu tokens)", o->tokens, srv.tokens.n);
        }
        sd_notify(0, "STOPPING=1");
        log_notice("serve: stopping (signal %d)", sig);
        MHD_stop_daemon(d);
        srv.pruner = nd_ticker_stop(srv.pruner);
        r = 0;
out:
        nd_live_forward_stop(srv.forward);
        nd_connectivity_free(srv.conn);
        nd_store_pool_free(srv.pool);
        nd_metrics_free(srv.metrics);
        nd_tokens_done(&srv.tokens);
        pthread_rwlock_destroy(&srv.tokens_lock);
        if (key)
                explicit_bzero(key, strlen(key));
        free(key);
        free(cert);
        return r;
}
