/* nginx's stub_status page: fetched over HTTP, parsed, and turned into a
 * request rate between two readings.
 *
 *   Active connections: 291
 *   server accepts handled requests
 *    16630948 16630948 31070465
 *   Reading: 6 Writing: 179 Waiting: 106
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct nd_nginx_status {
        int64_t active;
        uint64_t accepts, handled, requests;
        /* -1 when the page has no such line. */
        int64_t reading, writing, waiting;
};

/* Pure: the page's text (not necessarily NUL-terminated) in, its numbers
 * out. -EBADMSG when the active count or the counters line is missing. */
int nd_nginx_status_parse(const char *text, size_t len, struct nd_nginx_status *ret);

/* Requests per second from two readings ms_between apart. -ERANGE when the
 * counter went back (nginx restarted or reloaded its counters) or no time
 * passed: no rate for that round, never a negative one. */
int nd_nginx_request_rate(const struct nd_nginx_status *before, const struct nd_nginx_status *after,
                          uint64_t ms_between, double *ret);

/* Fetches and parses url, waiting at most 2 s. -EHOSTUNREACH for a
 * transfer that failed, -EPROTO for an answer other than 200, -EBADMSG for
 * a page that is not stub_status. why, when given, says which in a few
 * words. */
int nd_nginx_status_fetch(const char *url, struct nd_nginx_status *ret, char *why, size_t why_size);
