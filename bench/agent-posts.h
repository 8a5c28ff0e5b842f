/* Simulated agents for serve-bench: each posts gzip'd flush JSON to
 * POST /api/v1/flush with its own bearer token, as `netdep agent --server`
 * does (src/agent/server_client.c: the same headers, keep-alive, TLS
 * checked against a CA file), from one libcurl multi handle in the
 * calling thread.
 *
 * The bodies are made beforehand, so that what is timed is the posting:
 * a bench that gzips at thousands of flushes a second measures zlib. */
#pragma once

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/flush.h"

struct curl_slist;

struct flush_body {
        uint8_t *gz;
        size_t size;
};

/* f as an agent posts it: JSON, gzip'd. */
int flush_body_make(const struct nd_flush *f, struct flush_body *ret);
void flush_body_done(struct flush_body *b);

struct posting_agent {
        const char *url; /* https://HOST:PORT/api/v1/flush, borrowed */
        struct curl_slist *headers; /* with its Authorization */
        const struct flush_body *bodies; /* posted in turn, borrowed */
        size_t n_bodies, posted;
};

/* url and bodies stay the caller's and must outlive the agent. */
int posting_agent_init(struct posting_agent *a, const char *url, const char *token, const struct flush_body *bodies,
                       size_t n_bodies);
void posting_agent_done(struct posting_agent *a);

struct post_counts {
        uint64_t stored; /* 2xx */
        uint64_t refused; /* answered, not 2xx */
        uint64_t failed; /* no answer: connect, TLS, timeout */
        char first_problem[256]; /* the first refusal or failure, to say why */
};

/* Each agent posts its next body the moment its previous post is answered,
 * over a kept-alive connection, until the monotonic time `until`; posts
 * under way then are waited for (at most 30 s more). *ret_end: when the
 * last was answered. -EINTR once *interrupted is set. */
int agents_post_until(struct posting_agent *agents, size_t n, const char *ca_file, double until,
                      const volatile sig_atomic_t *interrupted, struct post_counts *ret, double *ret_end);

/* Agents that posted once and keep their connections open. */
struct agent_crowd;

/* Each agent opens a connection of its own (never one another agent
 * opened) and posts its first body on it, at most max_in_flight at once;
 * the connections are then kept, idle, until agent_crowd_free(). Gives up
 * on the agents not yet started at the monotonic time `deadline`. Counts
 * into *ret (every agent: stored, refused or failed; those never started
 * count as failed). */
int agent_crowd_connect(struct posting_agent *agents, size_t n, const char *ca_file, unsigned max_in_flight,
                        double deadline, const volatile sig_atomic_t *interrupted, struct agent_crowd **ret,
                        struct post_counts *ret_counts);
/* Closes every connection. */
struct agent_crowd *agent_crowd_free(struct agent_crowd *c);

/* GET url with the CA; 0 and the HTTP status, or -errno when no answer
 * came within timeout_ms. */
int http_get_status(const char *url, const char *ca_file, unsigned timeout_ms, long *ret_status);
