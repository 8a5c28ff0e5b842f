#include "api/graph.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collect/reverse_dns.h"
#include "model/addr.h"
#include "shared/sort.h"

void nd_labeled_edges_done(struct nd_labeled_edges *l)
{
        free(l->items);
        *l = (struct nd_labeled_edges){};
}

/* Room for one more item past n, doubling. */
static int grow(void **items, size_t *allocated, size_t n, size_t size)
{
        size_t want = *allocated ? 2 * *allocated : 64;
        void *p;

        if (n < *allocated)
                return 0;
        p = reallocarray(*items, want, size);
        if (!p)
                return -ENOMEM;
        *items = p;
        *allocated = want;
        return 0;
}

void nd_graph_edges_done(struct nd_graph_edges *l)
{
        free(l->items);
        *l = (struct nd_graph_edges){};
}

int nd_graph_edges_push(struct nd_graph_edges *l, const struct nd_graph_edge *e)
{
        int r = grow((void **)&l->items, &l->allocated, l->n, sizeof(*l->items));

        if (r < 0)
                return r;
        l->items[l->n++] = *e;
        return 0;
}

int nd_labeled_edges_push(struct nd_labeled_edges *l, const struct nd_labeled_edge *e)
{
        int r = grow((void **)&l->items, &l->allocated, l->n, sizeof(*l->items));

        if (r < 0)
                return r;
        l->items[l->n++] = *e;
        return 0;
}

int nd_graph_init(struct nd_graph *g, struct nd_store *store, bool by_role)
{
        *g = (struct nd_graph){ .store = store, .by_role = by_role };
        strmap_init(&g->hostname_index);
        strmap_init(&g->label_index);
        strmap_init(&g->label_of_addr);
        strmap_init(&g->dns_index);
        strmap_init(&g->prefetched);
        /* Rules are needed for --role even without grouping. */
        return nd_store_roles_load(store, &g->rules);
}

static int load_hosts(struct nd_graph *g)
{
        int r;

        if (g->hosts_loaded)
                return 0;
        /* Whatever a prefetch read is in the whole table too. */
        nd_host_list_done(&g->hosts);
        strmap_done(&g->hostname_index);
        strmap_init(&g->hostname_index);
        r = nd_store_hosts(g->store, &g->hosts);
        for (size_t i = 0; r >= 0 && i < g->hosts.n; i++)
                r = strmap_put(&g->hostname_index, g->hosts.items[i].addr, i, NULL);
        if (r < 0)
                return r;
        g->hosts_loaded = true;
        return 0;
}

void nd_graph_done(struct nd_graph *g)
{
        nd_role_rules_done(&g->rules);
        nd_host_list_done(&g->hosts);
        strmap_done(&g->hostname_index);
        for (size_t i = 0; i < g->n_labels; i++)
                free(g->labels[i]);
        free(g->labels);
        strmap_done(&g->label_index);
        strmap_done(&g->label_of_addr);
        strmap_done(&g->dns_index);
        strmap_done(&g->prefetched);
        nd_host_list_done(&g->role_members);
        for (size_t i = 0; i < g->n_dns; i++)
                free(g->dns_names[i]);
        free(g->dns_names);
}

static const char *hostname_of(struct nd_graph *g, const char *addr)
{
        size_t i;

        /* Asked by a prefetch: the answer is in hosts already, or there is
         * none. Else the whole table; a failed load leaves it unnamed. */
        if (!g->hosts_loaded && !strmap_get(&g->prefetched, addr, &i) && load_hosts(g) < 0)
                return NULL;
        return strmap_get(&g->hostname_index, addr, &i) ? g->hosts.items[i].hostname : NULL;
}

int nd_graph_prefetch_names(struct nd_graph *g, const char *const *labels, size_t n)
{
        const char **asked;
        size_t k = 0, ignored, before = g->hosts.n;
        int r = 0;

        if (g->hosts_loaded)
                return 0;
        if (n > ND_GRAPH_PREFETCH_MAX)
                return load_hosts(g);
        asked = calloc(n ? n : 1, sizeof(*asked));
        if (!asked)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                struct nd_addr a;

                if (nd_addr_parse(labels[i], &a) < 0 || strmap_get(&g->prefetched, labels[i], &ignored))
                        continue;
                r = strmap_put(&g->prefetched, labels[i], 0, NULL);
                asked[k++] = labels[i];
        }
        if (r >= 0 && k)
                r = nd_store_hosts_of(g->store, asked, k, &g->hosts);
        for (size_t i = before; r >= 0 && i < g->hosts.n; i++)
                r = strmap_put(&g->hostname_index, g->hosts.items[i].addr, i, NULL);
        free(asked);
        return r < 0 ? r : 0;
}

