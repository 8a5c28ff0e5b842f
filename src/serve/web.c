#include "serve/web.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ASSETS_PREFIX "/assets/"

/* Caching: an asset's name carries a hash of its content, and index.html
 * names them so; a changed file is a new name. So assets may be kept for a
 * year without asking again (immutable), and only index.html, which is
 * small, is asked again each time (no-cache, with its ETag: a 304 when
 * unchanged). */
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"
#define CACHE_REVALIDATE "no-cache"
/* No inline script or style anywhere in the page: everything from here. */
#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self'"

static void add_page_headers(struct MHD_Response *res)
{
        MHD_add_response_header(res, "Content-Security-Policy", CSP);
        MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(res, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(res, "X-Frame-Options", "DENY");
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned status, const char *text)
{
        struct MHD_Response *res =
                MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!res)
                return MHD_NO;
        add_page_headers(res);
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(res, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        ret = MHD_queue_response(c, status, res);
        MHD_destroy_response(res);
        return ret;
}

static enum MHD_Result redirect(struct MHD_Connection *c, const char *location, const char *cookie)
{
        struct MHD_Response *res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!res)
                return MHD_NO;
        add_page_headers(res);
        MHD_add_response_header(res, MHD_HTTP_HEADER_LOCATION, location);
        MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (cookie)
                MHD_add_response_header(res, MHD_HTTP_HEADER_SET_COOKIE, cookie);
        ret = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, res);
        MHD_destroy_response(res);
        return ret;
}

bool nd_web_owns(const char *url)
{
        return strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 ||
               strncmp(url, ASSETS_PREFIX, strlen(ASSETS_PREFIX)) == 0 || strcmp(url, ND_WEB_LOGIN_PATH) == 0 ||
               strcmp(url, "/logout") == 0;
}

static const struct nd_web_asset *find_asset(const char *name)
{
        for (size_t i = 0; i < nd_web_n_assets; i++)
                if (strcmp(nd_web_assets[i].name, name) == 0)
                        return &nd_web_assets[i];
        return NULL;
}

/* Whether the client takes gzip: "gzip" in Accept-Encoding, not as q=0. */
static bool accepts_gzip(struct MHD_Connection *c)
{
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        const char *p = v ? strcasestr(v, "gzip") : NULL;

        if (!p)
                return false;
        p += 4;
        while (*p == ' ')
                p++;
        return !(strncmp(p, ";q=0", 4) == 0 && (p[4] == '\0' || p[4] == ',' || strncmp(p + 4, ".0", 2) == 0));
}

enum MHD_Result nd_web_answer(struct MHD_Connection *c, const char *url, const char *method)
{
        const struct nd_web_asset *a;
        const char *if_none_match;
        struct MHD_Response *res;
        bool index, packed;
        enum MHD_Result ret;

        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "the page takes GET\n");
        if (nd_web_n_assets == 0)
                return answer_text(c, MHD_HTTP_NOT_FOUND,
                                   "this build has no web page (built without npm, or -Dweb=disabled); the API is under /api/v1\n");
        index = strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0;
        a = index ? find_asset("index.html")
                  : strncmp(url, ASSETS_PREFIX, strlen(ASSETS_PREFIX)) == 0 ? find_asset(url + strlen(ASSETS_PREFIX))
                                                                            : NULL;
        if (!a || (!index && strcmp(a->name, "index.html") == 0))
                return answer_text(c, MHD_HTTP_NOT_FOUND, "no such asset\n");

        if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
        if (if_none_match && strcmp(if_none_match, a->etag) == 0) {
                res = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
                if (!res)
                        return MHD_NO;
                add_page_headers(res);
                MHD_add_response_header(res, MHD_HTTP_HEADER_ETAG, a->etag);
                MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, index ? CACHE_REVALIDATE : CACHE_IMMUTABLE);
                ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, res);
                MHD_destroy_response(res);
                return ret;
        }
        packed = accepts_gzip(c);
        res = MHD_create_response_from_buffer(packed ? a->gzip_length : a->length,
                                              (void *)(packed ? a->gzip : a->bytes), MHD_RESPMEM_PERSISTENT);
        if (!res)
                return MHD_NO;
        add_page_headers(res);
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
        MHD_add_response_header(res, MHD_HTTP_HEADER_ETAG, a->etag);
        MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, index ? CACHE_REVALIDATE : CACHE_IMMUTABLE);
        MHD_add_response_header(res, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
        if (packed)
                MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        ret = MHD_queue_response(c, MHD_HTTP_OK, res);
        MHD_destroy_response(res);
        return ret;
}

