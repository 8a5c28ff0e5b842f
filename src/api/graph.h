/* The view of the store that questions (look, diff, ...) share: edges with
 * each address replaced by its label — the address itself, or with role
 * grouping the "service:role" of the first matching role rule — and the
 * shadow rule that makes the two halves of one edge read as one.
 *
 * Shadow rule: the server's agent cannot tell which client process opened a
 * connection, so its view of the edge has client process "". Where the
 * client's own agent reported the same edge (same client address, same
 * server endpoint) with its process, and was still reporting it when the
 * server last did (ND_SHADOW_SLACK), the unknown-process view is dropped. A
 * known view that stopped earlier does not hide the current one: the
 * client's agent may have stopped, or another program took over. */
#pragma once

#include <stdbool.h>

#include "model/edge.h"
#include "model/role.h"
#include "shared/strmap.h"
#include "store/store.h"

#define ND_LABEL_MAX 160
#define ND_GRAPH_CHUNK 512 /* addresses per store query: bounds the edges held at once */
#define ND_GRAPH_SCAN_MIN 4096 /* past this many addresses, one pass over the store instead */
#define ND_SHADOW_SLACK (2 * ND_BUCKET_SECONDS)

struct nd_labeled_edge {
        int64_t id; /* the store's */
        char client[ND_LABEL_MAX], server[ND_LABEL_MAX];
        char client_process[ND_PROCESS_NAME_MAX], server_process[ND_PROCESS_NAME_MAX];
        int32_t client_pgid, server_pgid;
        uint16_t port;
        uint32_t connections;
        uint64_t opened, failed;
        int64_t first_seen, last_seen;
        uint32_t buckets; /* with a range: the minutes of it that saw the edge */
};

struct nd_labeled_edges {
        struct nd_labeled_edge *items;
        size_t n, allocated;
};

int nd_labeled_edges_push(struct nd_labeled_edges *l, const struct nd_labeled_edge *e);
void nd_labeled_edges_done(struct nd_labeled_edges *l);

/* The same edge, compact, for questions that hold tens of thousands (look):
 * its labels are the graph's own, interned, so that one label is one
 * pointer, valid until nd_graph_done(). */
struct nd_graph_edge {
        const char *client, *server;
        char client_process[ND_PROCESS_NAME_MAX], server_process[ND_PROCESS_NAME_MAX];
        int32_t client_pgid, server_pgid;
        uint32_t client_processes; /* client processes of that name (0: unknown) */
        uint32_t connections;
        uint16_t port;
        uint64_t opened, failed; /* streaming mode's counts (store.h) */
        int64_t first_seen, last_seen;
};

struct nd_graph_edges {
        struct nd_graph_edge *items;
        size_t n, allocated;
};

int nd_graph_edges_push(struct nd_graph_edges *l, const struct nd_graph_edge *e);
void nd_graph_edges_done(struct nd_graph_edges *l);

struct nd_graph {
        struct nd_store *store; /* borrowed */
        bool by_role;
        struct nd_role_rules rules;
        /* Loaded on first need (hostnames, roles): a plain --host ADDR
         * question never reads the whole hosts table. */
        bool hosts_loaded;
        struct nd_host_list hosts;
        struct strmap hostname_index; /* addr -> index in hosts */
        /* Before the whole table is read: the addresses a prefetch asked
         * for (their hostnames, where an agent gave one, are in hosts). */
        struct strmap prefetched;
        /* Every known address with a role, and its role (the hostname
         * field), loaded on first need. */
        bool role_members_loaded;
        struct nd_host_list role_members;
        /* Labels met so far, each once: labels[] owns them, label_index
         * finds one by its text, label_of_addr an address's. */
        char **labels;
        size_t n_labels, allocated_labels;
        struct strmap label_index; /* label -> index in labels */
        struct strmap label_of_addr; /* addr -> index in labels */
        /* Reverse DNS, when asked (nd_graph_resolve_names): addr -> index
         * in dns_names, for addresses that have no other name. */
        struct strmap dns_index;
        char **dns_names;
        size_t n_dns;
};

