#include "serve/http_answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/gzip.h"

enum MHD_Result nd_http_answer(struct MHD_Connection *c, unsigned status, const char *content_type, char *body,
                              size_t size, unsigned retry_after_s)
{
        struct MHD_Response *res = MHD_create_response_from_buffer(size, body, MHD_RESPMEM_MUST_FREE);
        enum MHD_Result ret;

        if (!res) {
                free(body);
                return MHD_NO;
        }
        MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (status == MHD_HTTP_UNAUTHORIZED)
                MHD_add_response_header(res, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"netdep\"");
        if (retry_after_s) {
                char v[16];
                snprintf(v, sizeof(v), "%u", retry_after_s);
                MHD_add_response_header(res, MHD_HTTP_HEADER_RETRY_AFTER, v);
        }
        ret = MHD_queue_response(c, status, res);
        MHD_destroy_response(res);
        return ret;
}

enum MHD_Result nd_http_text(struct MHD_Connection *c, unsigned status, unsigned retry_after_s, const char *fmt, ...)
{
        char *text = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&text, fmt, ap);
        va_end(ap);
        if (n < 0)
                return MHD_NO;
        /* One line, whatever the reason held. */
        text[strcspn(text, "\r\n")] = '\0';
        n = (int)strlen(text);
        text = realloc(text, (size_t)n + 2) ?: text;
        text[n] = '\n';
        text[n + 1] = '\0';
        return nd_http_answer(c, status, "text/plain; charset=utf-8", text, (size_t)n + 1, retry_after_s);
}

#define GZIP_WORTH 1024

bool nd_http_accepts_gzip(struct MHD_Connection *c)
{
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_ENCODING);

        return v && strcasestr(v, "gzip") && !strcasestr(v, "gzip;q=0");
}

int nd_http_gzip_for(struct MHD_Connection *c, const void *body, size_t size, uint8_t **ret, size_t *ret_size)
{
        if (size < GZIP_WORTH || !nd_http_accepts_gzip(c))
                return 0;
        return nd_gzip(body, size, ret, ret_size) < 0 ? 0 : 1;
}

enum MHD_Result nd_http_send(struct MHD_Connection *c, struct nd_answer *a)
{
        struct MHD_Response *res;
        enum MHD_Result ret;
        uint8_t *gz = NULL;
        size_t gz_size = 0;
        bool gzipped = a->body && nd_http_gzip_for(c, a->body, a->size, &gz, &gz_size) > 0;

        if (gzipped) {
                free(a->body);
                res = MHD_create_response_from_buffer(gz_size, gz, MHD_RESPMEM_MUST_FREE);
        } else
                res = MHD_create_response_from_buffer(a->size, a->body, MHD_RESPMEM_MUST_FREE);
        a->body = NULL;
        if (!res)
                return MHD_NO;
        if (gzipped)
                MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        MHD_add_response_header(res, MHD_HTTP_HEADER_VARY, MHD_HTTP_HEADER_ACCEPT_ENCODING);
        if (a->content_type)
                MHD_add_response_header(res, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
        MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        if (a->etag[0])
                MHD_add_response_header(res, MHD_HTTP_HEADER_ETAG, a->etag);
        if (a->retry_after_s) {
                char v[16];
                snprintf(v, sizeof(v), "%u", a->retry_after_s);
                MHD_add_response_header(res, MHD_HTTP_HEADER_RETRY_AFTER, v);
        }
        ret = MHD_queue_response(c, a->status, res);
        MHD_destroy_response(res);
        return ret;
}
