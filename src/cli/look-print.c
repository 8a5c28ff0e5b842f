#include "cli/look-print.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/graph-print.h"
#include "model/endpoint_graph.h"
#include "shared/strmap.h"

/* "db1 10.77.0.10:5432 (postgres, pgid 4242)" */
static void node_text(const struct nd_look_node *n, char *buf, size_t size)
{
        char ep[ND_LABEL_MAX + 16], proc[64];

        cli_format_endpoint(n->label, n->port, ep, sizeof(ep));
        cli_format_process(n->process, n->pgid, n->port ? 0 : n->processes, n->at_least, proc, sizeof(proc));
        snprintf(buf, size, "%s%s%s (%s)", n->name ? n->name : "", n->name ? " " : "", ep, proc);
}

/* Where a node that is not expanded again points: the labels whose
 * subtree the tree shows, and which of them are printed so far. */
struct subtrees {
        struct strmap shown, printed;
};

static void find_subtrees(struct subtrees *t, const struct nd_look_node *nodes, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const struct nd_look_node *c = &nodes[i];
                if (c->n_children && !c->seen && !c->cycle)
                        strmap_put(&t->shown, c->label, 0, NULL);
                find_subtrees(t, c->children, c->n_children);
        }
}

static const char *seen_note(const struct subtrees *t, const struct nd_look_node *n)
{
        size_t ignored;

        if (n->cycle)
                return "  (cycle)";
        if (!n->seen || !strmap_get(&t->shown, n->label, &ignored))
                return ""; /* nothing shown under it anywhere */
        return strmap_get(&t->printed, n->label, &ignored) ? "  (see above)" : "  (see below)";
}

static void print_node(FILE *out, struct subtrees *t, int64_t as_of, const struct nd_look_node *n,
                       const struct nd_look_node *parent, const char *prefix, bool last)
{
        char text[ND_LABEL_MAX + 400], child_prefix[1024], age[16];

        node_text(n, text, sizeof(text));
        if (n->n_children && !n->seen && !n->cycle)
                strmap_put(&t->printed, n->label, 0, NULL);
        if (!parent) {
                fprintf(out, "%s\n", text);
                child_prefix[0] = 0;
        } else {
                fprintf(out, "%s%s%s %s  connections %u", prefix, last ? "└" : "├",
                        n->direction == ND_LOOK_IN ? "<--" : "-->", text, n->connections);
                /* Streaming mode's counts, where an agent streamed. */
                if (n->opened)
                        fprintf(out, "  opened %llu", (unsigned long long)n->opened);
                if (n->failed)
                        fprintf(out, "  failed %llu", (unsigned long long)n->failed);
                /* Where the edge meets the parent's host elsewhere than at
                 * the parent: the port and process it goes to (in), or the
                 * process that makes the call (out). */
                if (n->direction == ND_LOOK_IN && n->to_port && parent->port != n->to_port)
                        fprintf(out, "  to :%u (%s)", n->to_port, n->peer_process[0] ? n->peer_process : "?");
                if (n->direction == ND_LOOK_OUT && (parent->port || strcmp(parent->process, n->peer_process)))
                        fprintf(out, "  by %s", n->peer_process[0] ? n->peer_process : "?");
                if (as_of - n->last_seen > CLI_CURRENT_SECONDS) {
                        cli_format_age(as_of - n->last_seen, age, sizeof(age));
                        fprintf(out, "  last seen %s ago", age);
                }
                fprintf(out, "%s\n", seen_note(t, n));
                snprintf(child_prefix, sizeof(child_prefix), "%s%s", prefix, last ? "     " : "│    ");
        }
        for (size_t i = 0; i < n->n_children; i++)
                print_node(out, t, as_of, &n->children[i], n, child_prefix, i + 1 == n->n_children);
}

