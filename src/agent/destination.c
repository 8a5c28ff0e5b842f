#include "agent/destination.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/server_client.h"

struct nd_destination {
        struct nd_store *store; /* one of these two */
        struct nd_server_client *server;
        char *name;
};

int nd_destination_open(const struct nd_destination_config *c, struct nd_destination **ret, char *why,
                        size_t why_size)
{
        struct nd_destination *d = calloc(1, sizeof(*d));
        int r;

        if (!d)
                return -ENOMEM;
        if (c->server_url) {
                d->name = strdup(c->server_url);
                r = d->name ? nd_server_client_new(c->server_url, c->token_file, c->ca_file, &d->server, why,
                                                   why_size)
                            : -ENOMEM;
        } else {
                d->name = nd_store_redact_uri(c->store_uri);
                r = d->name ? nd_store_open(c->store_uri, 0, &d->store, why, why_size) : -ENOMEM;
                if (r >= 0) {
                        r = nd_store_check_schema(d->store);
                        if (r < 0)
                                snprintf(why, why_size, "%s", nd_store_last_error(d->store));
                }
        }
        if (r < 0) {
                if (r == -ENOMEM)
                        snprintf(why, why_size, "out of memory");
                nd_destination_close(d);
                return r;
        }
        *ret = d;
        return 0;
}

struct nd_destination *nd_destination_close(struct nd_destination *d)
{
        if (!d)
                return NULL;
        nd_store_close(d->store);
        nd_server_client_free(d->server);
        free(d->name);
        free(d);
        return NULL;
}

const char *nd_destination_name(const struct nd_destination *d)
{
        return d->name;
}

size_t nd_destination_max_edges(const struct nd_destination_config *c)
{
        return c->server_url ? ND_SERVER_POST_MAX_EDGES : 0;
}

int nd_destination_write(struct nd_destination *d, const struct nd_flush *f, unsigned *retry_after_ms, char *why,
                         size_t why_size)
{
        int r;

        *retry_after_ms = 0;
        if (d->server) {
                r = nd_server_client_post(d->server, f, retry_after_ms, why, why_size);
                return r == -EBADMSG ? r : r < 0 ? (r == -EACCES ? -EACCES : -EAGAIN) : 0;
        }
        r = nd_flush_write(d->store, f);
        if (r < 0)
                snprintf(why, why_size, "%s", nd_store_last_error(d->store));
        return r == -EBADMSG ? -EIO : r; /* a store never refuses a flush for good */
}

int nd_destination_prune(struct nd_destination *d, int64_t before, char *why, size_t why_size)
{
        int r;

        if (!d->store)
                return 0;
        r = nd_store_prune(d->store, before);
        if (r < 0)
                snprintf(why, why_size, "%s", nd_store_last_error(d->store));
        return r;
}
