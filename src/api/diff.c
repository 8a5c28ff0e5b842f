#include "api/diff.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key_of(const struct nd_labeled_edge *e, char *buf, size_t size)
{
        snprintf(buf, size, "%s|%s|%s|%u", e->client, e->client_process, e->server, e->port);
}

static void fold(struct nd_labeled_edge *into, const struct nd_labeled_edge *e)
{
        into->connections += e->connections;
        into->opened += e->opened;
        into->failed += e->failed;
        if (e->buckets > into->buckets)
                into->buckets = e->buckets; /* minutes: the most any host was seen in */
        if (e->first_seen < into->first_seen)
                into->first_seen = e->first_seen;
        if (e->last_seen > into->last_seen)
                into->last_seen = e->last_seen;
        if (into->client_pgid != e->client_pgid)
                into->client_pgid = -1;
        if (into->server_pgid != e->server_pgid)
                into->server_pgid = -1;
}

/* Both directions of the start in one range, each edge once. */
static int edges_in(struct nd_graph *g, const struct strmap *start, const struct nd_time_range *range,
                    struct nd_labeled_edges *out)
{
        struct nd_labeled_edges all = {};
        struct strmap seen, ids;
        size_t n;
        const char **addrs = strmap_keys(start, &n);
        int r;

        if (!addrs)
                return -ENOMEM;
        r = nd_graph_edges(g, ND_MATCH_SERVER_ADDR, addrs, n, range, &all);
        if (r >= 0)
                r = nd_graph_edges(g, ND_MATCH_CLIENT_ADDR, addrs, n, range, &all);
        free(addrs);

        /* One line per labelled edge: a store edge both queries found
         * counts once; the edges of several hosts of a role fold. */
        strmap_init(&seen);
        strmap_init(&ids);
        for (size_t i = 0; r >= 0 && i < all.n; i++) {
                const struct nd_labeled_edge *e = &all.items[i];
                char key[512], id[24];
                size_t at;

                snprintf(id, sizeof(id), "%lld", (long long)e->id);
                r = strmap_put(&ids, id, 0, NULL);
                if (r <= 0)
                        continue; /* the same store edge again */
                key_of(e, key, sizeof(key));
                r = strmap_put(&seen, key, out->n, &at);
                if (r > 0)
                        r = nd_labeled_edges_push(out, e);
                else if (r == 0)
                        fold(&out->items[at], e);
        }
        strmap_done(&seen);
        strmap_done(&ids);
        nd_labeled_edges_done(&all);
        return r < 0 ? r : 0;
}

/* Appends to out the edges of a that b lacks; returns how many a and b share. */
static int subtract(const struct nd_labeled_edges *a, const struct nd_labeled_edges *b,
                    struct nd_labeled_edges *out, size_t *shared)
{
        struct strmap keys;
        int r = 0;

        *shared = 0;
        strmap_init(&keys);
        for (size_t i = 0; r >= 0 && i < b->n; i++) {
                char key[512];
                key_of(&b->items[i], key, sizeof(key));
                r = strmap_put(&keys, key, i, NULL);
        }
        for (size_t i = 0; r >= 0 && i < a->n; i++) {
                char key[512];
                size_t ignored;

                key_of(&a->items[i], key, sizeof(key));
                if (strmap_get(&keys, key, &ignored)) {
                        (*shared)++;
                        continue;
                }
                r = nd_labeled_edges_push(out, &a->items[i]);
        }
        strmap_done(&keys);
        return r < 0 ? r : 0;
}

static int index_edges(const struct nd_labeled_edges *l, struct strmap *index)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < l->n; i++) {
                char key[512];

                key_of(&l->items[i], key, sizeof(key));
                r = strmap_put(index, key, i, NULL);
        }
        return r < 0 ? r : 0;
}

/* The edge over its whole stored life: found, as it is in a range. */
static const struct nd_labeled_edge *life_of(const struct nd_labeled_edges *life, const struct strmap *index,
                                             const struct nd_labeled_edge *e)
{
        char key[512];
        size_t i;

        key_of(e, key, sizeof(key));
        return strmap_get(index, key, &i) ? &life->items[i] : e;
}

int nd_diff(struct nd_graph *g, const struct nd_diff_options *o, struct nd_diff_result *ret)
{
        struct nd_labeled_edges before = {}, after = {}, only_after = {}, only_before = {}, life = {};
        struct strmap life_index;
        struct nd_diff_result res = {};
        struct strmap start;
        int r;

        strmap_init(&start);
        strmap_init(&life_index);
        r = o->role ? nd_graph_resolve_role(g, o->role, &start) : nd_graph_resolve_host(g, o->host, &start);
        if (r >= 0)
                r = edges_in(g, &start, &o->before, &before);
        if (r >= 0)
                r = edges_in(g, &start, &o->after, &after);
        /* Nothing in either range: as look says, there is nothing to tell
         * (an address never seen, or a range before it was). */
        if (r >= 0 && before.n == 0 && after.n == 0)
                r = -ENODATA;
        if (r >= 0)
                r = subtract(&after, &before, &only_after, &res.unchanged);
        if (r >= 0)
                r = subtract(&before, &after, &only_before, &res.unchanged);
        /* New or a gap: the edge's whole stored life says. */
        if (r >= 0 && (only_after.n || only_before.n))
                r = edges_in(g, &start, &(struct nd_time_range){ INT64_MIN, INT64_MAX }, &life);
        if (r >= 0)
                r = index_edges(&life, &life_index);
        for (size_t i = 0; r >= 0 && i < only_after.n; i++) {
                const struct nd_labeled_edge *e = &only_after.items[i];
                r = nd_labeled_edges_push(life_of(&life, &life_index, e)->first_seen > o->before.until
                                                  ? &res.appeared
                                                  : &res.missed_before,
                                          e);
        }
        for (size_t i = 0; r >= 0 && i < only_before.n; i++) {
                const struct nd_labeled_edge *e = &only_before.items[i];
                r = nd_labeled_edges_push(life_of(&life, &life_index, e)->last_seen < o->after.since
                                                  ? &res.vanished
                                                  : &res.missed_after,
                                          e);
        }
        nd_labeled_edges_done(&life);
        strmap_done(&life_index);
        nd_labeled_edges_done(&only_after);
        nd_labeled_edges_done(&only_before);
        nd_labeled_edges_done(&before);
        nd_labeled_edges_done(&after);
        strmap_done(&start);
        if (r < 0) {
                nd_diff_result_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

void nd_diff_result_done(struct nd_diff_result *r)
{
        nd_labeled_edges_done(&r->appeared);
        nd_labeled_edges_done(&r->vanished);
        nd_labeled_edges_done(&r->missed_before);
        nd_labeled_edges_done(&r->missed_after);
}
