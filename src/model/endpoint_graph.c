#include "model/endpoint_graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/sort.h"

void nd_endpoint_graph_init(struct nd_endpoint_graph *g, enum nd_graph_grouping grouping)
{
        *g = (struct nd_endpoint_graph){ .grouping = grouping };
        strmap_init(&g->node_index);
}

void nd_endpoint_graph_done(struct nd_endpoint_graph *g)
{
        for (size_t i = 0; i < g->n_nodes; i++)
                free(g->nodes[i].name);
        free(g->nodes);
        free(g->links);
        free(g->link_slots);
        strmap_done(&g->node_index);
        *g = (struct nd_endpoint_graph){};
}

static enum nd_node_kind kind_of(const struct nd_endpoint_graph *g, bool server)
{
        if (g->grouping == ND_GROUP_BY_HOST)
                return ND_NODE_HOST;
        return server ? ND_NODE_SERVER : ND_NODE_CLIENT;
}

static void key_of(enum nd_node_kind kind, const struct nd_endpoint_ref *e, char *buf, size_t size)
{
        switch (kind) {
        case ND_NODE_SERVER:
                snprintf(buf, size, "s|%s|%u", e->label, e->port);
                break;
        case ND_NODE_CLIENT:
                snprintf(buf, size, "c|%s|%s", e->label, e->process);
                break;
        case ND_NODE_HOST:
                snprintf(buf, size, "h|%s", e->label);
                break;
        }
}

/* A client node's count and pgid, from what its edges said. */
static void settle(struct nd_endpoint_node *n)
{
        n->processes = nd_process_set_count(&n->pgids);
        n->at_least = nd_process_set_at_least(&n->pgids);
        n->pgid = nd_process_set_pgid(&n->pgids);
}

/* What another edge says of a node already met: a server's process comes
 * from whichever report knows it; a client's processes add up by pgid. */
static void merge_node(struct nd_endpoint_node *n, const struct nd_endpoint_ref *e)
{
        if (n->kind == ND_NODE_HOST)
                return;
        if (n->kind == ND_NODE_SERVER) {
                if (!n->process[0] && e->process[0]) {
                        snprintf(n->process, sizeof(n->process), "%s", e->process);
                        n->pgids = (struct nd_process_set){};
                } else if (strcmp(n->process, e->process) != 0)
                        return;
                /* Several pgids: hosts folded into a role serve it. */
                nd_process_set_add(&n->pgids, e->pgid, 0);
                n->pgid = nd_process_set_pgid(&n->pgids);
                return;
        }
        nd_process_set_add(&n->pgids, e->pgid, e->processes);
        settle(n);
}

