/* Answers as serve sends them: every one with its content type, no
 * caching, no sniffing; a text answer is one line. */
#pragma once

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "serve/connectivity.h" /* struct nd_answer */

/* Takes body (malloc'd, may be NULL when size is 0). */
enum MHD_Result nd_http_answer(struct MHD_Connection *c, unsigned status, const char *content_type, char *body,
                               size_t size, unsigned retry_after_s);
/* One line of text: the reason, or "ok". */
enum MHD_Result nd_http_text(struct MHD_Connection *c, unsigned status, unsigned retry_after_s, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Whether the client takes gzip (Accept-Encoding). */
bool nd_http_accepts_gzip(struct MHD_Connection *c);

/* body (size bytes), gzip'd for a client that takes it and worth it (1 KiB
 * or more): a new buffer in *ret (caller frees) and 1; 0 to send as is. */
int nd_http_gzip_for(struct MHD_Connection *c, const void *body, size_t size, uint8_t **ret, size_t *ret_size);

/* Sends a filled answer, with its ETag, gzip'd where the client takes it;
 * takes its body. */
enum MHD_Result nd_http_send(struct MHD_Connection *c, struct nd_answer *a);
