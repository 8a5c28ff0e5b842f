/* The store: where edges live over time. One interface, two back ends of
 * identical behaviour — SQLite (embedded default) and PostgreSQL (a fleet's
 * shared CMDB) — chosen by URI:
 *
 *   sqlite:PATH            (a bare path works too; default ./netdep.db)
 *   postgres://... | postgresql://...   (libpq URIs, unix sockets included)
 *
 * Every function returns 0 (or a count) or -errno; a back end's own error
 * text is kept for nd_store_last_error(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/edge.h"
#include "model/role.h"

#define ND_SCHEMA_VERSION 5
#define ND_DEFAULT_STORE "sqlite:netdep.db"
#define ND_BUCKET_SECONDS 60 /* width of an observation bucket */

struct nd_time_range {
        int64_t since, until; /* unix seconds, inclusive; INT64_MIN/MAX when open */
};

static inline bool nd_time_range_is_open(const struct nd_time_range *r)
{
        return r->since == INT64_MIN && r->until == INT64_MAX;
}

/* One agent flush: its host, and the edges it saw. Written in one
 * transaction with batched statements. */
struct nd_ingest {
        const char *hostname;
        const char *const *host_addrs;
        size_t n_host_addrs;
        int64_t ts; /* when the flush's snapshots were taken (the last one) */
        int64_t first_ts; /* the first snapshot of the flush */
        const struct nd_edge_observation *rows;
        size_t n_rows;
};

enum nd_edge_match {
        ND_MATCH_SERVER_ADDR, /* edges into these addresses (who uses them) */
        ND_MATCH_CLIENT_ADDR, /* edges out of these addresses (what they use) */
};

struct nd_edge_query {
        enum nd_edge_match match;
        const char *const *addrs;
        size_t n_addrs;
        /* Only edges observed in this range; connections is then the most
         * seen in it. Open range: every edge, with its last count. */
        struct nd_time_range range;
};

/* One edge to a caller, during a scan; e is valid during the call. A
 * negative return stops the scan and is returned. */
typedef int (*nd_edge_fn)(const struct nd_edge *e, void *userdata);

struct nd_host {
        char addr[ND_ADDR_TEXT_MAX];
        char hostname[256];
};

struct nd_host_list {
        struct nd_host *items;
        size_t n, allocated;
};

int nd_host_list_push(struct nd_host_list *list, const char *addr, const char *hostname);
void nd_host_list_done(struct nd_host_list *list);

/* Server endpoints (address and port), as the links of a host. */
struct nd_server_endpoint {
        char addr[ND_ADDR_TEXT_MAX];
        uint16_t port;
};

struct nd_server_list {
        struct nd_server_endpoint *items;
        size_t n, allocated;
};

int nd_server_list_push(struct nd_server_list *list, const char *addr, uint16_t port);
void nd_server_list_done(struct nd_server_list *list);

struct nd_store;

enum {
        ND_STORE_CREATE = 1 << 0, /* create an SQLite file that does not exist */
};

struct nd_store_ops {
        const char *name;
        /* Writes *ret only on success; on failure leaves it alone and says
         * why in errbuf (there is no store to keep the text in). */
        int (*open)(const char *uri, unsigned flags, struct nd_store **ret, char *errbuf, size_t errbuf_size);
        void (*close)(struct nd_store *s);
        /* 0 when the store has no schema yet. */
        int (*schema_version)(struct nd_store *s, int *ret);
        /* Applies the migrations above the current version, transactionally
         * (SQLite: all in one transaction; PostgreSQL: one each, under an
         * advisory lock). Idempotent, and safe from several hosts at once. */
        int (*migrate)(struct nd_store *s);
        int (*ingest)(struct nd_store *s, const struct nd_ingest *in);
        /* Drops observations (PostgreSQL: whole days) older than before, then
         * edges and endpoints nothing refers to any more. Returns how many
         * edges were dropped. */
        int (*prune)(struct nd_store *s, int64_t before);
        int (*edges)(struct nd_store *s, const struct nd_edge_query *q, struct nd_edge_list *out);
        /* Every edge observed in the range (open: every edge), to fn one at
         * a time, never all held at once: a question over the whole store
         * stays in bounded memory. The edges of one server endpoint
         * (address and port) come one after another. */
        int (*scan_edges)(struct nd_store *s, const struct nd_time_range *range, nd_edge_fn fn, void *userdata);
        int (*hosts)(struct nd_store *s, struct nd_host_list *out);
        /* The same for these addresses only (those an agent reported). */
        int (*hosts_of)(struct nd_store *s, const char *const *addrs, size_t n, struct nd_host_list *out);
        /* The servers (address, port) that edges out of these client
         * addresses reached, as the clients' own agents saw them, at since
         * or later: the links those hosts use. */
        int (*servers_used)(struct nd_store *s, const char *const *client_addrs, size_t n, int64_t since,
                            struct nd_server_list *out);
        /* Every distinct endpoint address (hostname ""), for role membership
         * of hosts that run no agent. */
        int (*endpoint_addrs)(struct nd_store *s, struct nd_host_list *out);
        int (*roles_replace)(struct nd_store *s, const struct nd_role_rules *rules);
        int (*roles_load)(struct nd_store *s, struct nd_role_rules *out);
};