static const struct nd_role_rule *role_of(struct nd_graph *g, const char *addr)
{
        struct nd_addr a;

        if (nd_addr_parse(addr, &a) < 0)
                return NULL;
        if (g->rules.n == 0)
                return NULL;
        return nd_role_rules_find(&g->rules, &a, hostname_of(g, addr));
}

static const char *dns_name(const struct nd_graph *g, const char *addr)
{
        size_t i;

        return strmap_get(&g->dns_index, addr, &i) && i != SIZE_MAX ? g->dns_names[i] : NULL;
}

const char *nd_graph_name(struct nd_graph *g, const char *label)
{
        const struct nd_role_rule *rule;
        const char *hostname;
        struct nd_addr a;

        if (nd_addr_parse(label, &a) < 0) /* a role */
                return NULL;
        hostname = hostname_of(g, label);
        rule = g->rules.n ? nd_role_rules_find(&g->rules, &a, hostname) : NULL;
        if (rule && rule->name[0])
                return rule->name;
        if (hostname && hostname[0])
                return hostname;
        return dns_name(g, label);
}

int nd_graph_resolve_names(struct nd_graph *g, const char *const *labels, size_t n, unsigned budget_ms)
{
        struct nd_addr *addrs = calloc(n ? n : 1, sizeof(*addrs));
        const char **asked = calloc(n ? n : 1, sizeof(*asked));
        char **names = NULL;
        size_t k = 0, ignored;
        int r = 0;

        if (!addrs || !asked) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++)
                if (!strmap_get(&g->dns_index, labels[i], &ignored) && nd_addr_parse(labels[i], &addrs[k]) == 0 &&
                    !nd_graph_name(g, labels[i])) {
                        /* Asked once, answered or not. */
                        r = strmap_put(&g->dns_index, labels[i], SIZE_MAX, NULL);
                        if (r < 0)
                                goto finish;
                        asked[k++] = labels[i];
                }
        if (k == 0)
                goto finish;
        r = nd_reverse_dns(addrs, k, budget_ms, &names);
        if (r < 0)
                goto finish;
        for (size_t i = 0; i < k; i++) {
                char **p;

                if (!names[i])
                        continue;
                p = reallocarray(g->dns_names, g->n_dns + 1, sizeof(*p));
                if (!p) {
                        r = -ENOMEM;
                        break;
                }
                g->dns_names = p;
                g->dns_names[g->n_dns] = names[i];
                names[i] = NULL;
                strmap_set(&g->dns_index, asked[i], g->n_dns++);
        }
        nd_names_free(names, k);
finish:
        free(addrs);
        free(asked);
        return r < 0 ? r : 0;
}

const char *nd_graph_label(struct nd_graph *g, const char *addr, char *buf, size_t size)
{
        const struct nd_role_rule *rule = g->by_role ? role_of(g, addr) : NULL;

        if (rule)
                snprintf(buf, size, "%s:%s", rule->service, rule->role);
        else
                snprintf(buf, size, "%s", addr);
        return buf;
}

const char *nd_graph_find_label(const struct nd_graph *g, const char *label)
{
        size_t i;

        return strmap_get(&g->label_index, label, &i) ? g->labels[i] : NULL;
}

/* The graph's copy of label, made on first use. */
static int intern(struct nd_graph *g, const char *label, size_t *ret)
{
        char *copy;
        int r;

        if (strmap_get(&g->label_index, label, ret))
                return 0;
        r = grow((void **)&g->labels, &g->allocated_labels, g->n_labels, sizeof(*g->labels));
        if (r < 0)
                return r;
        copy = strdup(label);
        if (!copy)
                return -ENOMEM;
        r = strmap_put(&g->label_index, label, g->n_labels, NULL);
        if (r < 0) {
                free(copy);
                return r;
        }
        g->labels[g->n_labels] = copy;
        *ret = g->n_labels++;
        return 0;
}

