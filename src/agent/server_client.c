#include "agent/server_client.h"

#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/url_path.h"
#include "agent/flush_json.h"
#include "shared/gzip.h"

struct nd_server_client {
        CURL *curl;
        CURLU *base; /* the server's URL, for the paths below it */
        char *endpoint; /* URL/api/v1/flush */
        /* A GET's body, when one is asked for (else the start of it in body). */
        FILE *whole;
        char *token_file, *ca_file;
        struct curl_slist *headers;
        /* Filled in per post: */
        char body[512]; /* the start of the answer: its reason on failure */
        char etag[64];
        size_t body_len;
        unsigned retry_after_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The token: the file's first line, trimmed. */
static int read_token(const char *path, char *buf, size_t size, char *why, size_t why_size)
{
        FILE *f = fopen(path, "re");
        size_t len;

        if (!f) {
                int r = -errno;
                snprintf(why, why_size, "cannot read token file %s: %s", path, strerror(-r));
                return r;
        }
        if (!fgets(buf, (int)size, f))
                buf[0] = '\0';
        fclose(f);
        len = strcspn(buf, "\r\n");
        buf[len] = '\0';
        while (len > 0 && isspace((unsigned char)buf[len - 1]))
                buf[--len] = '\0';
        if (len == 0 || len >= size - 1) {
                snprintf(why, why_size, "token file %s: want one line with the token", path);
                return -EINVAL;
        }
        for (size_t i = 0; i < len; i++)
                if (!isgraph((unsigned char)buf[i])) {
                        snprintf(why, why_size, "token file %s: the token has a blank or control character", path);
                        return -EINVAL;
                }
        return 0;
}

static size_t keep_body(char *data, size_t size, size_t n, void *userdata)
{
        struct nd_server_client *c = userdata;
        size_t len = size * n, room = sizeof(c->body) - 1 - c->body_len;

        if (c->whole)
                return fwrite(data, 1, len, c->whole);
        memcpy(c->body + c->body_len, data, len < room ? len : room);
        c->body_len += len < room ? len : room;
        c->body[c->body_len] = '\0';
        return len;
}

static size_t keep_header(char *data, size_t size, size_t n, void *userdata)
{
        struct nd_server_client *c = userdata;
        size_t len = size * n;
        static const char name[] = "retry-after:";

        static const char etag[] = "etag:";

        if (len > sizeof(etag) - 1 && strncasecmp(data, etag, sizeof(etag) - 1) == 0) {
                const char *v = data + sizeof(etag) - 1;
                size_t vlen = len - (sizeof(etag) - 1);

                while (vlen > 0 && (*v == ' ' || *v == '\t'))
                        v++, vlen--;
                while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
                        vlen--;
                if (vlen < sizeof(c->etag))
                        memcpy(c->etag, v, vlen), c->etag[vlen] = '\0';
        }
        if (len > sizeof(name) - 1 && strncasecmp(data, name, sizeof(name) - 1) == 0) {
                /* Seconds; an HTTP date is taken as "later", i.e. 0. */
                unsigned long s = strtoul(data + sizeof(name) - 1, NULL, 10);
                c->retry_after_ms = s > 3600 ? 3600000u : (unsigned)s * 1000u;
        }
        return len;
}

static int build_headers(struct nd_server_client *c, char *why, size_t why_size)
{
        struct curl_slist *h = NULL, *t;
        char token[1024], auth[1100];
        int r;

        curl_slist_free_all(c->headers);
        c->headers = NULL;
        h = curl_slist_append(h, "Content-Type: application/json");
        if (h && (t = curl_slist_append(h, "Content-Encoding: gzip")))
                h = t;
        if (c->token_file) {
                r = read_token(c->token_file, token, sizeof(token), why, why_size);
                if (r < 0) {
                        curl_slist_free_all(h);
                        return r;
                }
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                explicit_bzero(token, sizeof(token));
                if (h && (t = curl_slist_append(h, auth)))
                        h = t;
                explicit_bzero(auth, sizeof(auth));
        }
        if (!h)
                return -ENOMEM;
        c->headers = h;
        return 0;
}

int nd_server_client_new(const char *url, const char *token_file, const char *ca_file,
                         struct nd_server_client **ret, char *why, size_t why_size)
{
        struct nd_server_client *c = NULL;
        CURLU *u;
        char *scheme = NULL, *endpoint = NULL;
        int r = 0;

