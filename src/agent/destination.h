/* Where an agent's flushes go: straight into a store, or to a netdep
 * server that writes them (agent/server_client.h). The writer, --once and
 * the spool see one interface. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/flush.h"

struct nd_destination_config {
        const char *store_uri; /* used when server_url is NULL */
        const char *server_url;
        const char *token_file; /* with server_url; NULL: no token */
        const char *ca_file; /* with an https server_url; NULL: the system's CAs */
};

struct nd_destination;

/* A store is opened and its schema checked; a server is only set up (the
 * first write connects). why: one line on failure. */
int nd_destination_open(const struct nd_destination_config *c, struct nd_destination **ret, char *why,
                        size_t why_size);
struct nd_destination *nd_destination_close(struct nd_destination *d);

/* What the log calls it: the store URI without passwords, or the URL. */
const char *nd_destination_name(const struct nd_destination *d);

/* The most edges one write should carry (a larger flush is split before
 * it is queued): 0 for no limit. */
size_t nd_destination_max_edges(const struct nd_destination_config *c);

/* Writes one flush. 0: taken. -EBADMSG: refused for good (retrying this
 * flush cannot help). Other negative: not taken, try again later, after
 * *retry_after_ms when the destination asked (else 0). why: one line. */
int nd_destination_write(struct nd_destination *d, const struct nd_flush *f, unsigned *retry_after_ms, char *why,
                         size_t why_size);

/* Drops what is older than before: a store does; a server keeps its own
 * retention, so there this does nothing. Edges dropped, or -errno. */
int nd_destination_prune(struct nd_destination *d, int64_t before, char *why, size_t why_size);
