#include "api/graph_view.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Names come once the nodes are known (name_nodes), not per edge. */
static int add_edge(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata)
{
        struct nd_endpoint_ref client = {
                e->client, NULL, 0, e->client_process, e->client_pgid, e->client_processes,
        };
        struct nd_endpoint_ref server = {
                e->server, NULL, e->port, e->server_process, e->server_pgid, 0,
        };
        struct nd_edge_counts counts = {
                .connections = e->connections, .opened = e->opened, .failed = e->failed,
                .first_seen = e->first_seen, .last_seen = e->last_seen,
        };

        return nd_endpoint_graph_add(userdata, &client, &server, &counts);
}

static int add_edges(struct nd_graph *g, const struct nd_graph_edges *edges, struct nd_endpoint_graph *out)
{
        int r = 0;

        for (size_t i = 0; i < edges->n && r >= 0; i++)
                r = add_edge(g, &edges->items[i], out);
        return r;
}

static bool in_set(const struct strmap *set, const char *key)
{
        size_t ignored;

        return strmap_get(set, key, &ignored);
}

/* The edges of one hop: those of the frontier's labels, each once, less
 * those an earlier hop added (their other end was a frontier then). */
static int hop_edges(struct nd_graph *g, const struct strmap *frontier, const struct strmap *met,
                     const struct strmap *own, const struct nd_time_range *range, struct nd_graph_edges *out)
{
        struct nd_graph_edges by_server = {}, by_client = {};
        struct strmap addrs;
        const char **keys = NULL;
        size_t n;
        int r = 0;

        strmap_init(&addrs);
        /* The first hop starts at the host's own addresses: with roles,
         * not every member of its role. */
        for (size_t i = 0; own && r >= 0 && own->slots && i <= own->mask; i++)
                if (own->slots[i].key)
                        r = strmap_put(&addrs, own->slots[i].key, 0, NULL);
        for (size_t i = 0; !own && r >= 0 && frontier->slots && i <= frontier->mask; i++)
                if (frontier->slots[i].key)
                        r = nd_graph_members(g, frontier->slots[i].key, &addrs);
        if (r >= 0 && !(keys = strmap_keys(&addrs, &n)))
                r = -ENOMEM;
        if (r >= 0)
                r = nd_graph_edges_compact(g, ND_MATCH_SERVER_ADDR, keys, n, range, &by_server);
        if (r >= 0)
                r = nd_graph_edges_compact(g, ND_MATCH_CLIENT_ADDR, keys, n, range, &by_client);
        for (size_t i = 0; r >= 0 && i < by_server.n; i++) {
                const struct nd_graph_edge *e = &by_server.items[i];
                if (in_set(frontier, e->server) && !in_set(met, e->client))
                        r = nd_graph_edges_push(out, e);
        }
        for (size_t i = 0; r >= 0 && i < by_client.n; i++) {
                const struct nd_graph_edge *e = &by_client.items[i];
                if (in_set(frontier, e->client) && !in_set(frontier, e->server) && !in_set(met, e->server))
                        r = nd_graph_edges_push(out, e);
        }
        free(keys);
        strmap_done(&addrs);
        nd_graph_edges_done(&by_server);
        nd_graph_edges_done(&by_client);
        return r;
}

/* Hop by hop out from the start, either way along edges: each hop's
 * labels not met before are the next frontier. */
static int neighbourhood(struct nd_graph *g, const struct nd_graph_view_options *o,
                         const struct nd_time_range *range, struct nd_endpoint_graph *out)
{
        struct strmap start, frontier, met, next;
        struct nd_graph_edges edges = {};
        char buf[ND_LABEL_MAX];
        int r;

        strmap_init(&start);
        strmap_init(&frontier);
        strmap_init(&met);
        r = o->role ? nd_graph_resolve_role(g, o->role, &start) : nd_graph_resolve_host(g, o->host, &start);
        for (size_t i = 0; r >= 0 && start.slots && i <= start.mask; i++)
                if (start.slots[i].key)
                        r = strmap_put(&frontier, nd_graph_label(g, start.slots[i].key, buf, sizeof(buf)), 0, NULL);
        for (int hop = 1; r >= 0 && hop <= o->depth && frontier.n; hop++) {
                edges.n = 0;
                r = hop_edges(g, &frontier, &met, hop == 1 && o->host ? &start : NULL, range, &edges);
                if (r >= 0)
                        r = add_edges(g, &edges, out);
                for (size_t i = 0; r >= 0 && frontier.slots && i <= frontier.mask; i++)
                        if (frontier.slots[i].key)
                                r = strmap_put(&met, frontier.slots[i].key, 0, NULL);
                strmap_init(&next);
                for (size_t i = 0; r >= 0 && i < edges.n; i++) {
                        const char *ends[2] = { edges.items[i].client, edges.items[i].server };
                        for (int k = 0; k < 2 && r >= 0; k++)
                                if (!in_set(&met, ends[k]))
                                        r = strmap_put(&next, ends[k], 0, NULL);
                }
                strmap_done(&frontier);
                frontier = next;
        }
        nd_graph_edges_done(&edges);
        strmap_done(&start);
        strmap_done(&frontier);
        strmap_done(&met);
        return r < 0 ? r : 0;
}

/* Names for the nodes: their hostnames, read for them alone, then (when
 * asked) reverse DNS for those still without one, in one batch. */
static int name_nodes(struct nd_graph *g, struct nd_endpoint_graph *out, unsigned resolve_ms)
{
        const char **labels = calloc(out->n_nodes ? out->n_nodes : 1, sizeof(*labels));
        int r;

        if (!labels)
                return -ENOMEM;
        for (size_t i = 0; i < out->n_nodes; i++)
                labels[i] = out->nodes[i].label;
        r = nd_graph_prefetch_names(g, labels, out->n_nodes);
        if (r >= 0 && resolve_ms)
                r = nd_graph_resolve_names(g, labels, out->n_nodes, resolve_ms);
        free(labels);
        for (size_t i = 0; r >= 0 && i < out->n_nodes; i++) {
                const char *name = out->nodes[i].name ? NULL : nd_graph_name(g, out->nodes[i].label);
                if (name && !(out->nodes[i].name = strdup(name)))
                        r = -ENOMEM;
        }
        return r;
}

int nd_graph_view(struct nd_graph *g, const struct nd_graph_view_options *o, struct nd_endpoint_graph *out)
{
        struct nd_time_range range = nd_time_range_active(o->range, o->now, o->active_s);
        int r;

        if (o->host || o->role)
                r = neighbourhood(g, o, &range, out);
        else
                r = nd_graph_each_store_edge(g, &range, add_edge, out);
        if (r >= 0 && out->n_links == 0)
                r = -ENODATA;
        if (r >= 0)
                r = name_nodes(g, out, o->resolve_ms);
        return r;
}
