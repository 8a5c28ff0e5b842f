/* An agent's side of `netdep serve`: each flush posted as gzip'd JSON
 * (agent/flush_json.h) to URL/api/v1/flush, probe reports and peer lists
 * likewise, with a bearer token, over one
 * kept-alive connection (libcurl). */
#pragma once

#include <stddef.h>

#include "agent/flush.h"

/* The most edges one post carries: a larger flush goes as several, each
 * well under a server's default body limit. */
#define ND_SERVER_POST_MAX_EDGES 5000

struct nd_server_client;

/* url: http(s)://HOST:PORT (a path after it is ignored). token_file: a
 * file whose first line is the token (NULL: none), read again at each
 * reconnect so that a rotated token is picked up. ca_file: the CA (or
 * self-signed certificate) to trust instead of the system's (NULL:
 * system's). -EINVAL with why for a bad URL or an unreadable token. */
int nd_server_client_new(const char *url, const char *token_file, const char *ca_file,
                         struct nd_server_client **ret, char *why, size_t why_size);
struct nd_server_client *nd_server_client_free(struct nd_server_client *c);

/* Posts one flush. 0: stored. -EAGAIN: the server is busy or its store is
 * down; *retry_after_ms says when to try again, if it said (else 0).
 * -EBADMSG: the server refused this flush for good (bad or too large):
 * retrying cannot help. -EACCES: the token was refused (401/403): the
 * flush is fine, the set-up is not. Other negative: the server could not
 * be reached. why says what happened in one line. */
int nd_server_client_post(struct nd_server_client *c, const struct nd_flush *f, unsigned *retry_after_ms,
                          char *why, size_t why_size);

/* Any JSON the same way, gzip'd, to URL + api_path ("/api/v1/report");
 * the same returns. */
int nd_server_client_post_json(struct nd_server_client *c, const char *api_path, const char *json, size_t json_size,
                               unsigned *retry_after_ms, char *why, size_t why_size);

/* GET URL + api_path + "?" query (already encoded; NULL for none). etag
 * (etag_size bytes; NULL: none): in, the version held ("" none), sent as
 * If-None-Match; out, the answer's. 0 and the body in *ret (caller frees);
 * 1 when the server says the held version is current (304). -EACCES,
 * -EBADMSG, -EAGAIN, others: as for a post. */
int nd_server_client_get(struct nd_server_client *c, const char *api_path, const char *query, char *etag,
                         size_t etag_size, char **ret, size_t *ret_size, char *why, size_t why_size);
