#include "api/look.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/sort.h"

#define LOOK_FIRST_BATCH 256 /* nodes whose edges a level asks for first */

/* Edges fetched so far for one direction, and which of them belong to
 * which label: the label of their server (in) or client (out) side. */
struct edge_cache {
        enum nd_edge_match match;
        struct nd_graph_edges edges;
        uint32_t *order; /* indexes into edges, sorted by match label */
        struct strmap fetched; /* labels asked for already */
};

struct look_state {
        struct nd_graph *g;
        const struct nd_look_options *o;
        struct nd_time_range range; /* o's, narrowed to the active view */
        struct strmap start; /* the addresses of the host or role */
        struct edge_cache in, out;
        struct strmap expanded; /* labels expanded in the current direction */
        size_t n_nodes;
        bool truncated;
};

/* The label an edge is found by: interned (graph.h), so one pointer. */
static const char *match_label(const struct edge_cache *c, const struct nd_graph_edge *e)
{
        return c->match == ND_MATCH_SERVER_ADDR ? e->server : e->client;
}

/* By label (the interned pointer: it only has to group them), then in the
 * order fetched. */
static int compare_order(const void *a, const void *b, void *userdata)
{
        const struct edge_cache *c = userdata;
        uint32_t i = *(const uint32_t *)a, k = *(const uint32_t *)b;
        uintptr_t x = (uintptr_t)match_label(c, &c->edges.items[i]);
        uintptr_t y = (uintptr_t)match_label(c, &c->edges.items[k]);

        if (x != y)
                return x < y ? -1 : 1;
        return i < k ? -1 : i > k;
}

/* Orders the cache by the label it is matched on, so that a node finds its
 * edges by binary search, not by a scan of everything fetched. */
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

static const struct nd_graph_edge *ordered(const struct edge_cache *c, size_t i)
{
        return &c->edges.items[c->order[i]];
}

/* The first position in c->order whose edge has match label label (an
 * interned one). */
