#include "agent/flush_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/addr.h"
#include "model/json_read.h"

enum edge_field {
        F_CLIENT_ADDR, F_CLIENT_PROCESS, F_CLIENT_PGID,
        F_SERVER_ADDR, F_SERVER_PORT, F_SERVER_PROCESS, F_SERVER_PGID,
        F_SIDE, F_CONNECTIONS, F_OPENED, F_FAILED, F_RTT_US, F_RETRANS,
        F_BYTES_SENT, F_BYTES_RECEIVED, F_PROCESSES,
        _F_MAX,
};

static json_t *addr_array(char *const *addrs, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < n; i++)
                if (json_array_append_new(a, json_string(addrs[i])) < 0) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *edge_array(const struct nd_edge_observation *o)
{
        return json_pack("[ssIsisIsIIIIIIII]", o->client.addr, o->client.process, (json_int_t)o->client.pgid,
                         o->server.addr, (int)o->server.port, o->server.process, (json_int_t)o->server.pgid,
                         o->side == ND_SIDE_SERVER ? "server" : "client", (json_int_t)o->connections,
                         (json_int_t)o->opened, (json_int_t)o->failed, (json_int_t)o->rtt_us,
                         (json_int_t)o->retrans, (json_int_t)o->bytes_sent, (json_int_t)o->bytes_received,
                         (json_int_t)o->processes);
}

int nd_flush_to_json(const struct nd_flush *f, char **ret, size_t *ret_size)
{
        json_t *root, *namespaces = json_array(), *edges = json_array();
        char *text;
        bool ok = namespaces && edges;

        for (size_t i = 0; ok && i < f->addrs.n_named; i++) {
                const struct nd_named_addrs *g = &f->addrs.named[i];
                ok = json_array_append_new(namespaces, json_pack("{s:s, s:o*}", "name", g->name, "addrs",
                                                                 addr_array(g->addrs, g->n_addrs))) == 0;
        }
        for (size_t i = 0; ok && i < f->n_rows; i++)
                ok = json_array_append_new(edges, edge_array(&f->rows[i])) == 0;
        if (!ok) {
                json_decref(namespaces);
                json_decref(edges);
                return -ENOMEM;
        }
        root = json_pack("{s:i, s:s, s:I, s:I, s:o*, s:o, s:o}", "netdep_flush", ND_FLUSH_JSON_VERSION,
                         "hostname", f->hostname, "ts", (json_int_t)f->ts, "first_ts", (json_int_t)f->first_ts,
                         "addrs", addr_array(f->addrs.addrs, f->addrs.n_addrs), "namespaces", namespaces,
                         "edges", edges);
        if (!root)
                return -ENOMEM;
        text = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        if (!text)
                return -ENOMEM;
        *ret = text;
        *ret_size = strlen(text);
        return 0;
}

/* ---- reading ---- */

static int get_addrs(struct nd_json_reader *rd, json_t *v, const char *what, size_t *budget, char ***ret, size_t *ret_n)
{
        size_t n;
        char **addrs;

        if (!json_is_array(v))
                return nd_json_bad(rd, "%s: want an array of addresses", what);
        n = json_array_size(v);
        if (n > *budget)
                return nd_json_bad(rd, "%s: more than %d addresses in the flush", what, ND_FLUSH_MAX_ADDRS);
        *budget -= n;
        addrs = calloc(n ? n : 1, sizeof(*addrs));
        if (!addrs)
                return -ENOMEM;
        *ret = addrs;
        for (size_t i = 0; i < n; i++) {
                char where[64], text[ND_ADDR_TEXT_MAX];

                snprintf(where, sizeof(where), "%s[%zu]", what, i);
                if (nd_json_get_addr(rd, json_array_get(v, i), where, text) < 0)
                        return -EBADMSG;
                if (!(addrs[i] = strdup(text)))
                        return -ENOMEM;
                (*ret_n)++;
        }
        return 0;
}