        pthread_once(&curl_once, curl_setup);
        u = curl_url();
        if (!u)
                return -ENOMEM;
        /* URL/api/v1/flush, below the URL's own path if it has one. */
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
            (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) ||
            nd_url_set_api_path(u, "/api/v1/flush") < 0 ||
            curl_url_get(u, CURLUPART_URL, &endpoint, 0) != CURLUE_OK) {
                snprintf(why, why_size, "invalid server URL '%s' (want http(s)://HOST:PORT)", url);
                r = -EINVAL;
        }
        if (r >= 0 && !(c = calloc(1, sizeof(*c))))
                r = -ENOMEM;
        if (r >= 0) {
                c->endpoint = strdup(endpoint);
                c->token_file = token_file ? strdup(token_file) : NULL;
                c->ca_file = ca_file ? strdup(ca_file) : NULL;
                c->curl = curl_easy_init();
                if (!c->endpoint || (token_file && !c->token_file) || (ca_file && !c->ca_file) || !c->curl)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = build_headers(c, why, why_size);
        curl_free(scheme);
        curl_free(endpoint);
        /* The URL as given: the other endpoints go below its own path. */
        if (r >= 0 && (!(c->base = curl_url()) || curl_url_set(c->base, CURLUPART_URL, url, 0) != CURLUE_OK))
                r = -ENOMEM;
        curl_url_cleanup(u);
        if (r < 0) {
                nd_server_client_free(c);
                return r;
        }
        curl_easy_setopt(c->curl, CURLOPT_URL, c->endpoint);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 30000L);
        curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, keep_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, keep_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "netdep-agent/" NETDEP_VERSION);
        curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        if (c->ca_file) {
                /* That file only: not also the system's directory, which
                 * GnuTLS would read whole at every connection. */
                curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
                curl_easy_setopt(c->curl, CURLOPT_CAPATH, NULL);
        }
        *ret = c;
        return 0;
}

struct nd_server_client *nd_server_client_free(struct nd_server_client *c)
{
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
        curl_url_cleanup(c->base);
        curl_slist_free_all(c->headers);
        free(c->endpoint);
        free(c->token_file);
        free(c->ca_file);
        free(c);
        return NULL;
}

/* The answer's first line, for a log line. */
static const char *reason(struct nd_server_client *c)
{
        c->body[strcspn(c->body, "\r\n")] = '\0';
        return c->body[0] ? c->body : "no reason given";
}

/* URL + api_path (+ "?" query): caller frees with curl_free(). */
static char *url_of(struct nd_server_client *c, const char *api_path, const char *query)
{
        CURLU *u = curl_url_dup(c->base);
        char *url = NULL;

        if (u && nd_url_set_api_path(u, api_path) == 0 &&
            (!query || curl_url_set(u, CURLUPART_QUERY, query, 0) == CURLUE_OK))
                curl_url_get(u, CURLUPART_URL, &url, 0);
        curl_url_cleanup(u);
        return url;
}

/* The token file again, if it changed since the last request. */
static int refresh_headers(struct nd_server_client *c, char *why, size_t why_size)
{
        int r;

        if (!c->token_file)
                return 0;
        r = build_headers(c, why, why_size);
        return r < 0 ? (r == -ENOMEM ? r : -EACCES) : 0;
}

