#include "api/impact.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/sort.h"

struct impact_state {
        struct nd_graph *g;
        const struct nd_impact_options *o;
        struct nd_time_range range;
        struct strmap found; /* label -> index in entries (the target's too) */
        struct nd_impact_entry *entries;
        size_t n, allocated;
};

static int add_entry(struct impact_state *st, const char *label, int depth, uint64_t paths)
{
        int r;

        if (st->n == st->allocated) {
                size_t want = st->allocated ? 2 * st->allocated : 64;
                struct nd_impact_entry *p = reallocarray(st->entries, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                st->entries = p;
                st->allocated = want;
        }
        r = strmap_put(&st->found, label, st->n, NULL);
        if (r < 0)
                return r;
        st->entries[st->n++] = (struct nd_impact_entry){ .label = label, .depth = depth, .paths = paths };
        return 0;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

struct hop_state {
        struct impact_state *st;
        size_t from, to;
        int depth;
        struct strmap pairs; /* "near|far" counted at this hop */
};

static int hop_edge(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata)
{
        struct hop_state *h = userdata;
        struct impact_state *st = h->st;
        const char *near = st->o->reverse ? e->client : e->server;
        const char *far = st->o->reverse ? e->server : e->client;
        char key[2 * ND_LABEL_MAX + 2];
        size_t k, p;
        int r;

        if (!strmap_get(&st->found, near, &p) || p < h->from || p >= h->to)
                return 0; /* an address of the label, seen under another */
        snprintf(key, sizeof(key), "%s|%s", near, far);
        r = strmap_put(&h->pairs, key, 0, NULL);
        if (r <= 0)
                return r; /* this pair is counted already */
        if (!strmap_get(&st->found, far, &k))
                return add_entry(st, far, h->depth, st->entries[p].paths);
        if (st->entries[k].depth == h->depth)
                st->entries[k].paths = add_saturating(st->entries[k].paths, st->entries[p].paths);
        return 0;
}

/* One hop from the entries [from, to) (all at depth - 1): the edges whose
 * far side is theirs, each pair of labels once, streamed from the store. */
static int hop(struct impact_state *st, size_t from, size_t to, int depth, const struct strmap *own)
{
        enum nd_edge_match match = st->o->reverse ? ND_MATCH_CLIENT_ADDR : ND_MATCH_SERVER_ADDR;
        struct hop_state h = { .st = st, .from = from, .to = to, .depth = depth };
        struct strmap addrs;
        const char **keys = NULL;
        size_t n = 0;
        int r = 0;

        strmap_init(&addrs);
        strmap_init(&h.pairs);
        /* The first hop of a host grouped by role starts at the host's own
         * addresses, not every member of its role. */
        for (size_t i = 0; own && r >= 0 && own->slots && i <= own->mask; i++)
                if (own->slots[i].key)
                        r = strmap_put(&addrs, own->slots[i].key, 0, NULL);
        for (size_t i = from; !own && i < to && r >= 0; i++)
                r = nd_graph_members(st->g, st->entries[i].label, &addrs);
        if (r >= 0 && !(keys = strmap_keys(&addrs, &n)))
                r = -ENOMEM;
        if (r >= 0)
                r = nd_graph_each_edge(st->g, match, keys, n, &st->range, hop_edge, &h);
        free(keys);
        strmap_done(&addrs);
        strmap_done(&h.pairs);
        return r < 0 ? r : 0;
}

static int compare_entries(const void *a, const void *b)
{
        const struct nd_impact_entry *x = a, *y = b;

        if (x->depth != y->depth)
                return x->depth < y->depth ? -1 : 1;
        return strcmp(x->label, y->label);
}

int nd_impact(struct nd_graph *g, const struct nd_impact_options *o, struct nd_impact_result *ret)
{
        struct impact_state st = { .g = g, .o = o, .range = nd_time_range_active(o->range, o->now, o->active_s) };
        struct strmap start;
        char buf[ND_LABEL_MAX];
        size_t n_targets, level_start, level_end;
        bool any_edge = false, cut = false;
        int r;

        strmap_init(&start);
        strmap_init(&st.found);
        r = o->role ? nd_graph_resolve_role(g, o->role, &start) : nd_graph_resolve_host(g, o->host, &start);
        /* The target: its labels (one, but for a host in several roles). */
        for (size_t i = 0; r >= 0 && start.slots && i <= start.mask; i++) {
                const char *label;
                if (!start.slots[i].key)
                        continue;
                nd_graph_label(g, start.slots[i].key, buf, sizeof(buf));
                r = nd_graph_intern(g, buf, &label);
                if (r >= 0 && !strmap_get(&st.found, label, &n_targets))
                        r = add_entry(&st, label, 0, 1);
        }
        n_targets = st.n;
        level_start = 0;
        level_end = st.n;
        for (int depth = 1; r >= 0 && depth <= o->depth && level_end > level_start; depth++) {
                r = hop(&st, level_start, level_end, depth, depth == 1 && o->host ? &start : NULL);
                if (st.n > level_end)
                        any_edge = true;
                level_start = level_end;
                level_end = st.n;
        }
        /* Past the depth limit: is anything left out? */
        if (r >= 0 && level_end > level_start) {
                size_t before = st.n;
                r = hop(&st, level_start, level_end, o->depth + 1, o->depth == 0 && o->host ? &start : NULL);
                cut = st.n > before;
                st.n = before;
        }
        if (r >= 0 && !any_edge) {
                /* Nothing depends on it: an error only if it has no edge at all. */
                struct nd_graph_edges edges = {};
                size_t n = 0;
                const char **keys = strmap_keys(&start, &n);
                if (!keys)
                        r = -ENOMEM;
                if (r >= 0)
                        r = nd_graph_edges_compact(g, ND_MATCH_SERVER_ADDR, keys, n, &st.range, &edges);
                if (r >= 0)
                        r = nd_graph_edges_compact(g, ND_MATCH_CLIENT_ADDR, keys, n, &st.range, &edges);
                if (r >= 0 && edges.n == 0)
                        r = -ENODATA;
                free(keys);
                nd_graph_edges_done(&edges);
        }
        strmap_done(&start);
        strmap_done(&st.found);
        if (r < 0) {
                free(st.entries);
                return r;
        }
        /* The target itself is not in the list. */
        memmove(st.entries, st.entries + n_targets, (st.n - n_targets) * sizeof(*st.entries));
        st.n -= n_targets;
        qsort_safe(st.entries, st.n, sizeof(*st.entries), compare_entries);
        {
                const char **labels = calloc(st.n ? st.n : 1, sizeof(*labels));
                if (labels) {
                        for (size_t i = 0; i < st.n; i++)
                                labels[i] = st.entries[i].label;
                        /* Names are a nicety: the list stands without them. */
                        (void)nd_graph_prefetch_names(g, labels, st.n);
                        if (o->resolve_ms)
                                (void)nd_graph_resolve_names(g, labels, st.n, o->resolve_ms);
                        free(labels);
                }
        }
        for (size_t i = 0; i < st.n; i++)
                st.entries[i].name = nd_graph_name(g, st.entries[i].label);
        *ret = (struct nd_impact_result){ .items = st.entries, .n = st.n, .cut = cut };
        return 0;
}

void nd_impact_result_done(struct nd_impact_result *r)
{
        free(r->items);
        *r = (struct nd_impact_result){};
}
