#include "model/flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/sort.h"

#define FLOW_INDEX_EMPTY UINT32_MAX

const char *nd_direction_to_string(enum nd_direction d)
{
        return d == ND_DIRECTION_PASSIVE ? "passive" : "active";
}

void nd_flow_set_init(struct nd_flow_set *set)
{
        *set = (struct nd_flow_set){};
}

void nd_flow_set_done(struct nd_flow_set *set)
{
        for (size_t i = 0; set->flows && i < set->n; i++)
                free(set->flows[i].process.cgroup);
        free(set->flows);
        free(set->index);
        nd_flow_set_init(set);
}

/* The identity of a flow, laid out with no padding holes so it can be hashed
 * and compared as bytes. */
struct flow_key {
        uint64_t netns;
        int32_t pid;
        uint16_t local_port, peer_port;
        struct nd_addr local, peer; /* 17 bytes each, byte aligned */
        uint8_t direction;
        uint8_t pad[5];
};
_Static_assert(sizeof(struct flow_key) == 56 && sizeof(struct flow_key) % 8 == 0,
               "flow_key must have no padding holes and hash as whole words");

static void key_of_flow(const struct nd_flow *f, struct flow_key *k)
{
        memset(k, 0, sizeof(*k));
        k->netns = f->netns;
        k->local = f->local;
        k->peer = f->peer;
        k->local_port = f->local_port;
        k->peer_port = f->peer_port;
        k->pid = f->has_process ? f->process.pid : 0;
        k->direction = (uint8_t)f->direction;
}

static uint64_t hash_key(const struct flow_key *k)
{
        /* Eight bytes a step, multiply-xorshift mixing: this runs once per
         * socket, 200k times a scan on a busy host. */
        uint64_t words[sizeof(*k) / 8], h = 0;

        memcpy(words, k, sizeof(words));
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
                h = (h ^ words[i]) * UINT64_C(0x9e3779b97f4a7c15);
                h ^= h >> 29;
        }
        return h;
}

static int rebuild_index(struct nd_flow_set *set, size_t capacity)
{
        uint32_t *index = malloc(capacity * sizeof(*index));

        if (!index)
                return -ENOMEM;
        memset(index, 0xff, capacity * sizeof(*index));
        for (size_t i = 0; i < set->n; i++) {
                struct flow_key k;
                key_of_flow(&set->flows[i], &k);
                size_t slot = hash_key(&k) & (capacity - 1);
                while (index[slot] != FLOW_INDEX_EMPTY)
                        slot = (slot + 1) & (capacity - 1);
                index[slot] = (uint32_t)i;
        }
        free(set->index);
        set->index = index;
        set->index_mask = capacity - 1;
        return 0;
}

static int ensure_room(struct nd_flow_set *set)
{
        if (set->n == set->allocated) {
                size_t want = set->allocated ? set->allocated * 2 : 64;
                struct nd_flow *f = reallocarray(set->flows, want, sizeof(*f));
                if (!f)
                        return -ENOMEM;
                set->flows = f;
                set->allocated = want;
        }
        if (!set->index || (set->n + 1) * 2 > set->index_mask + 1) {
                size_t capacity = set->index ? (set->index_mask + 1) * 2 : 128;
                while ((set->n + 1) * 2 > capacity)
                        capacity *= 2;
                return rebuild_index(set, capacity);
        }
        return 0;
}

static void fold_connection(struct nd_flow *f, const struct nd_connection *c)
{
        switch (c->count) {
        case ND_COUNT_OPENED:
                f->opened++;
                return;
        case ND_COUNT_FAILED:
                f->failed++;
                return;
        case ND_COUNT_LIVE:
                break;
        }
        f->connections++;
        if (!c->has_tcp_info)
                return;
        if (!f->tcp.known || c->rtt_us < f->tcp.rtt_us_min)
                f->tcp.rtt_us_min = c->rtt_us;
        if (!f->tcp.known || c->rtt_us > f->tcp.rtt_us_max)
                f->tcp.rtt_us_max = c->rtt_us;
        f->tcp.known = true;
        f->tcp.rtt_us_sum += c->rtt_us;
        f->tcp.retrans += c->retrans;
        f->tcp.bytes_sent += c->bytes_sent;
        f->tcp.bytes_received += c->bytes_received;
}

/* A flow learns its listener's owner from the first connection or flow
 * folded into it that knows it. */
static void learn_listener_owner(struct nd_flow *f, const struct nd_process *owner)
{
        if (f->has_listener_owner || !owner)
                return;
        f->has_listener_owner = true;
        f->listener_owner = *owner;
        f->listener_owner.cgroup = NULL;
}

/* The flow with candidate's key, created from candidate (its cgroup
 * copied) when there is none. */