/* What a cookie value may hold (RFC 6265 cookie-octet, narrowed to what
 * tokens are made of). */
static bool cookie_safe(char ch)
{
        return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
               (ch != '\0' && strchr("-._~+/=", ch) != NULL);
}

static int hex_value(char ch)
{
        if (ch >= '0' && ch <= '9')
                return ch - '0';
        if (ch >= 'a' && ch <= 'f')
                return ch - 'a' + 10;
        if (ch >= 'A' && ch <= 'F')
                return ch - 'A' + 10;
        return -1;
}

int nd_web_login_token(const char *body, size_t size, char *ret, size_t ret_size)
{
        const char *p = body, *end = body + size;

        while (p < end) {
                const char *field_end = memchr(p, '&', (size_t)(end - p));
                size_t n = 0;

                if (!field_end)
                        field_end = end;
                if ((size_t)(field_end - p) < 6 || memcmp(p, "token=", 6) != 0) {
                        p = field_end + 1;
                        continue;
                }
                for (const char *q = p + 6; q < field_end; q++) {
                        char ch = *q;
                        if (ch == '+')
                                ch = ' ';
                        else if (ch == '%') {
                                int hi = q + 2 < field_end ? hex_value(q[1]) : -1,
                                    lo = q + 2 < field_end ? hex_value(q[2]) : -1;
                                if (hi < 0 || lo < 0)
                                        return -EINVAL;
                                ch = (char)(hi * 16 + lo);
                                q += 2;
                        }
                        /* Pasted with a trailing newline or spaces: not part of it. */
                        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t')
                                continue;
                        if (!cookie_safe(ch))
                                return -EINVAL;
                        if (n + 1 >= ret_size)
                                return -ENOBUFS;
                        ret[n++] = ch;
                }
                if (n == 0)
                        return -EINVAL;
                ret[n] = '\0';
                return 0;
        }
        return -EINVAL;
}

static enum MHD_Result login_answer(struct MHD_Connection *c, const char *token, bool refused, bool secure)
{
        char *cookie = NULL;
        enum MHD_Result ret;

        if (refused)
                return redirect(c, "/?login=refused", NULL);
        if (!token)
                return redirect(c, "/", NULL);
        if (asprintf(&cookie, ND_WEB_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/%s", token,
                     secure ? "; Secure" : "") < 0)
                return MHD_NO;
        ret = redirect(c, "/", cookie);
        explicit_bzero(cookie, strlen(cookie));
        free(cookie);
        return ret;
}

enum MHD_Result nd_web_login(struct MHD_Connection *c, nd_web_reads_fn reads, void *userdata, const char *body,
                             size_t size, bool secure)
{
        char token[ND_WEB_BEARER_MAX - 8], bearer[ND_WEB_BEARER_MAX];
        enum MHD_Result ret;
        bool ok;

        if (!reads)
                return login_answer(c, NULL, false, secure);
        if (!body || nd_web_login_token(body, size, token, sizeof(token)) < 0)
                return login_answer(c, NULL, true, secure);
        snprintf(bearer, sizeof(bearer), "Bearer %s", token);
        ok = reads(userdata, bearer);
        ret = login_answer(c, ok ? token : NULL, !ok, secure);
        explicit_bzero(token, sizeof(token));
        explicit_bzero(bearer, sizeof(bearer));
        return ret;
}

enum MHD_Result nd_web_login_state(struct MHD_Connection *c, const char *state)
{
        char body[64];
        struct MHD_Response *res;
        enum MHD_Result ret;
        int n = snprintf(body, sizeof(body), "{\"login\":\"%s\"}\n", state);

        res = MHD_create_response_from_buffer((size_t)n, body, MHD_RESPMEM_MUST_COPY);
        if (!res)
                return MHD_NO;
        add_page_headers(res);
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ret = MHD_queue_response(c, MHD_HTTP_OK, res);
        MHD_destroy_response(res);
        return ret;
}

enum MHD_Result nd_web_logout_answer(struct MHD_Connection *c, bool secure)
{
        return redirect(c, "/",
                        secure ? ND_WEB_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0; Secure"
                               : ND_WEB_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
}

int nd_web_cookie_bearer(struct MHD_Connection *c, char *ret, size_t ret_size)
{
        const char *v = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, ND_WEB_COOKIE);
        int n;

        if (!v || !*v)
                return -ENOENT;
        n = snprintf(ret, ret_size, "Bearer %s", v);
        if (n < 0 || (size_t)n >= ret_size)
                return -ENOENT;
        return 0;
}
