/* The ids a PostgreSQL connection has written or read: endpoints by their
 * key (with the name and pgid the server holds), edges by their
 * endpoints' ids. An ingest whose endpoints and edges are all known sends
 * neither an endpoint statement nor an upsert that must find each edge by
 * its key. Ids never change; a known id can only go stale when a prune
 * deletes its row, which postgres-ingest.c detects and recovers from: an
 * edge's by the update that finds no row, an endpoint's by the count of
 * prunes that deleted endpoints (netdep_prunes), read with the ids.
 *
 * Bounded, so that an agent's memory stays small: past the bound the
 * connection starts again from nothing and learns again what it uses. */
#include <errno.h>
#include <stdlib.h>

#include "store/postgres-internal.h"

#define KNOWN_ENDPOINTS_MAX 32768 /* some 3 MiB at the most */
#define KNOWN_EDGES_MAX 65536 /* 128k slots of 24 bytes (3 MiB) at the most */

const struct pg_known_endpoint *pg_known_endpoint(const struct pg_store *s, const char *key)
{
        size_t i;

        return strmap_get(&s->endpoint_index, key, &i) ? &s->known_endpoints[i] : NULL;
}

static void forget_endpoints(struct pg_store *s)
{
        strmap_done(&s->endpoint_index);
        free(s->known_endpoints);
        s->known_endpoints = NULL;
        s->n_known_endpoints = s->allocated_known_endpoints = 0;
}

int pg_remember_endpoint(struct pg_store *s, const char *key, const struct pg_known_endpoint *e)
{
        size_t i;
        int r;

        if (strmap_get(&s->endpoint_index, key, &i)) {
                s->known_endpoints[i] = *e;
                return 0;
        }
        if (s->n_known_endpoints == KNOWN_ENDPOINTS_MAX)
                forget_endpoints(s);
        if (s->n_known_endpoints == s->allocated_known_endpoints) {
                size_t n = s->allocated_known_endpoints ? 2 * s->allocated_known_endpoints : 256;
                struct pg_known_endpoint *p = reallocarray(s->known_endpoints, n, sizeof(*p));

                if (!p)
                        return -ENOMEM;
                s->known_endpoints = p;
                s->allocated_known_endpoints = n;
        }
        r = strmap_put(&s->endpoint_index, key, s->n_known_endpoints, NULL);
        if (r < 0)
                return r;
        s->known_endpoints[s->n_known_endpoints++] = *e;
        return 0;
}

static size_t edge_hash(int64_t client_id, int64_t server_id)
{
        uint64_t h = (uint64_t)client_id * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)server_id;

        h ^= h >> 29;
        h *= UINT64_C(0xbf58476d1ce4e5b9);
        return (size_t)(h ^ (h >> 32));
}

/* The slot of the edge, or the empty slot where it would go. */
static struct pg_known_edge *edge_slot(const struct pg_store *s, int64_t client_id, int64_t server_id)
{
        size_t i = edge_hash(client_id, server_id) & s->known_edges_mask;

        while (s->known_edges[i].id != 0 &&
               (s->known_edges[i].client_id != client_id || s->known_edges[i].server_id != server_id))
                i = (i + 1) & s->known_edges_mask;
        return &s->known_edges[i];
}

int64_t pg_known_edge(const struct pg_store *s, int64_t client_id, int64_t server_id)
{
        return s->known_edges ? edge_slot(s, client_id, server_id)->id : 0;
}

static void forget_edges(struct pg_store *s)
{
        free(s->known_edges);
        s->known_edges = NULL;
        s->known_edges_mask = s->n_known_edges = 0;
}

static int grow_edges(struct pg_store *s)
{
        size_t capacity = s->known_edges ? 2 * (s->known_edges_mask + 1) : 1024;
        struct pg_known_edge *old = s->known_edges;
        size_t old_capacity = old ? s->known_edges_mask + 1 : 0;

        s->known_edges = calloc(capacity, sizeof(*s->known_edges));
        if (!s->known_edges) {
                s->known_edges = old;
                return -ENOMEM;
        }
        s->known_edges_mask = capacity - 1;
        for (size_t i = 0; i < old_capacity; i++)
                if (old[i].id != 0)
                        *edge_slot(s, old[i].client_id, old[i].server_id) = old[i];
        free(old);
        return 0;
}

int pg_remember_edge(struct pg_store *s, int64_t client_id, int64_t server_id, int64_t id)
{
        struct pg_known_edge *slot;

        if (id <= 0)
                return -EINVAL;
        if (s->n_known_edges == KNOWN_EDGES_MAX)
                forget_edges(s);
        /* Load at most 1/2: probes stay short. */
        if (!s->known_edges || 2 * (s->n_known_edges + 1) > s->known_edges_mask + 1) {
                int r = grow_edges(s);
                if (r < 0)
                        return r;
        }
        slot = edge_slot(s, client_id, server_id);
        if (slot->id == 0)
                s->n_known_edges++;
        *slot = (struct pg_known_edge){ .client_id = client_id, .server_id = server_id, .id = id };
        return 0;
}

void pg_forget_known(struct pg_store *s)
{
        forget_endpoints(s);
        forget_edges(s);
        s->known_prunes = -1;
}