/* The current view of a range: only edges seen in the active_s seconds
 * before its end, or before now when it is open-ended. */
static inline struct nd_time_range nd_time_range_active(struct nd_time_range r, int64_t now, int64_t active_s)
{
        int64_t end = r.until < now ? r.until : now;

        if (active_s > 0 && end - active_s > r.since)
                r.since = end - active_s;
        return r;
}

int nd_graph_init(struct nd_graph *g, struct nd_store *store, bool by_role);
void nd_graph_done(struct nd_graph *g);

/* The name of an address, for people: its role rule's name=, else the
 * hostname its agent reported, else its reverse-DNS name if resolved;
 * NULL when it has none (or for a role label). Owned by the graph. */
const char *nd_graph_name(struct nd_graph *g, const char *label);

/* Reads the hostnames of just these labels, so that naming a small
 * answer does not read the whole hosts table (10,000 rows for a look of
 * ten hosts); past ND_GRAPH_PREFETCH_MAX labels the table is read once
 * instead. Names come from nd_graph_name() as before. */
#define ND_GRAPH_PREFETCH_MAX 4096
int nd_graph_prefetch_names(struct nd_graph *g, const char *const *labels, size_t n);

/* Looks up, by reverse DNS, the names of those labels that are addresses
 * and have no name otherwise, within budget_ms in total; nd_graph_name()
 * gives them from then on. Addresses asked before are not asked again. */
int nd_graph_resolve_names(struct nd_graph *g, const char *const *labels, size_t n, unsigned budget_ms);

/* The label of an address: itself, or its role when grouping by role. */
const char *nd_graph_label(struct nd_graph *g, const char *addr, char *buf, size_t size);
/* The graph's own copy of a label, made on first use. */
int nd_graph_intern(struct nd_graph *g, const char *label, const char **ret);
/* The graph's own copy of a label met in an edge already, or NULL. */
const char *nd_graph_find_label(const struct nd_graph *g, const char *label);

/* The addresses a --host or --role argument stands for, into a strmap used
 * as a set. For --host: an address as is (normalised), or a hostname known
 * from agents. For --role: every known address whose role it is.
 * -ENOENT when nothing matches, -EINVAL for a malformed argument. */
int nd_graph_resolve_host(struct nd_graph *g, const char *host, struct strmap *ret);
int nd_graph_resolve_role(struct nd_graph *g, const char *service_role, struct strmap *ret);

/* The addresses a label stands for, added to the set ret: the address
 * itself, or every known address of a role when grouping by role. */
int nd_graph_members(struct nd_graph *g, const char *label, struct strmap *ret);

/* Edges into (ND_MATCH_SERVER_ADDR) or out of the given addresses in the
 * range, shadow rule applied, labelled, their first and last sightings
 * clipped to the range. Appends to out. */
int nd_graph_edges(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                   const struct nd_time_range *range, struct nd_labeled_edges *out);
/* The same, compact. */
int nd_graph_edges_compact(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                           const struct nd_time_range *range, struct nd_graph_edges *out);

/* The same, one edge at a time to fn, never holding more than one chunk
 * of addresses' edges (ND_GRAPH_CHUNK): for questions over the whole
 * store. The edge is valid during the call. */
int nd_graph_each_edge(struct nd_graph *g, enum nd_edge_match match, const char *const *addrs, size_t n,
                       const struct nd_time_range *range,
                       int (*fn)(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata), void *userdata);

/* Every edge of the store in the range, shadow rule applied, to fn one at
 * a time, in bounded memory. */
int nd_graph_each_store_edge(struct nd_graph *g, const struct nd_time_range *range,
                             int (*fn)(struct nd_graph *g, const struct nd_graph_edge *e, void *userdata),
                             void *userdata);