static int node_of(struct nd_endpoint_graph *g, const struct nd_endpoint_ref *e, bool server, uint32_t *ret)
{
        enum nd_node_kind kind = kind_of(g, server);
        char key[ND_ENDPOINT_LABEL_MAX + ND_PROCESS_NAME_MAX + 16];
        struct nd_endpoint_node *n;
        size_t i;
        int r;

        key_of(kind, e, key, sizeof(key));
        if (strmap_get(&g->node_index, key, &i)) {
                merge_node(&g->nodes[i], e);
                *ret = (uint32_t)i;
                return 0;
        }
        if (g->n_nodes == g->allocated_nodes) {
                size_t want = g->allocated_nodes ? 2 * g->allocated_nodes : 64;
                struct nd_endpoint_node *p = reallocarray(g->nodes, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                g->nodes = p;
                g->allocated_nodes = want;
        }
        n = &g->nodes[g->n_nodes];
        *n = (struct nd_endpoint_node){ .kind = kind, .pgid = -1 };
        snprintf(n->label, sizeof(n->label), "%s", e->label);
        if (e->name && !(n->name = strdup(e->name)))
                return -ENOMEM;
        if (kind != ND_NODE_HOST) {
                n->port = server ? e->port : 0;
                snprintf(n->process, sizeof(n->process), "%s", e->process);
                n->pgid = e->pgid;
                nd_process_set_add(&n->pgids, e->pgid, server ? 0 : e->processes);
                if (!server)
                        settle(n);
        }
        r = strmap_put(&g->node_index, key, g->n_nodes, NULL);
        if (r < 0) {
                free(n->name);
                return r;
        }
        *ret = (uint32_t)g->n_nodes++;
        return 0;
}

static uint64_t mix(uint64_t x)
{
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdULL;
        x ^= x >> 33;
        return x;
}

/* The slot of (client, server), or the empty one where it goes. */
static size_t link_slot(const struct nd_endpoint_graph *g, uint32_t client, uint32_t server)
{
        size_t i = mix((uint64_t)client << 32 | server) & g->link_mask;

        for (;; i = (i + 1) & g->link_mask) {
                uint32_t at = g->link_slots[i];
                if (!at || (g->links[at - 1].client == client && g->links[at - 1].server == server))
                        return i;
        }
}

static int grow_link_index(struct nd_endpoint_graph *g)
{
        size_t size = g->link_slots ? 2 * (g->link_mask + 1) : 256;
        uint32_t *slots = calloc(size, sizeof(*slots));

        if (!slots)
                return -ENOMEM;
        free(g->link_slots);
        g->link_slots = slots;
        g->link_mask = size - 1;
        for (size_t k = 0; k < g->n_links; k++)
                slots[link_slot(g, g->links[k].client, g->links[k].server)] = (uint32_t)k + 1;
        return 0;
}

static void add_port(struct nd_endpoint_link *l, uint16_t port)
{
        for (uint8_t i = 0; i < l->n_ports; i++)
                if (l->ports[i] == port)
                        return;
        if (l->n_ports < ND_ENDPOINT_PORTS_MAX)
                l->ports[l->n_ports++] = port;
        else
                l->more_ports = true;
}

void nd_endpoint_graph_stream(struct nd_endpoint_graph *g, nd_endpoint_link_fn sink, void *userdata)
{
        g->sink = sink;
        g->sink_userdata = userdata;
}

int nd_endpoint_graph_add(struct nd_endpoint_graph *g, const struct nd_endpoint_ref *client,
                          const struct nd_endpoint_ref *server, const struct nd_edge_counts *counts)
{
        struct nd_endpoint_link *l;
        uint32_t from, to;
        size_t i;
        int r;

        r = node_of(g, client, false, &from);
        if (r >= 0)
                r = node_of(g, server, true, &to);
        if (r >= 0 && g->sink) {
                struct nd_endpoint_link link = { .client = from, .server = to, .counts = *counts };

                add_port(&link, server->port);
                g->n_links++; /* counted, not kept */
                return g->sink(g, &link, g->sink_userdata);
        }
        /* Keep the index at most half full. */
        if (r >= 0 && (!g->link_slots || 2 * (g->n_links + 1) > g->link_mask + 1))
                r = grow_link_index(g);
        if (r < 0)
                return r;
        i = link_slot(g, from, to);
        if (g->link_slots[i]) {
                l = &g->links[g->link_slots[i] - 1];
                l->counts.connections += counts->connections;
                l->counts.opened += counts->opened;
                l->counts.failed += counts->failed;
                if (counts->first_seen < l->counts.first_seen)
                        l->counts.first_seen = counts->first_seen;
                if (counts->last_seen > l->counts.last_seen)
                        l->counts.last_seen = counts->last_seen;
                add_port(l, server->port);
                return 0;
        }
        if (g->n_links == g->allocated_links) {
                size_t want = g->allocated_links ? 2 * g->allocated_links : 64;
                struct nd_endpoint_link *p = reallocarray(g->links, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                g->links = p;
                g->allocated_links = want;
        }
        l = &g->links[g->n_links];
        *l = (struct nd_endpoint_link){ .client = from, .server = to, .counts = *counts };
        add_port(l, server->port);
        g->link_slots[i] = (uint32_t)++g->n_links;
        return 0;
}

/* Node indexes by label, kind, port, process. */
static int compare_nodes(const void *a, const void *b, void *userdata)
{
        const struct nd_endpoint_graph *g = userdata;
        const struct nd_endpoint_node *x = &g->nodes[*(const uint32_t *)a], *y = &g->nodes[*(const uint32_t *)b];
        int r;

        if ((r = strcmp(x->label, y->label)))
                return r;
        if (x->kind != y->kind)
                return x->kind < y->kind ? -1 : 1;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        return strcmp(x->process, y->process);
}

static int compare_links(const void *a, const void *b)
{
        const struct nd_endpoint_link *x = a, *y = b;

        if (x->client != y->client)
                return x->client < y->client ? -1 : 1;
        return x->server < y->server ? -1 : x->server > y->server;
}

int nd_endpoint_graph_sort(struct nd_endpoint_graph *g)
{
        size_t n = g->n_nodes ? g->n_nodes : 1;
        uint32_t *order, *new_index;
        struct nd_endpoint_node *sorted;
        int r;

        if (g->sink)
                return -EINVAL; /* its links were handed on, not kept */
        order = malloc(n * sizeof(*order));
        new_index = malloc(n * sizeof(*new_index));
        sorted = malloc(n * sizeof(*sorted));
        if (!order || !new_index || !sorted) {
                free(order);
                free(new_index);
                free(sorted);
                return -ENOMEM;
        }
        for (size_t i = 0; i < g->n_nodes; i++)
                order[i] = (uint32_t)i;
        if (g->n_nodes > 1)
                qsort_r(order, g->n_nodes, sizeof(*order), compare_nodes, g);
        for (size_t i = 0; i < g->n_nodes; i++) {
                sorted[i] = g->nodes[order[i]];
                new_index[order[i]] = (uint32_t)i;
        }
        memcpy(g->nodes, sorted, g->n_nodes * sizeof(*sorted));
        for (size_t i = 0; i < g->n_links; i++) {
                g->links[i].client = new_index[g->links[i].client];
                g->links[i].server = new_index[g->links[i].server];
        }
        qsort_safe(g->links, g->n_links, sizeof(*g->links), compare_links);
        free(order);
        free(new_index);
        free(sorted);
        /* The indexes are stale now: rebuild them. */
        strmap_done(&g->node_index);
        strmap_init(&g->node_index);
        for (size_t i = 0; i < g->n_nodes; i++) {
                char key[ND_ENDPOINT_LABEL_MAX + ND_PROCESS_NAME_MAX + 16];
                struct nd_endpoint_ref e = {
                        .label = g->nodes[i].label, .port = g->nodes[i].port, .process = g->nodes[i].process,
                };
                key_of(g->nodes[i].kind, &e, key, sizeof(key));
                r = strmap_put(&g->node_index, key, i, NULL);
                if (r < 0)
                        return r;
        }
        return grow_link_index(g) < 0 ? -ENOMEM : 0;
}