/* The part every back end's struct starts with. */
struct nd_store {
        const struct nd_store_ops *ops;
        char *display_uri; /* the URI with any password redacted */
        char last_error[512];
};

/* The store URI to use: uri if set, else $NETDEP_STORE, else the default. */
const char *nd_store_default_uri(const char *uri);
/* Whether a URI names PostgreSQL (else SQLite, a file one writer at a time). */
bool nd_store_uri_is_postgres(const char *uri);

/* Writes uri with the password of a URI's userinfo (and any password=
 * parameter) replaced by "***". Returns a malloc'd string or NULL. */
char *nd_store_redact_uri(const char *uri);

/* Opens a store (flags: ND_STORE_*). -EINVAL for an unknown scheme; other
 * -errno as the back end says, with its text in errbuf. *ret is written
 * only on success. */
int nd_store_open(const char *uri, unsigned flags, struct nd_store **ret, char *errbuf, size_t errbuf_size);
struct nd_store *nd_store_close(struct nd_store *s);

/* For every verb but `db`: the store must be at exactly ND_SCHEMA_VERSION.
 * -ENOMEDIUM when it has no schema, -EPROTONOSUPPORT when it is newer,
 * -ESTALE when older; the text says what to run. */
int nd_store_check_schema(struct nd_store *s);

const char *nd_store_last_error(const struct nd_store *s);
void nd_store_set_error(struct nd_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For a back end's open that failed with r: writes the text it set on s
 * (else r's) into errbuf, before it frees s. */
void nd_store_open_failed(struct nd_store *s, int r, char *errbuf, size_t errbuf_size);

/* Every call into a back end goes through these. */
static inline const char *nd_store_backend(const struct nd_store *s)
{
        return s->ops->name;
}
static inline int nd_store_schema_version(struct nd_store *s, int *ret)
{
        return s->ops->schema_version(s, ret);
}
static inline int nd_store_migrate(struct nd_store *s)
{
        return s->ops->migrate(s);
}
static inline int nd_store_ingest(struct nd_store *s, const struct nd_ingest *in)
{
        return s->ops->ingest(s, in);
}
static inline int nd_store_prune(struct nd_store *s, int64_t before)
{
        return s->ops->prune(s, before);
}
static inline int nd_store_edges(struct nd_store *s, const struct nd_edge_query *q, struct nd_edge_list *out)
{
        return s->ops->edges(s, q, out);
}
static inline int nd_store_scan_edges(struct nd_store *s, const struct nd_time_range *range, nd_edge_fn fn,
                                      void *userdata)
{
        return s->ops->scan_edges(s, range, fn, userdata);
}
static inline int nd_store_hosts(struct nd_store *s, struct nd_host_list *out)
{
        return s->ops->hosts(s, out);
}
static inline int nd_store_hosts_of(struct nd_store *s, const char *const *addrs, size_t n,
                                    struct nd_host_list *out)
{
        return s->ops->hosts_of(s, addrs, n, out);
}
static inline int nd_store_servers_used(struct nd_store *s, const char *const *client_addrs, size_t n,
                                        int64_t since, struct nd_server_list *out)
{
        return s->ops->servers_used(s, client_addrs, n, since, out);
}

static inline int nd_store_endpoint_addrs(struct nd_store *s, struct nd_host_list *out)
{
        return s->ops->endpoint_addrs(s, out);
}
static inline int nd_store_roles_replace(struct nd_store *s, const struct nd_role_rules *rules)
{
        return s->ops->roles_replace(s, rules);
}
static inline int nd_store_roles_load(struct nd_store *s, struct nd_role_rules *out)
{
        return s->ops->roles_load(s, out);
}

extern const struct nd_store_ops nd_store_sqlite_ops;
extern const struct nd_store_ops nd_store_postgres_ops;