static int find_or_create(struct nd_flow_set *set, const struct nd_flow *candidate, struct nd_flow **ret)
{
        struct flow_key key, other;
        size_t slot;
        int r;

        r = ensure_room(set);
        if (r < 0)
                return r;

        key_of_flow(candidate, &key);
        for (slot = hash_key(&key) & set->index_mask; set->index[slot] != FLOW_INDEX_EMPTY;
             slot = (slot + 1) & set->index_mask) {
                struct nd_flow *f = &set->flows[set->index[slot]];
                key_of_flow(f, &other);
                if (memcmp(&key, &other, sizeof(key)) == 0) {
                        *ret = f;
                        return 0;
                }
        }

        struct nd_flow *f = &set->flows[set->n];
        *f = (struct nd_flow){
                .direction = candidate->direction,
                .netns = candidate->netns,
                .local = candidate->local,
                .peer = candidate->peer,
                .local_port = candidate->local_port,
                .peer_port = candidate->peer_port,
                .has_process = candidate->has_process,
        };
        if (candidate->has_process) {
                f->process = candidate->process;
                f->process.cgroup = NULL;
                if (candidate->process.cgroup && !(f->process.cgroup = strdup(candidate->process.cgroup)))
                        return -ENOMEM;
        }
        learn_listener_owner(f, candidate->has_listener_owner ? &candidate->listener_owner : NULL);
        set->index[slot] = (uint32_t)set->n++;
        *ret = f;
        return 0;
}

int nd_flow_set_copy(struct nd_flow_set *dst, const struct nd_flow_set *src)
{
        for (size_t i = 0; i < src->n; i++) {
                const struct nd_flow *f = &src->flows[i];
                struct nd_flow *g;
                int r = find_or_create(dst, f, &g);

                if (r < 0)
                        return r;
                g->connections += f->connections;
                g->opened += f->opened;
                g->failed += f->failed;
                g->tcp = f->tcp;
                learn_listener_owner(g, f->has_listener_owner ? &f->listener_owner : NULL);
        }
        return 0;
}

int nd_flow_set_add(struct nd_flow_set *set, const struct nd_connection *c)
{
        struct nd_flow candidate = {
                .direction = c->direction,
                .netns = c->netns,
                .local = c->local,
                .peer = c->peer,
                /* Fold the many side. */
                .local_port = c->direction == ND_DIRECTION_PASSIVE ? c->local_port : 0,
                .peer_port = c->direction == ND_DIRECTION_ACTIVE ? c->peer_port : 0,
        };
        struct nd_flow *f;
        int r;

        if (c->process) {
                candidate.has_process = true;
                candidate.process = *c->process;
        }
        r = find_or_create(set, &candidate, &f);
        if (r < 0)
                return r;
        learn_listener_owner(f, c->listener_owner);
        fold_connection(f, c);
        return 0;
}

int nd_flow_set_add_counts(struct nd_flow_set *set, const struct nd_flow *counts)
{
        struct nd_flow *f;
        int r = find_or_create(set, counts, &f);

        if (r < 0)
                return r;
        f->opened += counts->opened;
        f->failed += counts->failed;
        learn_listener_owner(f, counts->has_listener_owner ? &counts->listener_owner : NULL);
        return 0;
}

static int compare_flows(const void *a, const void *b)
{
        const struct nd_flow *x = a, *y = b;
        int r;

        if (x->netns != y->netns)
                return x->netns < y->netns ? -1 : 1;
        if ((r = nd_addr_compare(&x->local, &y->local)))
                return r;
        if (x->local_port != y->local_port)
                return x->local_port < y->local_port ? -1 : 1;
        if ((r = nd_addr_compare(&x->peer, &y->peer)))
                return r;
        if (x->peer_port != y->peer_port)
                return x->peer_port < y->peer_port ? -1 : 1;
        if (x->direction != y->direction)
                return x->direction < y->direction ? -1 : 1;
        pid_t px = x->has_process ? x->process.pid : 0, py = y->has_process ? y->process.pid : 0;
        return px < py ? -1 : px > py;
}

void nd_flow_set_sort(struct nd_flow_set *set)
{
        /* Keys are unique, so qsort's instability cannot show. */
        qsort_safe(set->flows, set->n, sizeof(*set->flows), compare_flows);
        free(set->index);
        set->index = NULL;
        set->index_mask = 0;
}

void nd_flow_set_filter(struct nd_flow_set *set, bool (*keep)(const struct nd_flow *f, void *userdata),
                        void *userdata)
{
        size_t out = 0;

        for (size_t i = 0; i < set->n; i++) {
                if (keep(&set->flows[i], userdata))
                        set->flows[out++] = set->flows[i];
                else
                        free(set->flows[i].process.cgroup);
        }
        set->n = out;
        free(set->index);
        set->index = NULL;
        set->index_mask = 0;
}