int nd_graph_intern(struct nd_graph *g, const char *label, const char **ret)
{
        size_t i;
        int r = intern(g, label, &i);

        if (r >= 0)
                *ret = g->labels[i];
        return r;
}

/* An address's label, interned: worked out (role rules and all) once per
 * address, not once per edge. */
static int label_of(struct nd_graph *g, const char *addr, const char **ret)
{
        char buf[ND_LABEL_MAX];
        size_t i;
        int r;

        if (!strmap_get(&g->label_of_addr, addr, &i)) {
                r = intern(g, nd_graph_label(g, addr, buf, sizeof(buf)), &i);
                if (r >= 0)
                        r = strmap_put(&g->label_of_addr, addr, i, NULL);
                if (r < 0)
                        return r;
        }
        *ret = g->labels[i];
        return 0;
}

int nd_graph_resolve_host(struct nd_graph *g, const char *host, struct strmap *ret)
{
        struct nd_addr a;
        char buf[ND_ADDR_STRLEN];
        int r, found = 0;

        if (nd_addr_parse(host, &a) == 0)
                return strmap_put(ret, nd_addr_format(&a, buf), 0, NULL) < 0 ? -ENOMEM : 0;
        r = load_hosts(g);
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->hosts.n; i++)
                if (strcasecmp(g->hosts.items[i].hostname, host) == 0) { /* DNS names: no case */
                        r = strmap_put(ret, g->hosts.items[i].addr, 0, NULL);
                        if (r < 0)
                                return r;
                        found++;
                }
        return found ? 0 : -ENOENT;
}

/* Every known address with a role, and its role ("service:role" in the
 * hostname field), worked out once per graph: a look or graph grouped by
 * role asks for a role's members at every level. */
static int load_role_members(struct nd_graph *g)
{
        struct nd_host_list addrs = {};
        char label[2 * ND_ROLE_FIELD_MAX + 2];
        int r;

        if (g->role_members_loaded)
                return 0;
        r = load_hosts(g);
        if (r >= 0)
                r = nd_store_endpoint_addrs(g->store, &addrs);
        for (size_t i = 0; r >= 0 && i < addrs.n + g->hosts.n; i++) {
                const char *addr = i < addrs.n ? addrs.items[i].addr : g->hosts.items[i - addrs.n].addr;
                const struct nd_role_rule *rule = role_of(g, addr);

                if (!rule)
                        continue;
                snprintf(label, sizeof(label), "%s:%s", rule->service, rule->role);
                r = nd_host_list_push(&g->role_members, addr, label);
        }
        nd_host_list_done(&addrs);
        if (r < 0)
                return r;
        g->role_members_loaded = true;
        return 0;
}

int nd_graph_resolve_role(struct nd_graph *g, const char *service_role, struct strmap *ret)
{
        char service[ND_ROLE_FIELD_MAX], role[ND_ROLE_FIELD_MAX];
        int r, found = 0;

        if (nd_role_split(service_role, service, role, sizeof(service)) < 0)
                return -EINVAL;
        r = load_role_members(g);
        for (size_t i = 0; r >= 0 && i < g->role_members.n; i++)
                if (strcmp(g->role_members.items[i].hostname, service_role) == 0) {
                        r = strmap_put(ret, g->role_members.items[i].addr, 0, NULL);
                        found++;
                }
        if (r < 0)
                return r;
        return found ? 0 : -ENOENT;
}

int nd_graph_members(struct nd_graph *g, const char *label, struct strmap *ret)
{
        int r;

        if (!g->by_role)
                return strmap_put(ret, label, 0, NULL) < 0 ? -ENOMEM : 0;
        r = nd_graph_resolve_role(g, label, ret);
        if (r == -EINVAL || r == -ENOENT) /* not a role: a plain address */
                r = strmap_put(ret, label, 0, NULL) < 0 ? -ENOMEM : 0;
        return r;
}

/* Orders edges so that the views of one (client addr, server endpoint) sit
 * together, known client processes before the unknown one. */
static int compare_for_shadow(const void *a, const void *b)
{
        const struct nd_edge *x = a, *y = b;
        int r;

        if ((r = strcmp(x->client.addr, y->client.addr)))
                return r;
        if ((r = strcmp(x->server.addr, y->server.addr)))
                return r;
        if (x->server.port != y->server.port)
                return x->server.port < y->server.port ? -1 : 1;
        /* "" sorts last. */
        if (!x->client.process[0] != !y->client.process[0])
                return !x->client.process[0] ? 1 : -1;
        return strcmp(x->client.process, y->client.process);
}

