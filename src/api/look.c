#include "api/look.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/sort.h"

/* Edges fetched so far for one direction, and which of them belong to
 * which label: the label of their server (in) or client (out) side. */
struct edge_cache {
        enum nd_edge_match match;
        struct nd_labeled_edges edges;
        uint32_t *order; /* indexes into edges, sorted by match label */
        struct strmap fetched; /* labels asked for already */
};

struct look_state {
        struct nd_graph *g;
        const struct nd_look_options *o;
        struct strmap start; /* the addresses of the host or role */
        struct edge_cache in, out;
        struct strmap expanded; /* labels expanded in the current direction */
        size_t n_nodes;
        bool truncated;
};

static const char *match_label(const struct edge_cache *c, const struct nd_labeled_edge *e)
{
        return c->match == ND_MATCH_SERVER_ADDR ? e->server : e->client;
}

static int compare_order(const void *a, const void *b, void *userdata)
{
        const struct edge_cache *c = userdata;
        const struct nd_labeled_edge *x = &c->edges.items[*(const uint32_t *)a];
        const struct nd_labeled_edge *y = &c->edges.items[*(const uint32_t *)b];

        return strcmp(match_label(c, x), match_label(c, y));
}

/* Orders the cache by the label it is matched on, so that a node finds its
 * edges by binary search, not by a scan of everything fetched. Sorts
 * indexes, not the (large) edges. */
static int sort_cache(struct edge_cache *c)
{
        uint32_t *order = reallocarray(c->order, c->edges.n ? c->edges.n : 1, sizeof(*order));

        if (!order)
                return -ENOMEM;
        c->order = order;
        for (size_t i = 0; i < c->edges.n; i++)
                order[i] = (uint32_t)i;
        if (c->edges.n > 1)
                qsort_r(order, c->edges.n, sizeof(*order), compare_order, c);
        return 0;
}

static const struct nd_labeled_edge *ordered(const struct edge_cache *c, size_t i)
{
        return &c->edges.items[c->order[i]];
}

