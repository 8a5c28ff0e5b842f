#include "serve/http_answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

enum MHD_Result nd_http_send(struct MHD_Connection *c, struct nd_answer *a)
{
        struct MHD_Response *res = MHD_create_response_from_buffer(a->size, a->body, MHD_RESPMEM_MUST_FREE);
        enum MHD_Result ret;

        a->body = NULL;
        if (!res)
                return MHD_NO;
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