int nd_server_client_post_json(struct nd_server_client *c, const char *api_path, const char *json, size_t json_size,
                               unsigned *retry_after_ms, char *why, size_t why_size)
{
        uint8_t *gz = NULL;
        size_t gz_size;
        char *url = NULL;
        long status = 0;
        CURLcode cr;
        int r;

        *retry_after_ms = 0;
        r = nd_gzip(json, json_size, &gz, &gz_size);
        if (r < 0) {
                snprintf(why, why_size, "cannot compress: %s", strerror(-r));
                return r;
        }
        r = refresh_headers(c, why, why_size);
        if (r >= 0 && strcmp(api_path, "/api/v1/flush") != 0 && !(url = url_of(c, api_path, NULL)))
                r = -ENOMEM;
        if (r < 0) {
                free(gz);
                return r;
        }
        c->body_len = 0;
        c->body[0] = '\0';
        c->retry_after_ms = 0;
        curl_easy_setopt(c->curl, CURLOPT_URL, url ? url : c->endpoint);
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 0L);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)gz);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)gz_size);
        cr = curl_easy_perform(c->curl);
        free(gz);
        curl_free(url);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
        if (cr != CURLE_OK) {
                snprintf(why, why_size, "%s", curl_easy_strerror(cr));
                return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        *retry_after_ms = c->retry_after_ms;
        if (status >= 200 && status < 300)
                return 0;
        snprintf(why, why_size, "server answered %ld: %s", status, reason(c));
        if (status == 401 || status == 403)
                return -EACCES;
        if (status == 400 || status == 413 || status == 415)
                return -EBADMSG;
        return -EAGAIN; /* 429, 5xx, and anything unexpected: later */
}

int nd_server_client_post(struct nd_server_client *c, const struct nd_flush *f, unsigned *retry_after_ms,
                          char *why, size_t why_size)
{
        char *json = NULL;
        size_t json_size;
        int r;

        *retry_after_ms = 0;
        r = nd_flush_to_json(f, &json, &json_size);
        if (r < 0) {
                snprintf(why, why_size, "cannot encode the flush: %s", strerror(-r));
                return r;
        }
        r = nd_server_client_post_json(c, "/api/v1/flush", json, json_size, retry_after_ms, why, why_size);
        free(json);
        return r;
}

int nd_server_client_get(struct nd_server_client *c, const char *api_path, const char *query, char *etag,
                         size_t etag_size, char **ret, size_t *ret_size, char *why, size_t why_size)
{
        struct curl_slist *headers = NULL, *h;
        char *url, *body = NULL, match[128];
        size_t size = 0;
        long status = 0;
        CURLcode cr;
        int r;

        r = refresh_headers(c, why, why_size);
        if (r < 0)
                return r;
        if (!(url = url_of(c, api_path, query)))
                return -ENOMEM;
        /* The post headers but the content ones, and the version we hold. */
        for (h = c->headers; h; h = h->next)
                if (strncasecmp(h->data, "Content-", 8) != 0)
                        headers = curl_slist_append(headers, h->data);
        if (etag && etag[0]) {
                snprintf(match, sizeof(match), "If-None-Match: %s", etag);
                headers = curl_slist_append(headers, match);
        }
        c->whole = open_memstream(&body, &size);
        c->etag[0] = '\0';
        c->retry_after_ms = 0;
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
        cr = c->whole ? curl_easy_perform(c->curl) : CURLE_OUT_OF_MEMORY;
        if (c->whole)
                fclose(c->whole);
        c->whole = NULL;
        curl_free(url);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        curl_slist_free_all(headers);
        if (cr != CURLE_OK) {
                free(body);
                snprintf(why, why_size, "%s", curl_easy_strerror(cr));
                return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status == 304) {
                free(body);
                return 1;
        }
        if (status < 200 || status >= 300) {
                snprintf(why, why_size, "server answered %ld: %.200s", status, body && size ? body : "no reason given");
                why[strcspn(why, "\r\n")] = '\0';
                free(body);
                return status == 401 || status == 403 ? -EACCES : status == 400 || status == 404 ? -EBADMSG : -EAGAIN;
        }
        if (etag)
                snprintf(etag, etag_size, "%s", c->etag);
        *ret = body;
        *ret_size = size;
        return 0;
}