static bool same_group(const struct nd_edge *x, const struct nd_edge *y)
{
        return strcmp(x->client.addr, y->client.addr) == 0 && strcmp(x->server.addr, y->server.addr) == 0 &&
               x->server.port == y->server.port;
}

/* Whether the unknown-process view at i is shadowed by a known-process
 * view of the same edge (they sort just before it) that was reported as
 * late as it, give or take a bucket or two. */
static bool shadowed(const struct nd_edge *items, size_t i)
{
        const struct nd_edge *e = &items[i];

        for (size_t k = i; k-- > 0 && same_group(&items[k], e);)
                if (items[k].last_seen + ND_SHADOW_SLACK >= e->last_seen)
                        return true;
        return false;
}

/* A ranged answer's times are its sightings in the range: the store's
 * are the edge's whole life, which would make an edge seen after the range
 * look current in it, and shadow the wrong view. */
static void clip_to_range(struct nd_edge *e, const struct nd_time_range *range)
{
        if (e->first_seen < range->since)
                e->first_seen = range->since;
        if (e->last_seen > range->until)
                e->last_seen = range->until;
}

/* The store's edges, the shadow rule applied: each visible edge goes to
 * emit. */
static int visible_edges(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                         const struct nd_time_range *range,
                         int (*emit)(struct nd_graph *g, const struct nd_edge *e, void *userdata), void *userdata)
{
        struct nd_edge_list raw = {};
        int r = 0;

        /* A chunk of addresses at a time: memory stays bounded by one
         * chunk's edges whatever the question (the whole store, too). All
         * views of an edge share its matched address, so the shadow rule
         * needs nothing from another chunk. */
        for (size_t start = 0; start < n && r >= 0; start += ND_GRAPH_CHUNK) {
                struct nd_edge_query q = {
                        .match = match, .addrs = addrs + start,
                        .n_addrs = n - start < ND_GRAPH_CHUNK ? n - start : ND_GRAPH_CHUNK, .range = *range,
                };

                raw.n = 0;
                r = nd_store_edges(g->store, &q, &raw);
                for (size_t i = 0; r >= 0 && i < raw.n; i++)
                        clip_to_range(&raw.items[i], range);
                if (r >= 0)
                        qsort_safe(raw.items, raw.n, sizeof(*raw.items), compare_for_shadow);
                for (size_t i = 0; i < raw.n && r >= 0; i++) {
                        const struct nd_edge *e = &raw.items[i];

                        if (!e->client.process[0] && shadowed(raw.items, i))
                                continue;
                        r = emit(g, e, userdata);
                }
        }
        nd_edge_list_done(&raw);
        return r;
}

static int emit_labeled(struct nd_graph *g, const struct nd_edge *e, void *userdata)
{
        struct nd_labeled_edges *out = userdata;
        struct nd_labeled_edge le = {
                .id = e->id, .client_pgid = e->client.pgid, .server_pgid = e->server.pgid,
                .port = e->server.port, .connections = e->connections,
                .opened = e->opened, .failed = e->failed,
                .first_seen = e->first_seen, .last_seen = e->last_seen, .buckets = e->buckets,
        };

        nd_graph_label(g, e->client.addr, le.client, sizeof(le.client));
        nd_graph_label(g, e->server.addr, le.server, sizeof(le.server));
        memcpy(le.client_process, e->client.process, sizeof(le.client_process));
        memcpy(le.server_process, e->server.process, sizeof(le.server_process));
        return nd_labeled_edges_push(out, &le);
}

int nd_graph_edges(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                   const struct nd_time_range *range, struct nd_labeled_edges *out)
{
        return visible_edges(g, match, addrs, n, range, emit_labeled, out);
}

static int compact_of(struct nd_graph *g, const struct nd_edge *e, struct nd_graph_edge *ge)
{
        int r;

        *ge = (struct nd_graph_edge){
                .client_pgid = e->client.pgid, .server_pgid = e->server.pgid,
                .client_processes = e->client_processes,
                .port = e->server.port, .connections = e->connections,
                .opened = e->opened, .failed = e->failed,
                .first_seen = e->first_seen, .last_seen = e->last_seen,
        };
        r = label_of(g, e->client.addr, &ge->client);
        if (r >= 0)
                r = label_of(g, e->server.addr, &ge->server);
        if (r < 0)
                return r;
        memcpy(ge->client_process, e->client.process, sizeof(ge->client_process));
        memcpy(ge->server_process, e->server.process, sizeof(ge->server_process));
        return 0;
}

