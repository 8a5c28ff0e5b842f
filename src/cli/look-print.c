#include "cli/look-print.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "shared/strmap.h"

static void process(const struct nd_look_node *n, char *buf, size_t size)
{
        const char *name = n->process[0] ? n->process : "?";

        if (n->pgid >= 0)
                snprintf(buf, size, "(%s, pgid %d)", name, (int)n->pgid);
        else
                snprintf(buf, size, "(%s)", name);
}

static void print_node(FILE *out, const struct nd_look_node *n, const struct nd_look_node *parent,
                       const char *prefix, bool last)
{
        char ep[256], proc[64], child_prefix[1024];

        cli_format_endpoint(n->label, n->port, ep, sizeof(ep));
        process(n, proc, sizeof(proc));
        if (!parent) {
                fprintf(out, "%s %s\n", ep, proc);
                child_prefix[0] = 0;
        } else {
                fprintf(out, "%s%s%s %s %s  connections %u", prefix, last ? "└" : "├",
                        n->direction == ND_LOOK_IN ? "<--" : "-->", ep, proc, n->connections);
                /* Streaming mode's counts, where an agent streamed. */
                if (n->opened)
                        fprintf(out, "  opened %llu", (unsigned long long)n->opened);
                if (n->failed)
                        fprintf(out, "  failed %llu", (unsigned long long)n->failed);
                /* A client's target port, where its parent does not show it. */
                if (n->direction == ND_LOOK_IN && n->to_port && parent->port != n->to_port)
                        fprintf(out, "  to :%u", n->to_port);
                fputs(n->cycle ? "  (cycle)\n" : n->seen ? "  (see above)\n" : "\n", out);
                snprintf(child_prefix, sizeof(child_prefix), "%s%s", prefix, last ? "     " : "│    ");
        }
        for (size_t i = 0; i < n->n_children; i++)
                print_node(out, &n->children[i], n, child_prefix, i + 1 == n->n_children);
}

static json_t *node_json(const struct nd_look_node *n)
{
        json_t *children = json_array();
        json_t *o;

        for (size_t i = 0; children && i < n->n_children; i++)
                json_array_append_new(children, node_json(&n->children[i]));
        o = json_pack("{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:b, s:b, s:o}",
                      "label", n->label,
                      "port", n->port ? json_integer(n->port) : json_null(),
                      "process", n->process[0] ? json_string(n->process) : json_null(),
                      "pgid", n->pgid >= 0 ? json_integer(n->pgid) : json_null(),
                      "connections", (json_int_t)n->connections,
                      "opened", (json_int_t)n->opened,
                      "failed", (json_int_t)n->failed,
                      "cycle", n->cycle,
                      "seen", n->seen,
                      "children", children ? children : json_array());
        if (o && n->direction == ND_LOOK_IN && n->to_port)
                json_object_set_new(o, "to_port", json_integer(n->to_port));
        return o;
}

static json_t *roots_json(const struct nd_look_node *roots, size_t n)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, node_json(&roots[i]));
        return a;
}

static int print_json(FILE *out, const struct nd_look_result *r)
{
        json_t *o = json_pack("{s:o, s:o, s:b}", "in", roots_json(r->in_roots, r->n_in), "out",
                              roots_json(r->out_roots, r->n_out), "truncated", r->truncated);
        int ret;

        if (!o)
                return -ENOMEM;
        ret = json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(o);
        return ret < 0 ? -EIO : 0;
}

/* DOT: one node per endpoint, one edge per client -> server pair. */
struct dot {
        FILE *out;
        struct strmap nodes, edges;
};

static void dot_id(const char *label, int port, char *buf, size_t size)
{
        snprintf(buf, size, "%s:%s%d", label, port > 0 ? "" : "many", port > 0 ? port : 0);
}

static void dot_node(struct dot *d, const struct nd_look_node *n, int port, char *id, size_t size)
{
        char ep[256], proc[64];

        dot_id(n->label, port, id, size);
        if (strmap_put(&d->nodes, id, 0, NULL) <= 0)
                return;
        cli_format_endpoint(n->label, port, ep, sizeof(ep));
        process(n, proc, sizeof(proc));
        fprintf(d->out, "  \"%s\" [label=\"%s\\n%s\"];\n", id, ep, proc);
}

static void dot_walk(struct dot *d, const struct nd_look_node *n)
{
        for (size_t i = 0; i < n->n_children; i++) {
                const struct nd_look_node *c = &n->children[i];
                char from[300], to[300], key[700];

                if (c->direction == ND_LOOK_IN) { /* c (client) -> n */
                        dot_node(d, c, 0, from, sizeof(from));
                        dot_node(d, n, n->port ? n->port : c->to_port, to, sizeof(to));
                } else { /* n (client) -> c */
                        dot_node(d, n, 0, from, sizeof(from));
                        dot_node(d, c, c->port, to, sizeof(to));
                }
                snprintf(key, sizeof(key), "%s>%s", from, to);
                if (strmap_put(&d->edges, key, 0, NULL) > 0) {
                        char extra[80] = "";
                        if (c->opened || c->failed)
                                snprintf(extra, sizeof(extra), " (opened %llu, failed %llu)",
                                         (unsigned long long)c->opened, (unsigned long long)c->failed);
                        fprintf(d->out, "  \"%s\" -> \"%s\" [label=\"%u%s\"%s];\n", from, to, c->connections,
                                extra, c->failed ? ", color=red" : "");
                }
                dot_walk(d, c);
        }
}

static int print_dot(FILE *out, const struct nd_look_result *r)
{
        struct dot d = { .out = out };

        strmap_init(&d.nodes);
        strmap_init(&d.edges);
        fputs("digraph netdep {\n  rankdir=LR;\n  node [shape=box];\n", out);
        for (size_t i = 0; i < r->n_in; i++)
                dot_walk(&d, &r->in_roots[i]);
        for (size_t i = 0; i < r->n_out; i++)
                dot_walk(&d, &r->out_roots[i]);
        fputs("}\n", out);
        strmap_done(&d.nodes);
        strmap_done(&d.edges);
        return 0;
}

int look_print(FILE *out, const struct nd_look_result *r, enum look_format format)
{
        switch (format) {
        case LOOK_FORMAT_JSON:
                return print_json(out, r);
        case LOOK_FORMAT_DOT:
                return print_dot(out, r);
        default:
                for (size_t i = 0; i < r->n_in; i++)
                        print_node(out, &r->in_roots[i], NULL, "", true);
                for (size_t i = 0; i < r->n_out; i++)
                        print_node(out, &r->out_roots[i], NULL, "", true);
                if (r->truncated)
                        fprintf(out, "(cut at %d nodes)\n", ND_LOOK_MAX_NODES);
                return ferror(out) ? -EIO : 0;
        }
}