static size_t first_edge_of(const struct edge_cache *c, const char *label)
{
        size_t lo = 0, hi = c->edges.n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if ((uintptr_t)match_label(c, ordered(c, mid)) < (uintptr_t)label)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* A node's count and pgid, from what its edges said. */
static void settle(struct nd_look_node *n)
{
        n->pgid = nd_process_set_pgid(&n->pgids);
        if (!n->port) {
                n->processes = nd_process_set_count(&n->pgids);
                n->at_least = nd_process_set_at_least(&n->pgids);
        }
}

/* Folds another edge of the same endpoint into n: counts add up, the
 * times widen, and processes of one name are counted by pgid. */
static void merge_node(struct nd_look_node *n, const struct nd_look_node *other)
{
        n->connections += other->connections;
        n->opened += other->opened;
        n->failed += other->failed;
        if (other->first_seen < n->first_seen)
                n->first_seen = other->first_seen;
        if (other->last_seen > n->last_seen)
                n->last_seen = other->last_seen;
        nd_process_set_merge(&n->pgids, &other->pgids);
        settle(n);
}

/* Length first, so that no two (process, peer) pairs read alike whatever
 * their names hold ('|' included). */
static char *append_text(char *p, const char *text)
{
        size_t len = strlen(text);

        *p++ = (char)('A' + len / 64); /* a printable, non-NUL length */
        *p++ = (char)('A' + len % 64);
        memcpy(p, text, len);
        p[len] = '|';
        return p + len + 1;
}

static char *append_port(char *p, uint16_t port)
{
        char digits[5];
        int n = 0;

        do
                digits[n++] = (char)('0' + port % 10);
        while ((port /= 10) && n < 5);
        while (n)
                *p++ = digits[--n];
        *p++ = '|';
        return p;
}

/* label, port, to_port, process, peer_process: printf is too slow here, a
 * level may add 100k children. key holds ND_LABEL_MAX + 2 *
 * ND_PROCESS_NAME_MAX + 16. */
static void child_key(const struct nd_look_node *child, char *key)
{
        char *p = append_text(key, child->label);

        p = append_port(p, child->port);
        p = append_port(p, child->to_port);
        p = append_text(p, child->process);
        p = append_text(p, child->peer_process);
        p[-1] = 0;
}

/* Adds or merges a child: one endpoint, met over the same peer process,
 * is one child. index maps those keys to the parent's children (a node
 * may have 10k). */
static int add_child(struct look_state *st, struct nd_look_node *parent, size_t *allocated,
                     struct strmap *index, const struct nd_look_node *child)
{
        char key[ND_LABEL_MAX + 2 * ND_PROCESS_NAME_MAX + 24];
        size_t i;
        int r;

        child_key(child, key);
        if (strmap_get(index, key, &i)) {
                merge_node(&parent->children[i], child);
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

/* Walks down from the roots one level at a time. path[] holds, for the
 * node being expanded, its ancestors; so levels are kept as lists of
 * (node, ancestors) pairs. */
struct pending {
        struct nd_look_node *node;
        struct nd_look_node **path; /* depth entries: root .. parent */
        size_t depth;
};

/* Moves the keys of set (addresses) onto the end of addrs. */
static int take_addrs(struct strmap *set, const char ***addrs, size_t *n, size_t *allocated)
{
        for (size_t i = 0; set->slots && i <= set->mask; i++) {
                if (!set->slots[i].key)
                        continue;
                if (*n == *allocated) {
                        size_t want = *allocated ? *allocated * 2 : 16;
                        const char **p = reallocarray(*addrs, want, sizeof(*p));
                        if (!p)
                                return -ENOMEM;
                        *addrs = p;
                        *allocated = want;
                }
                (*addrs)[(*n)++] = set->slots[i].key;
                set->slots[i].key = NULL; /* ownership moves to addrs */
        }
        return 0;
}

/* Every address whose label is label (one, in host mode). */
static int members(struct look_state *st, const char *label, const char ***addrs, size_t *n, size_t *allocated)
{
        struct strmap set;
        int r;

        strmap_init(&set);
        r = nd_graph_members(st->g, label, &set);
        if (r >= 0)
                r = take_addrs(&set, addrs, n, allocated);
        strmap_done(&set);
        return r < 0 ? r : 0;
}

/* One store query for every label of these nodes not yet fetched. */
static int fetch_level(struct look_state *st, struct edge_cache *c, const struct pending *level, size_t n_level)
{
        const char **addrs = NULL;
        size_t n = 0, allocated = 0;
        int r = 0;

        for (size_t i = 0; i < n_level && r >= 0; i++) {
                const struct nd_look_node *node = level[i].node;

                if (node->cycle || node->seen)
                        continue;
                r = strmap_put(&c->fetched, node->label, 0, NULL);
                if (r > 0)
                        r = members(st, node->label, &addrs, &n, &allocated);
        }
        if (r >= 0)
                r = nd_graph_edges_compact(st->g, c->match, addrs, n, &st->range, &c->edges);
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

static void node_from_edge(const struct nd_graph_edge *e, enum nd_look_direction d, struct nd_look_node *n)
{
        *n = (struct nd_look_node){
                .direction = d, .connections = e->connections, .opened = e->opened, .failed = e->failed,
                .first_seen = e->first_seen, .last_seen = e->last_seen,
        };
        if (d == ND_LOOK_IN) { /* the child is the client */
                snprintf(n->label, sizeof(n->label), "%s", e->client);
                memcpy(n->process, e->client_process, sizeof(n->process));
                memcpy(n->peer_process, e->server_process, sizeof(n->peer_process));
                nd_process_set_add(&n->pgids, e->client_pgid, e->client_processes);
                n->to_port = e->port;
        } else {
                snprintf(n->label, sizeof(n->label), "%s", e->server);
                memcpy(n->process, e->server_process, sizeof(n->process));
                memcpy(n->peer_process, e->client_process, sizeof(n->peer_process));
                nd_process_set_add(&n->pgids, e->server_pgid, 0);
                n->port = e->port;
        }
        settle(n);
}

/* Children of a node at level >= 1: every edge of its label. Roots get
 * theirs in make_roots, restricted to their own endpoint. */
static int expand(struct look_state *st, struct edge_cache *c, enum nd_look_direction d,
                  struct nd_look_node *node, struct nd_look_node **path, size_t depth)
{
        const char *label = nd_graph_find_label(st->g, node->label);
        size_t allocated = 0;
        struct strmap index;
        int r = 0;

        if (!label) /* in no edge fetched */
                return 0;
        strmap_init(&index);
        for (size_t i = first_edge_of(c, label); i < c->edges.n && r >= 0; i++) {
                const struct nd_graph_edge *e = ordered(c, i);
                struct nd_look_node child;

                if (match_label(c, e) != label)
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
                const struct nd_graph_edge *e = &c->edges.items[i];
                struct nd_look_node root = {
                        .direction = d, .first_seen = e->first_seen, .last_seen = e->last_seen,
                }, child;
                size_t k;

                if (st->o->port && e->port != st->o->port)
                        continue;
                if (d == ND_LOOK_IN) {
                        snprintf(root.label, sizeof(root.label), "%s", e->server);
                        root.port = e->port;
                        memcpy(root.process, e->server_process, sizeof(root.process));
                        nd_process_set_add(&root.pgids, e->server_pgid, 0);
                } else {
                        snprintf(root.label, sizeof(root.label), "%s", e->client);
                        memcpy(root.process, e->client_process, sizeof(root.process));
                        nd_process_set_add(&root.pgids, e->client_pgid, e->client_processes);
                }
                settle(&root);
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
                } else
                        merge_node(&roots[k], &root);

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

/* Every label in the tree, for one batch of reverse-DNS lookups. */
static int collect_labels(const struct nd_look_node *nodes, size_t n, struct strmap *set)
{
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++) {
                r = strmap_put(set, nodes[i].label, 0, NULL);
                if (r >= 0)
                        r = collect_labels(nodes[i].children, nodes[i].n_children, set);
        }
        return r;
}

/* Names for the tree: the hostnames of its labels (read for them alone),
 * and reverse DNS for the rest when asked. */
static int find_names(struct nd_graph *g, const struct nd_look_result *res, unsigned resolve_ms)
{
        struct strmap set;
        const char **labels = NULL;
        size_t n = 0;
        int r;

        strmap_init(&set);
        r = collect_labels(res->in_roots, res->n_in, &set);
        if (r >= 0)
                r = collect_labels(res->out_roots, res->n_out, &set);
        if (r >= 0 && !(labels = strmap_keys(&set, &n)))
                r = -ENOMEM;
        if (r >= 0)
                r = nd_graph_prefetch_names(g, labels, n);
        if (r >= 0 && resolve_ms)
                r = nd_graph_resolve_names(g, labels, n, resolve_ms);
        free(labels);
        strmap_done(&set);
        return r;
}

static void name_nodes(struct nd_graph *g, struct nd_look_node *nodes, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                nodes[i].name = nd_graph_name(g, nodes[i].label);
                name_nodes(g, nodes[i].children, nodes[i].n_children);
        }
}

static void free_nodes(struct nd_look_node *nodes, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free_nodes(nodes[i].children, nodes[i].n_children);
        free(nodes);
}

/* Queues a node's children for the next level, each with its path. */
static int push_children(const struct pending *p, struct pending **next, size_t *n_next, size_t *alloc_next)
{
        for (size_t k = 0; k < p->node->n_children; k++) {
                struct nd_look_node **path = malloc((p->depth + 1) * sizeof(*path));
                if (!path)
                        return -ENOMEM;
                memcpy(path, p->path, p->depth * sizeof(*path));
                path[p->depth] = p->node;
                if (*n_next == *alloc_next) {
                        size_t want = *alloc_next ? *alloc_next * 2 : 64;
                        struct pending *q = reallocarray(*next, want, sizeof(*q));
                        if (!q) {
                                free(path);
                                return -ENOMEM;
                        }
                        *next = q;
                        *alloc_next = want;
                }
                (*next)[(*n_next)++] = (struct pending){ &p->node->children[k], path, p->depth + 1 };
        }
        return 0;
}

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
                /* The level's edges come in batches of nodes, in order, each
                 * twice the last: a small tree asks once a level, and a tree
                 * that reaches the node cap stops asking, since no node
                 * after that point can take a child. (From a host that 10k
                 * hosts use, the last level would otherwise read the whole
                 * store to add nothing.) */
                for (size_t start = 0, batch = LOOK_FIRST_BATCH; start < n_level && r >= 0 && !st->truncated;
                     batch *= 2) {
                        size_t end = start + batch < n_level ? start + batch : n_level;

                        r = fetch_level(st, c, level + start, end - start);
                        for (size_t i = start; i < end && r >= 0; i++) {
                                struct pending *p = &level[i];
                                if (p->node->cycle || p->node->seen)
                                        continue;
                                r = expand(st, c, d, p->node, p->path, p->depth);
                                /* The last level's children are leaves. */
                                if (r >= 0 && depth < st->o->depth)
                                        r = push_children(p, &next, &n_next, &alloc_next);
                        }
                        start = end;
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

        addrs = strmap_keys(&st->start, &n);
        if (!addrs)
                return -ENOMEM;
        r = nd_graph_edges_compact(st->g, c->match, addrs, n, &st->range, &c->edges);
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
        /* The start's labels are expanded already, as roots: a deeper node
         * of one (a host of several addresses, a role's members) points at
         * them, it does not fetch their edges again. */
        for (size_t i = 0; r >= 0 && st->start.slots && i <= st->start.mask; i++) {
                char buf[ND_LABEL_MAX];

                if (!st->start.slots[i].key)
                        continue;
                nd_graph_label(st->g, st->start.slots[i].key, buf, sizeof(buf));
                r = strmap_put(&c->fetched, buf, 0, NULL);
                if (r >= 0)
                        r = strmap_put(&st->expanded, buf, 0, NULL);
        }
        if (r >= 0)
                r = sort_cache(c);

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
        struct look_state st = {
                .g = g, .o = o, .range = nd_time_range_active(o->range, o->now, o->active_s),
        };
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
        if (r >= 0)
                r = find_names(g, &res, o->resolve_ms);
        if (r >= 0) {
                name_nodes(g, res.in_roots, res.n_in);
                name_nodes(g, res.out_roots, res.n_out);
        }

        res.n_nodes = st.n_nodes;
        res.as_of = o->range.until < o->now ? o->range.until : o->now;
        res.truncated = st.truncated;
        nd_graph_edges_done(&st.in.edges);
        nd_graph_edges_done(&st.out.edges);
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

/* The tree as one picture: each parent/child pair is an edge between a
 * client endpoint (label, process) and a server endpoint (label, port),
 * and peer_process says who is at the parent's end of it. */
/* An edge met twice in the tree (the same pair in the in and the out
 * trees, as between two hosts that call each other) is drawn once, with
 * its counts once. */
static int once(struct strmap *drawn, const struct nd_endpoint_ref *client, const struct nd_endpoint_ref *server)
{
        char key[2 * ND_LABEL_MAX + 2 * ND_PROCESS_NAME_MAX + 16];

        snprintf(key, sizeof(key), "%s\x1f%s\x1f%s\x1f%u", client->label, client->process, server->label,
                 server->port);
        return strmap_put(drawn, key, 0, NULL);
}

static int add_tree_edges(struct nd_endpoint_graph *g, struct strmap *drawn, const struct nd_look_node *n)
{
        int r = 0;

        for (size_t i = 0; i < n->n_children && r >= 0; i++) {
                const struct nd_look_node *c = &n->children[i];
                struct nd_endpoint_ref client, server;
                struct nd_edge_counts counts = {
                        .connections = c->connections, .opened = c->opened, .failed = c->failed,
                        .first_seen = c->first_seen, .last_seen = c->last_seen,
                };

                if (c->direction == ND_LOOK_IN) { /* c (client) -> n's host at to_port */
                        client = (struct nd_endpoint_ref){ c->label, c->name, 0, c->process, c->pgid, c->processes };
                        server = (struct nd_endpoint_ref){ n->label, n->name, c->to_port, c->peer_process, -1, 0 };
                        if (n->port == c->to_port) /* n is that server endpoint */
                                server.pgid = n->pgid;
                } else { /* n's host (by peer_process) -> c */
                        client = (struct nd_endpoint_ref){ n->label, n->name, 0, c->peer_process, -1, 0 };
                        if (!n->port) { /* n is that client endpoint */
                                client.pgid = n->pgid;
                                client.processes = n->processes;
                        }
                        server = (struct nd_endpoint_ref){ c->label, c->name, c->port, c->process, c->pgid, 0 };
                }
                r = once(drawn, &client, &server);
                if (r > 0)
                        r = nd_endpoint_graph_add(g, &client, &server, &counts);
                if (r >= 0)
                        r = add_tree_edges(g, drawn, c);
        }
        return r;
}

int nd_look_picture(const struct nd_look_result *r, struct nd_endpoint_graph *g)
{
        struct strmap drawn;
        int ret = 0;

        strmap_init(&drawn);
        for (size_t i = 0; ret >= 0 && i < r->n_in; i++)
                ret = add_tree_edges(g, &drawn, &r->in_roots[i]);
        for (size_t i = 0; ret >= 0 && i < r->n_out; i++)
                ret = add_tree_edges(g, &drawn, &r->out_roots[i]);
        strmap_done(&drawn);
        return ret;
}