/* One direction's roots: labels are expanded once per direction. */
static void print_roots(FILE *out, int64_t as_of, const struct nd_look_node *roots, size_t n)
{
        struct subtrees t;

        strmap_init(&t.shown);
        strmap_init(&t.printed);
        find_subtrees(&t, roots, n);
        for (size_t i = 0; i < n; i++)
                print_node(out, &t, as_of, &roots[i], NULL, "", true);
        strmap_done(&t.shown);
        strmap_done(&t.printed);
}

static json_t *node_json(const struct nd_look_node *n, int64_t as_of, bool root)
{
        json_t *children = json_array();
        json_t *o;

        for (size_t i = 0; children && i < n->n_children; i++)
                json_array_append_new(children, node_json(&n->children[i], as_of, false));
        o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:b, s:b}",
                      "label", n->label,
                      "name", n->name ? json_string(n->name) : json_null(),
                      "port", n->port ? json_integer(n->port) : json_null(),
                      "process", n->process[0] ? json_string(n->process) : json_null(),
                      "pgid", n->pgid >= 0 ? json_integer(n->pgid) : json_null(),
                      "connections", (json_int_t)n->connections,
                      "opened", (json_int_t)n->opened,
                      "failed", (json_int_t)n->failed,
                      "first_seen", (json_int_t)n->first_seen,
                      "last_seen", (json_int_t)n->last_seen,
                      "age_s", (json_int_t)(as_of - n->last_seen),
                      "current", as_of - n->last_seen <= CLI_CURRENT_SECONDS,
                      "cycle", n->cycle,
                      "seen", n->seen);
        if (o && !n->port)
                json_object_set_new(o, "processes", json_integer(n->processes));
        if (o && !root && n->direction == ND_LOOK_IN && n->to_port) {
                json_object_set_new(o, "to_port", json_integer(n->to_port));
                json_object_set_new(o, "to_process", n->peer_process[0] ? json_string(n->peer_process) : json_null());
        }
        if (o && !root && n->direction == ND_LOOK_OUT)
                json_object_set_new(o, "by_process", n->peer_process[0] ? json_string(n->peer_process) : json_null());
        if (o)
                json_object_set_new(o, "children", children ? children : json_array());
        return o;
}

static json_t *roots_json(const struct nd_look_node *roots, size_t n, int64_t as_of)
{
        json_t *a = json_array();

        for (size_t i = 0; a && i < n; i++)
                json_array_append_new(a, node_json(&roots[i], as_of, true));
        return a;
}

static int print_json(FILE *out, const struct nd_look_result *r)
{
        json_t *o = json_pack("{s:I, s:o, s:o, s:b}", "as_of", (json_int_t)r->as_of,
                              "in", roots_json(r->in_roots, r->n_in, r->as_of),
                              "out", roots_json(r->out_roots, r->n_out, r->as_of), "truncated", r->truncated);
        int ret;

        if (!o)
                return -ENOMEM;
        ret = json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(o);
        return ret < 0 ? -EIO : 0;
}

static int print_picture(FILE *out, const struct nd_look_result *r, enum graph_format format)
{
        struct nd_endpoint_graph g;
        int ret = 0;

        nd_endpoint_graph_init(&g, ND_GROUP_BY_PROCESS);
        ret = nd_look_picture(r, &g);
        if (ret >= 0)
                ret = graph_print(out, &g, format, r->as_of);
        nd_endpoint_graph_done(&g);
        return ret;
}

int look_print(FILE *out, const struct nd_look_result *r, enum look_format format)
{
        switch (format) {
        case LOOK_FORMAT_JSON:
                return print_json(out, r);
        case LOOK_FORMAT_DOT:
                return print_picture(out, r, GRAPH_FORMAT_DOT);
        case LOOK_FORMAT_MERMAID:
                return print_picture(out, r, GRAPH_FORMAT_MERMAID);
        default:
                print_roots(out, r->as_of, r->in_roots, r->n_in);
                print_roots(out, r->as_of, r->out_roots, r->n_out);
                if (r->truncated)
                        fprintf(out, "(cut at %d nodes)\n", ND_LOOK_MAX_NODES);
                return ferror(out) ? -EIO : 0;
        }
}
