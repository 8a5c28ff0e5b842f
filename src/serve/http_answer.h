/* Answers as serve sends them: every one with its content type, no
 * caching, no sniffing; a text answer is one line. */
#pragma once

#include <microhttpd.h>

#include "serve/connectivity.h" /* struct nd_answer */

/* Takes body (malloc'd, may be NULL when size is 0). */
enum MHD_Result nd_http_answer(struct MHD_Connection *c, unsigned status, const char *content_type, char *body,
                               size_t size, unsigned retry_after_s);
/* One line of text: the reason, or "ok". */
enum MHD_Result nd_http_text(struct MHD_Connection *c, unsigned status, unsigned retry_after_s, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Sends a filled answer, with its ETag; takes its body. */
enum MHD_Result nd_http_send(struct MHD_Connection *c, struct nd_answer *a);
