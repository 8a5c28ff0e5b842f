/* netdep serve: the fleet's server. Agents post their flushes to it
 * (POST /api/v1/flush); readers ask it what `look`, `graph`, `impact`,
 * `diff`, `hosts` and `roles` answer (GET /api/v1/VERB?OPTION=VALUE).
 * Stateless in front of the store: several servers may share one
 * PostgreSQL with no coordination. See docs/serve.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "live/link_state.h"

#define ND_SERVE_DEFAULT_LISTEN "127.0.0.1:8470"

struct nd_serve_options {
        const char *store_uri;
        const char *listen; /* ADDR:PORT, [ADDR6]:PORT */
        bool reuse_port; /* SO_REUSEPORT: several servers on one port */
        const char *tls_cert, *tls_key; /* PEM files; both or neither */
        const char *tokens; /* token file; NULL: no auth, loopback only */
        size_t max_body; /* a post's body, as sent (gzip'd) */
        size_t max_connections;
        unsigned idle_timeout_s; /* a kept-alive connection with nothing to say */
        unsigned request_timeout_ms; /* a read's deadline */
        size_t pool; /* store connections */
        size_t max_queued; /* posts waiting for one */
        unsigned queue_timeout_ms; /* how long each may wait */
        size_t threads; /* request threads */
        size_t readers; /* reads answered at once */
        uint64_t retention_s; /* observations older are pruned hourly; 0: never */
        /* Connectivity (serve/connectivity.h). */
        const char *peers_file; /* static additions and exclusions; NULL: none */
        uint64_t peer_window_s; /* edges seen within it make a host's links */
        unsigned probe_kinds; /* ND_PEER_*: how discovered links are probed */
        struct nd_link_policy link_policy;
        /* Other servers that get every probe report this one takes
         * (serve/live_forward.h): comma-separated URLs; NULL: none. */
        const char *live_peers;
        const char *live_peer_token_file, *live_peer_ca_file; /* an admin token on the peers */
};

/* Runs until SIGTERM or SIGINT (SIGHUP reloads the token file). Returns
 * 0 after a clean stop, -errno when it could not start (logged). */
int nd_serve_run(const struct nd_serve_options *o);