static int get_edge_fields(struct nd_json_reader *rd, json_t *v, size_t index, struct nd_edge_observation *o)
{
        static const char *const names[_F_MAX] = {
                "client address", "client process", "client pgid", "server address", "server port",
                "server process", "server pgid", "side", "connections", "opened", "failed", "rtt_us",
                "retrans", "bytes_sent", "bytes_received", "processes",
        };
        const char *const *what = names; /* "edges[N] " is put before, on failure only */
        long long x[_F_MAX] = {};
        int r = 0;

        if (!json_is_array(v) || json_array_size(v) != _F_MAX)
                return nd_json_bad(rd, "edges[%zu]: want an array of %d fields", index, _F_MAX);

        r = nd_json_get_addr(rd, json_array_get(v, F_CLIENT_ADDR), what[F_CLIENT_ADDR], o->client.addr);
        if (r >= 0)
                r = nd_json_get_name(rd, json_array_get(v, F_CLIENT_PROCESS), what[F_CLIENT_PROCESS], ND_PROCESS_NAME_MAX,
                             true, o->client.process);
        if (r >= 0)
                r = nd_json_get_addr(rd, json_array_get(v, F_SERVER_ADDR), what[F_SERVER_ADDR], o->server.addr);
        if (r >= 0)
                r = nd_json_get_name(rd, json_array_get(v, F_SERVER_PROCESS), what[F_SERVER_PROCESS], ND_PROCESS_NAME_MAX,
                             true, o->server.process);
        if (r < 0)
                return r;
        if (!json_is_string(json_array_get(v, F_SIDE)))
                return nd_json_bad(rd, "%s: want \"client\" or \"server\"", what[F_SIDE]);
        if (strcmp(json_string_value(json_array_get(v, F_SIDE)), "client") == 0)
                o->side = ND_SIDE_CLIENT;
        else if (strcmp(json_string_value(json_array_get(v, F_SIDE)), "server") == 0)
                o->side = ND_SIDE_SERVER;
        else
                return nd_json_bad(rd, "%s: want \"client\" or \"server\"", what[F_SIDE]);

        for (int i = 0; r >= 0 && i < _F_MAX; i++) {
                long long min = 0, max = UINT32_MAX;

                switch (i) {
                case F_CLIENT_ADDR:
                case F_CLIENT_PROCESS:
                case F_SERVER_ADDR:
                case F_SERVER_PROCESS:
                case F_SIDE:
                        continue;
                case F_CLIENT_PGID:
                case F_SERVER_PGID:
                        min = -1;
                        max = INT32_MAX;
                        break;
                case F_SERVER_PORT:
                        min = 1;
                        max = 65535;
                        break;
                case F_RETRANS:
                case F_BYTES_SENT:
                case F_BYTES_RECEIVED:
                        max = INT64_MAX; /* JSON's integers here are 64-bit signed */
                        break;
                default:
                        break;
                }
                r = nd_json_get_int(rd, json_array_get(v, i), what[i], min, max, &x[i]);
        }
        if (r < 0)
                return r;
        o->client.port = 0;
        o->client.pgid = (int32_t)x[F_CLIENT_PGID];
        o->server.port = (uint16_t)x[F_SERVER_PORT];
        o->server.pgid = (int32_t)x[F_SERVER_PGID];
        o->connections = (uint32_t)x[F_CONNECTIONS];
        o->opened = (uint32_t)x[F_OPENED];
        o->failed = (uint32_t)x[F_FAILED];
        o->rtt_us = (uint32_t)x[F_RTT_US];
        o->retrans = (uint64_t)x[F_RETRANS];
        o->bytes_sent = (uint64_t)x[F_BYTES_SENT];
        o->bytes_received = (uint64_t)x[F_BYTES_RECEIVED];
        o->processes = (uint32_t)x[F_PROCESSES];
        return 0;
}

/* An edge's fields, each named in a failure's reason as "edges[N] name":
 * the index is formatted only then, not 16 times an edge. */
static int get_edge(struct nd_json_reader *rd, json_t *v, size_t index, struct nd_edge_observation *o)
{
        bool failed_before = rd->failed;
        int r = get_edge_fields(rd, v, index, o);

        if (r < 0 && !failed_before && rd->why_size > 0 && strncmp(rd->why, "edges[", 6) != 0) {
                char reason[512];

                snprintf(reason, sizeof(reason), "%s", rd->why);
                snprintf(rd->why, rd->why_size, "edges[%zu] %s", index, reason);
        }
        return r;
}

/* Times a flush may carry: from 2000 to 2100, unix seconds. */
#define TS_MIN 946684800LL
#define TS_MAX 4102444800LL