static int emit_compact(struct nd_graph *g, const struct nd_edge *e, void *userdata)
{
        struct nd_graph_edge ge;
        int r = compact_of(g, e, &ge);

        return r < 0 ? r : nd_graph_edges_push(userdata, &ge);
}

int nd_graph_edges_compact(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                           const struct nd_time_range *range, struct nd_graph_edges *out)
{
        return visible_edges(g, match, addrs, n, range, emit_compact, out);
}

struct each_edge {
        int (*fn)(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata);
        void *userdata;
};

static int emit_each(struct nd_graph *g, const struct nd_edge *e, void *userdata)
{
        struct each_edge *each = userdata;
        struct nd_graph_edge ge;
        int r = compact_of(g, e, &ge);

        return r < 0 ? r : each->fn(g, &ge, each->userdata);
}

/* A scan of the whole store: edges arrive grouped by server endpoint, so
 * the shadow rule runs per group (every view of an edge shares its server
 * endpoint) and memory stays that of the largest group. */
struct scan {
        struct nd_graph *g;
        const struct nd_time_range *range;
        enum nd_edge_match match;
        const struct strmap *only; /* addresses matched, or NULL: all */
        struct nd_edge_list group;
        struct each_edge each;
};

static int flush_group(struct scan *sc)
{
        int r = 0;

        qsort_safe(sc->group.items, sc->group.n, sizeof(*sc->group.items), compare_for_shadow);
        for (size_t i = 0; i < sc->group.n && r >= 0; i++)
                if (sc->group.items[i].client.process[0] || !shadowed(sc->group.items, i))
                        r = emit_each(sc->g, &sc->group.items[i], &sc->each);
        sc->group.n = 0;
        return r;
}

static int scan_edge(const struct nd_edge *e, void *userdata)
{
        struct scan *sc = userdata;
        size_t ignored;
        int r;

        if (sc->only && !strmap_get(sc->only, sc->match == ND_MATCH_SERVER_ADDR ? e->server.addr : e->client.addr,
                                    &ignored))
                return 0;
        if (sc->group.n && (sc->group.items[0].server.port != e->server.port ||
                            strcmp(sc->group.items[0].server.addr, e->server.addr) != 0)) {
                r = flush_group(sc);
                if (r < 0)
                        return r;
        }
        r = nd_edge_list_push(&sc->group, e);
        if (r >= 0)
                clip_to_range(&sc->group.items[sc->group.n - 1], sc->range);
        return r;
}

static int scan_store(struct nd_graph *g, enum nd_edge_match match, const struct strmap *only,
                      const struct nd_time_range *range, struct each_edge each)
{
        struct scan sc = { .g = g, .range = range, .match = match, .only = only, .each = each };
        int r = nd_store_scan_edges(g->store, range, scan_edge, &sc);

        if (r >= 0)
                r = flush_group(&sc);
        nd_edge_list_done(&sc.group);
        return r;
}

int nd_graph_each_edge(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                       const struct nd_time_range *range,
                       int (*fn)(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata), void *userdata)
{
        struct each_edge each = { fn, userdata };
        struct strmap only;
        int r = 0;

        if (n < ND_GRAPH_SCAN_MIN)
                return visible_edges(g, match, addrs, n, range, emit_each, &each);
        /* So many addresses that their edges are most of the store: one
         * pass over it costs less than an index lookup per edge. */
        strmap_init(&only);
        for (size_t i = 0; i < n && r >= 0; i++)
                r = strmap_put(&only, addrs[i], 0, NULL);
        if (r >= 0)
                r = scan_store(g, match, &only, range, each);
        strmap_done(&only);
        return r;
}

int nd_graph_each_store_edge(struct nd_graph *g, const struct nd_time_range *range,
                             int (*fn)(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata),
                             void *userdata)
{
        return scan_store(g, ND_MATCH_SERVER_ADDR, NULL, range, (struct each_edge){ fn, userdata });
}
