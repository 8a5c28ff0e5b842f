/* A flush as JSON: what `agent --server` posts and `serve` reads.
 *
 *   {"netdep_flush": 1, "hostname": "app1", "ts": 1765000000,
 *    "first_ts": 1764999990, "addrs": ["10.0.0.21"],
 *    "namespaces": [{"name": "vm1", "addrs": ["10.1.0.2"]}],
 *    "edges": [[CLIENT_ADDR, CLIENT_PROCESS, CLIENT_PGID,
 *               SERVER_ADDR, SERVER_PORT, SERVER_PROCESS, SERVER_PGID,
 *               SIDE, CONNECTIONS, OPENED, FAILED, RTT_US, RETRANS,
 *               BYTES_SENT, BYTES_RECEIVED, PROCESSES], ...]}
 *
 * An edge is an array in that order, not an object: a flush of 50 edges is
 * a third the size, and a server reads thousands a second. SIDE is
 * "client" or "server"; a pgid is -1 when unknown, a process "" when
 * unknown. Every other field is required and checked; nothing else is
 * allowed. */
#pragma once

#include <stddef.h>

#include "agent/flush.h"

#define ND_FLUSH_JSON_VERSION 1
#define ND_FLUSH_MAX_EDGES 100000
#define ND_FLUSH_MAX_ADDRS 4096 /* addresses in all, namespaces' included */
#define ND_FLUSH_MAX_NAMESPACES 1024

/* Caller owns *ret (NUL-terminated; *ret_size without the NUL). */
int nd_flush_to_json(const struct nd_flush *f, char **ret, size_t *ret_size);

/* Pure: bytes in, a flush out. -EBADMSG with a one-line reason in why
 * ("edges[3][4]: port 70000 out of range 1..65535"); -ENOMEM. Caller owns
 * *ret. */
int nd_flush_from_json(const char *buf, size_t size, struct nd_flush **ret, char *why, size_t why_size);