static int read_flush(struct nd_json_reader *rd, json_t *root, struct nd_flush *f)
{
        static const char *const known[] = { "netdep_flush", "hostname", "ts", "first_ts", "addrs", "namespaces",
                                             "edges" };
        char hostname[256];
        size_t budget = ND_FLUSH_MAX_ADDRS, n;
        long long version, ts, first_ts;
        json_t *v, *edges, *namespaces;
        int r;

        if (!json_is_object(root))
                return nd_json_bad(rd, "want a JSON object");
        if (nd_json_only_known(rd, root, known, sizeof(known) / sizeof(known[0])) < 0)
                return -EBADMSG;
        v = json_object_get(root, "netdep_flush");
        if (!v)
                return nd_json_bad(rd, "missing field 'netdep_flush' (not a netdep flush)");
        if (nd_json_get_int(rd, v, "netdep_flush", ND_FLUSH_JSON_VERSION, ND_FLUSH_JSON_VERSION, &version) < 0)
                return -EBADMSG;
        for (size_t i = 1; i < sizeof(known) / sizeof(known[0]); i++)
                if (!json_object_get(root, known[i]))
                        return nd_json_bad(rd, "missing field '%s'", known[i]);

        if (nd_json_get_name(rd, json_object_get(root, "hostname"), "hostname", sizeof(hostname), false, hostname) < 0 ||
            nd_json_get_int(rd, json_object_get(root, "ts"), "ts", TS_MIN, TS_MAX, &ts) < 0 ||
            nd_json_get_int(rd, json_object_get(root, "first_ts"), "first_ts", TS_MIN, ts, &first_ts) < 0)
                return -EBADMSG;
        if (!(f->hostname = strdup(hostname)))
                return -ENOMEM;
        f->ts = ts;
        f->first_ts = first_ts;

        r = get_addrs(rd, json_object_get(root, "addrs"), "addrs", &budget, &f->addrs.addrs, &f->addrs.n_addrs);
        if (r < 0)
                return r;

        namespaces = json_object_get(root, "namespaces");
        if (!json_is_array(namespaces))
                return nd_json_bad(rd, "namespaces: want an array");
        n = json_array_size(namespaces);
        if (n > ND_FLUSH_MAX_NAMESPACES)
                return nd_json_bad(rd, "namespaces: more than %d", ND_FLUSH_MAX_NAMESPACES);
        if (n > 0 && !(f->addrs.named = calloc(n, sizeof(*f->addrs.named))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *g = json_array_get(namespaces, i);
                struct nd_named_addrs *named = &f->addrs.named[i];
                char what[64], name[256];

                snprintf(what, sizeof(what), "namespaces[%zu]", i);
                if (!json_is_object(g) || json_object_size(g) != 2 || !json_object_get(g, "name") ||
                    !json_object_get(g, "addrs"))
                        return nd_json_bad(rd, "%s: want {\"name\": ..., \"addrs\": [...]}", what);
                snprintf(what, sizeof(what), "namespaces[%zu].name", i);
                if (nd_json_get_name(rd, json_object_get(g, "name"), what, sizeof(name), false, name) < 0)
                        return -EBADMSG;
                if (!(named->name = strdup(name)))
                        return -ENOMEM;
                f->addrs.n_named++;
                snprintf(what, sizeof(what), "namespaces[%zu].addrs", i);
                r = get_addrs(rd, json_object_get(g, "addrs"), what, &budget, &named->addrs, &named->n_addrs);
                if (r < 0)
                        return r;
        }

        edges = json_object_get(root, "edges");
        if (!json_is_array(edges))
                return nd_json_bad(rd, "edges: want an array");
        n = json_array_size(edges);
        if (n > ND_FLUSH_MAX_EDGES)
                return nd_json_bad(rd, "edges: %zu, more than %d", n, ND_FLUSH_MAX_EDGES);
        if (!(f->rows = calloc(n ? n : 1, sizeof(*f->rows))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = get_edge(rd, json_array_get(edges, i), i, &f->rows[i]);
                if (r < 0)
                        return r;
                f->n_rows++;
        }
        return 0;
}

int nd_flush_from_json(const char *buf, size_t size, struct nd_flush **ret, char *why, size_t why_size)
{
        struct nd_json_reader rd = { why, why_size, false };
        struct nd_flush *f;
        json_t *root;
        int r;

        if (why_size > 0)
                why[0] = '\0';
        if (nd_json_load(&rd, buf, size, &root) < 0)
                return -EBADMSG;
        f = calloc(1, sizeof(*f));
        if (!f) {
                json_decref(root);
                return -ENOMEM;
        }
        r = read_flush(&rd, root, f);
        json_decref(root);
        if (r < 0) {
                nd_flush_free(f);
                if (r == -ENOMEM && why_size > 0)
                        snprintf(why, why_size, "out of memory");
                return r;
        }
        *ret = f;
        return 0;
}