/* The first position in c->order whose edge has match label label. */
static size_t first_edge_of(const struct edge_cache *c, const char *label)
{
        size_t lo = 0, hi = c->edges.n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (strcmp(match_label(c, ordered(c, mid)), label) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Adds or merges a child: the same label, port and process fold together.
 * index maps those keys to the parent's children (a node may have 10k). */
static int add_child(struct look_state *st, struct nd_look_node *parent, size_t *allocated,
                     struct strmap *index, const struct nd_look_node *child)
{
        char key[ND_LABEL_MAX + ND_PROCESS_NAME_MAX + 16];
        size_t i;
        int r;

        snprintf(key, sizeof(key), "%s|%u|%u|%s", child->label, child->port, child->to_port, child->process);
        if (strmap_get(index, key, &i)) {
                struct nd_look_node *c = &parent->children[i];
                c->connections += child->connections;
                if (c->pgid != child->pgid)
                        c->pgid = -1;
                return 0;
        }
        if (st->n_nodes >= ND_LOOK_MAX_NODES) {
                st->truncated = true;
                return 0;
        }
        if (parent->n_children == *allocated) {
                size_t want = *allocated ? *allocated * 2 : 4;
                struct nd_look_node *c = reallocarray(parent->children, want, sizeof(*c));
                if (!c)
                        return -ENOMEM;
                parent->children = c;
                *allocated = want;
        }
        r = strmap_put(index, key, parent->n_children, NULL);
        if (r < 0)
                return r;
        parent->children[parent->n_children++] = *child;
        st->n_nodes++;
        return 0;
}

/* Every address whose label is one of labels (one, in host mode). */
static int members(struct look_state *st, const char *label, const char ***addrs, size_t *n, size_t *allocated)
{
        struct strmap set;
        int r;

        strmap_init(&set);
        if (!st->g->by_role)
                r = strmap_put(&set, label, 0, NULL);
        else {
                r = nd_graph_resolve_role(st->g, label, &set);
                if (r == -EINVAL || r == -ENOENT) /* not a role: a plain address */
                        r = strmap_put(&set, label, 0, NULL);
        }
        for (size_t i = 0; r >= 0 && set.slots && i <= set.mask; i++) {
                if (!set.slots[i].key)
                        continue;
                if (*n == *allocated) {
                        size_t want = *allocated ? *allocated * 2 : 16;
                        const char **p = reallocarray(*addrs, want, sizeof(*p));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        *addrs = p;
                        *allocated = want;
                }
                (*addrs)[(*n)++] = set.slots[i].key;
                set.slots[i].key = NULL; /* ownership moves to addrs */
        }
        strmap_done(&set);
        return r < 0 ? r : 0;
}

/* One store query for every label of the level not yet fetched. */
static int fetch_level(struct look_state *st, struct edge_cache *c, struct nd_look_node **level, size_t n_level)
{
        const char **addrs = NULL;
        size_t n = 0, allocated = 0;
        int r = 0;

        for (size_t i = 0; i < n_level && r >= 0; i++) {
                if (level[i]->cycle || level[i]->seen)
                        continue;
                r = strmap_put(&c->fetched, level[i]->label, 0, NULL);
                if (r > 0)
                        r = members(st, level[i]->label, &addrs, &n, &allocated);
        }
        if (r >= 0)
                r = nd_graph_edges(st->g, c->match, addrs, n, &st->o->range, &c->edges);
        if (r >= 0)
                r = sort_cache(c);
        for (size_t i = 0; i < n; i++)
                free((char *)addrs[i]);
        free(addrs);
        return r;
}

static bool on_path(struct nd_look_node **path, size_t depth, const char *label)
{
        for (size_t i = 0; i < depth; i++)
                if (strcmp(path[i]->label, label) == 0)
                        return true;
        return false;
}

static void node_from_edge(const struct nd_labeled_edge *e, enum nd_look_direction d, struct nd_look_node *n)
{
        memset(n, 0, sizeof(*n));
        n->direction = d;
        n->connections = e->connections;
        if (d == ND_LOOK_IN) { /* the child is the client */
                memcpy(n->label, e->client, sizeof(n->label));
                memcpy(n->process, e->client_process, sizeof(n->process));
                n->pgid = e->client_pgid;
                n->to_port = e->port;
        } else {
                memcpy(n->label, e->server, sizeof(n->label));
                memcpy(n->process, e->server_process, sizeof(n->process));
                n->pgid = e->server_pgid;
                n->port = e->port;
        }
}

/* Children of a node at level >= 1: every edge of its label. Roots get
 * theirs in make_roots, restricted to their own endpoint. */
static int expand(struct look_state *st, struct edge_cache *c, enum nd_look_direction d,
                  struct nd_look_node *node, struct nd_look_node **path, size_t depth)
{
        size_t allocated = 0;
        struct strmap index;
        int r = 0;

        strmap_init(&index);
        for (size_t i = first_edge_of(c, node->label); i < c->edges.n && r >= 0; i++) {
                const struct nd_labeled_edge *e = ordered(c, i);
                struct nd_look_node child;

                if (strcmp(match_label(c, e), node->label) != 0)
                        break;
                node_from_edge(e, d, &child);
                child.cycle = on_path(path, depth, child.label) || strcmp(child.label, node->label) == 0;
                r = add_child(st, node, &allocated, &index, &child);
        }
        strmap_done(&index);
        return r;
}

static int compare_nodes(const void *a, const void *b)
{
        const struct nd_look_node *x = a, *y = b;
        int r;

        if ((r = strcmp(x->label, y->label)))
                return r;
        if (x->port != y->port)
                return x->port < y->port ? -1 : 1;
        if (x->to_port != y->to_port)
                return x->to_port < y->to_port ? -1 : 1;
        return strcmp(x->process, y->process);
}

static void sort_tree(struct nd_look_node *nodes, size_t n)
{
        qsort_safe(nodes, n, sizeof(*nodes), compare_nodes);
        for (size_t i = 0; i < n; i++)
                sort_tree(nodes[i].children, nodes[i].n_children);
}

/* Roots: the start's own endpoints, each with its first level of children. */
static int make_roots(struct look_state *st, struct edge_cache *c, enum nd_look_direction d,
                      struct nd_look_node **ret, size_t *ret_n)
{
        struct nd_look_node *roots = NULL;
        size_t n = 0, allocated = 0;
        size_t *child_alloc = NULL;
        struct strmap *indexes = NULL;
        int r = 0;

        for (size_t i = 0; i < c->edges.n && r >= 0; i++) {
                const struct nd_labeled_edge *e = &c->edges.items[i];
                struct nd_look_node root = { .direction = d }, child;
                size_t k;

                if (st->o->port && e->port != st->o->port)
                        continue;
                if (d == ND_LOOK_IN) {
                        memcpy(root.label, e->server, sizeof(root.label));
                        root.port = e->port;
                        memcpy(root.process, e->server_process, sizeof(root.process));
                        root.pgid = e->server_pgid;
                } else {
                        memcpy(root.label, e->client, sizeof(root.label));
                        memcpy(root.process, e->client_process, sizeof(root.process));
                        root.pgid = e->client_pgid;
                }
                for (k = 0; k < n; k++)
                        if (strcmp(roots[k].label, root.label) == 0 && roots[k].port == root.port &&
                            strcmp(roots[k].process, root.process) == 0)
                                break;
                if (k == n) {
                        if (st->n_nodes >= ND_LOOK_MAX_NODES) {
                                st->truncated = true;
                                continue;
                        }
                        if (n == allocated) {
                                size_t want = allocated ? allocated * 2 : 8;
                                struct nd_look_node *p = reallocarray(roots, want, sizeof(*p));
                                if (p)
                                        roots = p;
                                size_t *ca = reallocarray(child_alloc, want, sizeof(*ca));
                                if (ca)
                                        child_alloc = ca;
                                struct strmap *ix = reallocarray(indexes, want, sizeof(*ix));
                                if (ix)
                                        indexes = ix;
                                if (!p || !ca || !ix) {
                                        r = -ENOMEM;
                                        break;
                                }
                                allocated = want;
                        }
                        roots[n] = root;
                        child_alloc[n] = 0;
                        strmap_init(&indexes[n]);
                        n++;
                        st->n_nodes++;
                } else if (roots[k].pgid != root.pgid)
                        roots[k].pgid = -1;

                node_from_edge(e, d, &child);
                child.cycle = strcmp(child.label, roots[k].label) == 0;
                r = add_child(st, &roots[k], &child_alloc[k], &indexes[k], &child);
        }
        for (size_t i = 0; i < n; i++)
                strmap_done(&indexes[i]);
        free(indexes);
        free(child_alloc);
        *ret = roots;
        *ret_n = n;
        return r;
}

static void free_nodes(struct nd_look_node *nodes, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free_nodes(nodes[i].children, nodes[i].n_children);
        free(nodes);
}

/* Walks down from the roots one level at a time. path[] holds, for the
 * node being expanded, its ancestors; so levels are kept as lists of
 * (node, ancestors) pairs. */
struct pending {
        struct nd_look_node *node;
        struct nd_look_node **path; /* depth entries: root .. parent */
        size_t depth;
};

static int grow_tree(struct look_state *st, struct edge_cache *c, enum nd_look_direction d,
                     struct nd_look_node *roots, size_t n_roots)
{
        struct pending *level = NULL, *next = NULL;
        size_t n_level = 0, n_next = 0, alloc_next = 0;
        int r = 0;

        /* Level 1: the roots' children. */
        for (size_t i = 0; i < n_roots; i++)
                n_level += roots[i].n_children;
        level = calloc(n_level ? n_level : 1, sizeof(*level));
        if (!level)
                return -ENOMEM;
        n_level = 0;
        for (size_t i = 0; i < n_roots; i++)
                for (size_t k = 0; k < roots[i].n_children; k++) {
                        struct nd_look_node **path = malloc(sizeof(*path));
                        if (!path) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        path[0] = &roots[i];
                        level[n_level++] = (struct pending){ &roots[i].children[k], path, 1 };
                }

        for (int depth = 2; depth <= st->o->depth && n_level > 0 && r >= 0; depth++) {
                struct nd_look_node **nodes = malloc(n_level * sizeof(*nodes));
                if (!nodes) {
                        r = -ENOMEM;
                        break;
                }
                /* Each label is expanded once: the first node that has it (in
                 * breadth-first order, so the shallowest) gets the subtree. */
                for (size_t i = 0; i < n_level && r >= 0; i++) {
                        struct nd_look_node *n = level[i].node;
                        if (n->cycle)
                                continue;
                        r = strmap_put(&st->expanded, n->label, 0, NULL);
                        if (r == 0)
                                n->seen = true;
                }
                if (r < 0) {
                        free(nodes);
                        break;
                }
                for (size_t i = 0; i < n_level; i++)
                        nodes[i] = level[i].node;
                r = fetch_level(st, c, nodes, n_level);
                free(nodes);

                for (size_t i = 0; i < n_level && r >= 0; i++) {
                        struct pending *p = &level[i];
                        if (p->node->cycle || p->node->seen)
                                continue;
                        r = expand(st, c, d, p->node, p->path, p->depth);
                        for (size_t k = 0; r >= 0 && k < p->node->n_children; k++) {
                                struct nd_look_node **path = malloc((p->depth + 1) * sizeof(*path));
                                if (!path) {
                                        r = -ENOMEM;
                                        break;
                                }
                                memcpy(path, p->path, p->depth * sizeof(*path));
                                path[p->depth] = p->node;
                                if (n_next == alloc_next) {
                                        size_t want = alloc_next ? alloc_next * 2 : 64;
                                        struct pending *q = reallocarray(next, want, sizeof(*q));
                                        if (!q) {
                                                free(path);
                                                r = -ENOMEM;
                                                break;
                                        }
                                        next = q;
                                        alloc_next = want;
                                }
                                next[n_next++] = (struct pending){ &p->node->children[k], path, p->depth + 1 };
                        }
                }
                for (size_t i = 0; i < n_level; i++)
                        free(level[i].path);
                free(level);
                level = next;
                n_level = n_next;
                next = NULL;
                n_next = alloc_next = 0;
        }
finish:
        for (size_t i = 0; i < n_level; i++)
                free(level[i].path);
        free(level);
        for (size_t i = 0; i < n_next; i++)
                free(next[i].path);
        free(next);
        return r;
}

static int start_edges(struct look_state *st, struct edge_cache *c)
{
        const char **addrs;
        size_t n = 0;
        int r;

        addrs = calloc(st->start.n ? st->start.n : 1, sizeof(*addrs));
        if (!addrs)
                return -ENOMEM;
        for (size_t i = 0; st->start.slots && i <= st->start.mask; i++)
                if (st->start.slots[i].key)
                        addrs[n++] = st->start.slots[i].key;
        r = nd_graph_edges(st->g, c->match, addrs, n, &st->o->range, &c->edges);
        free(addrs);
        return r;
}

static int one_direction(struct look_state *st, struct edge_cache *c, enum nd_look_direction d,
                         struct nd_look_node **ret, size_t *ret_n)
{
        int r;

        strmap_done(&st->expanded);
        strmap_init(&st->expanded);
        r = start_edges(st, c);

        if (r >= 0)
                r = make_roots(st, c, d, ret, ret_n);
        if (r >= 0)
                r = grow_tree(st, c, d, *ret, *ret_n);
        if (r >= 0)
                sort_tree(*ret, *ret_n);
        return r;
}

int nd_look(struct nd_graph *g, const struct nd_look_options *o, struct nd_look_result *ret)
{
        struct look_state st = { .g = g, .o = o };
        struct nd_look_result res = {};
        int r;

        strmap_init(&st.start);
        strmap_init(&st.expanded);
        st.in = (struct edge_cache){ .match = ND_MATCH_SERVER_ADDR };
        st.out = (struct edge_cache){ .match = ND_MATCH_CLIENT_ADDR };
        strmap_init(&st.in.fetched);
        strmap_init(&st.out.fetched);

        r = o->role ? nd_graph_resolve_role(g, o->role, &st.start) : nd_graph_resolve_host(g, o->host, &st.start);
        if (r >= 0 && (o->direction & ND_LOOK_IN))
                r = one_direction(&st, &st.in, ND_LOOK_IN, &res.in_roots, &res.n_in);
        if (r >= 0 && (o->direction & ND_LOOK_OUT))
                r = one_direction(&st, &st.out, ND_LOOK_OUT, &res.out_roots, &res.n_out);
        if (r >= 0 && res.n_in + res.n_out == 0)
                r = -ENODATA;

        res.n_nodes = st.n_nodes;
        res.truncated = st.truncated;
        nd_labeled_edges_done(&st.in.edges);
        nd_labeled_edges_done(&st.out.edges);
        free(st.in.order);
        free(st.out.order);
        strmap_done(&st.in.fetched);
        strmap_done(&st.out.fetched);
        strmap_done(&st.start);
        strmap_done(&st.expanded);
        if (r < 0) {
                nd_look_result_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

void nd_look_result_done(struct nd_look_result *r)
{
        free_nodes(r->in_roots, r->n_in);
        free_nodes(r->out_roots, r->n_out);
        *r = (struct nd_look_result){};
}
