#include "agent/flush_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/addr.h"

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

struct reader {
        char *why;
        size_t why_size;
        bool failed;
};

static int bad(struct reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct reader *rd, const char *fmt, ...)
{
        va_list ap;

        if (!rd->failed) {
                va_start(ap, fmt);
                vsnprintf(rd->why, rd->why_size, fmt, ap);
                va_end(ap);
                rd->failed = true;
        }
        return -EBADMSG;
}

/* A name: printable, no control characters, 1..max-1 bytes. */
static bool printable(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

static int get_name(struct reader *rd, json_t *v, const char *what, size_t max, bool may_be_empty, char *out)
{
        size_t len;

        if (!json_is_string(v))
                return bad(rd, "%s: want a string", what);
        len = json_string_length(v);
        if (len >= max || (!may_be_empty && len == 0) || !printable(json_string_value(v), len) ||
            strlen(json_string_value(v)) != len)
                return bad(rd, "%s: want %s%zu bytes of printable text", what, may_be_empty ? "0 to " : "1 to ",
                           max - 1);
        memcpy(out, json_string_value(v), len + 1);
        return 0;
}

static int get_int(struct reader *rd, json_t *v, const char *what, long long min, long long max, long long *ret)
{
        if (!json_is_integer(v))
                return bad(rd, "%s: want an integer", what);
        if (json_integer_value(v) < min || json_integer_value(v) > max)
                return bad(rd, "%s: %lld out of range %lld..%lld", what, (long long)json_integer_value(v), min, max);
        *ret = json_integer_value(v);
        return 0;
}

/* An address in its canonical form, as the agent writes it. */
static int get_addr(struct reader *rd, json_t *v, const char *what, char out[ND_ADDR_TEXT_MAX])
{
        struct nd_addr a;
        char canonical[ND_ADDR_STRLEN];

        if (get_name(rd, v, what, ND_ADDR_TEXT_MAX, false, out) < 0)
                return -EBADMSG;
        if (nd_addr_parse(out, &a) < 0)
                return bad(rd, "%s: '%s' is not an IP address", what, out);
        if (strcmp(nd_addr_format(&a, canonical), out) != 0)
                return bad(rd, "%s: '%s' is not in canonical form ('%s')", what, out, canonical);
        return 0;
}

static int get_addrs(struct reader *rd, json_t *v, const char *what, size_t *budget, char ***ret, size_t *ret_n)
{
        size_t n;
        char **addrs;

        if (!json_is_array(v))
                return bad(rd, "%s: want an array of addresses", what);
        n = json_array_size(v);
        if (n > *budget)
                return bad(rd, "%s: more than %d addresses in the flush", what, ND_FLUSH_MAX_ADDRS);
        *budget -= n;
        addrs = calloc(n ? n : 1, sizeof(*addrs));
        if (!addrs)
                return -ENOMEM;
        *ret = addrs;
        for (size_t i = 0; i < n; i++) {
                char where[64], text[ND_ADDR_TEXT_MAX];

                snprintf(where, sizeof(where), "%s[%zu]", what, i);
                if (get_addr(rd, json_array_get(v, i), where, text) < 0)
                        return -EBADMSG;
                if (!(addrs[i] = strdup(text)))
                        return -ENOMEM;
                (*ret_n)++;
        }
        return 0;
}

static int get_edge(struct reader *rd, json_t *v, size_t index, struct nd_edge_observation *o)
{
        static const char *const names[_F_MAX] = {
                "client address", "client process", "client pgid", "server address", "server port",
                "server process", "server pgid", "side", "connections", "opened", "failed", "rtt_us",
                "retrans", "bytes_sent", "bytes_received", "processes",
        };
        char what[_F_MAX][64];
        long long x[_F_MAX] = {};
        int r = 0;

        if (!json_is_array(v) || json_array_size(v) != _F_MAX)
                return bad(rd, "edges[%zu]: want an array of %d fields", index, _F_MAX);
        for (int i = 0; i < _F_MAX; i++)
                snprintf(what[i], sizeof(what[i]), "edges[%zu] %s", index, names[i]);

        r = get_addr(rd, json_array_get(v, F_CLIENT_ADDR), what[F_CLIENT_ADDR], o->client.addr);
        if (r >= 0)
                r = get_name(rd, json_array_get(v, F_CLIENT_PROCESS), what[F_CLIENT_PROCESS], ND_PROCESS_NAME_MAX,
                             true, o->client.process);
        if (r >= 0)
                r = get_addr(rd, json_array_get(v, F_SERVER_ADDR), what[F_SERVER_ADDR], o->server.addr);
        if (r >= 0)
                r = get_name(rd, json_array_get(v, F_SERVER_PROCESS), what[F_SERVER_PROCESS], ND_PROCESS_NAME_MAX,
                             true, o->server.process);
        if (r < 0)
                return r;
        if (!json_is_string(json_array_get(v, F_SIDE)))
                return bad(rd, "%s: want \"client\" or \"server\"", what[F_SIDE]);
        if (strcmp(json_string_value(json_array_get(v, F_SIDE)), "client") == 0)
                o->side = ND_SIDE_CLIENT;
        else if (strcmp(json_string_value(json_array_get(v, F_SIDE)), "server") == 0)
                o->side = ND_SIDE_SERVER;
        else
                return bad(rd, "%s: want \"client\" or \"server\"", what[F_SIDE]);

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
                r = get_int(rd, json_array_get(v, i), what[i], min, max, &x[i]);
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

/* Times a flush may carry: from 2000 to 2100, unix seconds. */
#define TS_MIN 946684800LL
#define TS_MAX 4102444800LL

static int read_flush(struct reader *rd, json_t *root, struct nd_flush *f)
{
        static const char *const known[] = { "netdep_flush", "hostname", "ts", "first_ts", "addrs", "namespaces",
                                             "edges" };
        char hostname[256];
        size_t budget = ND_FLUSH_MAX_ADDRS, n;
        long long version, ts, first_ts;
        json_t *v, *edges, *namespaces;
        const char *key;
        int r;

        if (!json_is_object(root))
                return bad(rd, "want a JSON object");
        json_object_foreach(root, key, v) {
                bool ok = false;
                for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
                        ok = ok || strcmp(key, known[i]) == 0;
                if (!ok)
                        return bad(rd, "unknown field '%.64s'", key);
        }
        v = json_object_get(root, "netdep_flush");
        if (!v)
                return bad(rd, "missing field 'netdep_flush' (not a netdep flush)");
        if (get_int(rd, v, "netdep_flush", ND_FLUSH_JSON_VERSION, ND_FLUSH_JSON_VERSION, &version) < 0)
                return -EBADMSG;
        for (size_t i = 1; i < sizeof(known) / sizeof(known[0]); i++)
                if (!json_object_get(root, known[i]))
                        return bad(rd, "missing field '%s'", known[i]);

        if (get_name(rd, json_object_get(root, "hostname"), "hostname", sizeof(hostname), false, hostname) < 0 ||
            get_int(rd, json_object_get(root, "ts"), "ts", TS_MIN, TS_MAX, &ts) < 0 ||
            get_int(rd, json_object_get(root, "first_ts"), "first_ts", TS_MIN, ts, &first_ts) < 0)
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
                return bad(rd, "namespaces: want an array");
        n = json_array_size(namespaces);
        if (n > ND_FLUSH_MAX_NAMESPACES)
                return bad(rd, "namespaces: more than %d", ND_FLUSH_MAX_NAMESPACES);
        if (n > 0 && !(f->addrs.named = calloc(n, sizeof(*f->addrs.named))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *g = json_array_get(namespaces, i);
                struct nd_named_addrs *named = &f->addrs.named[i];
                char what[64], name[256];

                snprintf(what, sizeof(what), "namespaces[%zu]", i);
                if (!json_is_object(g) || json_object_size(g) != 2 || !json_object_get(g, "name") ||
                    !json_object_get(g, "addrs"))
                        return bad(rd, "%s: want {\"name\": ..., \"addrs\": [...]}", what);
                snprintf(what, sizeof(what), "namespaces[%zu].name", i);
                if (get_name(rd, json_object_get(g, "name"), what, sizeof(name), false, name) < 0)
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
                return bad(rd, "edges: want an array");
        n = json_array_size(edges);
        if (n > ND_FLUSH_MAX_EDGES)
                return bad(rd, "edges: %zu, more than %d", n, ND_FLUSH_MAX_EDGES);
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
        struct reader rd = { why, why_size, false };
        struct nd_flush *f;
        json_error_t error;
        json_t *root;
        int r;

        if (why_size > 0)
                why[0] = '\0';
        /* No duplicate keys; and the text must be one JSON value. */
        root = json_loadb(buf, size, JSON_REJECT_DUPLICATES, &error);
        if (!root) {
                bad(&rd, "invalid JSON at line %d column %d: %s", error.line, error.column, error.text);
                return -EBADMSG;
        }
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
