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
        char *endpoint; /* URL/api/v1/flush */
        char *token_file, *ca_file;
        struct curl_slist *headers;
        /* Filled in per post: */
        char body[512]; /* the start of the answer: its reason on failure */
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
        if (c->ca_file)
                curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
        *ret = c;
        return 0;
}

struct nd_server_client *nd_server_client_free(struct nd_server_client *c)
{
        if (!c)
                return NULL;
        if (c->curl)
                curl_easy_cleanup(c->curl);
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

int nd_server_client_post(struct nd_server_client *c, const struct nd_flush *f, unsigned *retry_after_ms,
                          char *why, size_t why_size)
{
        char *json = NULL;
        uint8_t *gz = NULL;
        size_t json_size, gz_size;
        long status = 0;
        CURLcode cr;
        int r;

        *retry_after_ms = 0;
        r = nd_flush_to_json(f, &json, &json_size);
        if (r >= 0)
                r = nd_gzip(json, json_size, &gz, &gz_size);
        free(json);
        if (r < 0) {
                snprintf(why, why_size, "cannot encode the flush: %s", strerror(-r));
                return r;
        }
        /* A token file changed since the last post is read again. */
        if (c->token_file) {
                r = build_headers(c, why, why_size);
                if (r < 0) {
                        free(gz);
                        return r == -ENOMEM ? r : -EACCES;
                }
        }
        c->body_len = 0;
        c->body[0] = '\0';
        c->retry_after_ms = 0;
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)gz);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)gz_size);
        cr = curl_easy_perform(c->curl);
        free(gz);
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
