#include "cli/graph-print.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "shared/log.h"

/* "db1 10.77.0.10:5432", "app1 10.77.0.31", "10.77.0.9:many". */
static void node_place(const struct nd_endpoint_node *n, char *buf, size_t size)
{
        char ep[ND_ENDPOINT_LABEL_MAX + 16];

        if (n->kind == ND_NODE_SERVER)
                cli_format_endpoint(n->label, n->port, ep, sizeof(ep));
        else
                snprintf(ep, sizeof(ep), "%s", n->label);
        snprintf(buf, size, "%s%s%s", n->name ? n->name : "", n->name ? " " : "", ep);
}

static void node_process(const struct nd_endpoint_node *n, char *buf, size_t size)
{
        if (n->kind == ND_NODE_HOST)
                buf[0] = 0;
        else
                cli_format_process(n->process, n->pgid, n->kind == ND_NODE_CLIENT ? n->processes : 0, n->at_least,
                                   buf, size);
}

static void link_ports(const struct nd_endpoint_link *l, char *buf, size_t size)
{
        size_t used = 0;

        buf[0] = 0;
        for (uint8_t i = 0; i < l->n_ports && used < size; i++)
                used += (size_t)snprintf(buf + used, size - used, "%s:%u", i ? ", " : "", l->ports[i]);
        if (l->more_ports && used < size)
                snprintf(buf + used, size - used, ", ...");
}

static bool is_current(const struct nd_endpoint_link *l, int64_t as_of)
{
        return as_of - l->counts.last_seen <= CLI_CURRENT_SECONDS;
}

/* "3 conns, opened 40, failed 2, 11m ago" */
static void link_text(const struct nd_endpoint_graph *g, const struct nd_endpoint_link *l, int64_t as_of,
                      char *buf, size_t size)
{
        char ports[64] = "", age[16];
        size_t used;

        if (g->grouping == ND_GROUP_BY_HOST)
                link_ports(l, ports, sizeof(ports));
        used = (size_t)snprintf(buf, size, "%s%s%u conn%s", ports, ports[0] ? " " : "", l->counts.connections,
                                l->counts.connections == 1 ? "" : "s");
        if (used < size && l->counts.opened)
                used += (size_t)snprintf(buf + used, size - used, ", opened %llu",
                                         (unsigned long long)l->counts.opened);
        if (used < size && l->counts.failed)
                used += (size_t)snprintf(buf + used, size - used, ", failed %llu",
                                         (unsigned long long)l->counts.failed);
        if (used < size && !is_current(l, as_of)) {
                cli_format_age(as_of - l->counts.last_seen, age, sizeof(age));
                snprintf(buf + used, size - used, ", last seen %s ago", age);
        }
}

static const char *kind_name(enum nd_node_kind k)
{
        return k == ND_NODE_SERVER ? "server" : k == ND_NODE_CLIENT ? "client" : "host";
}

/* A DOT or Mermaid string: quotes and backslashes escaped. */
static void quoted(FILE *out, const char *s, bool mermaid)
{
        for (; *s; s++) {
                if (*s == '"')
                        fputs(mermaid ? "#quot;" : "\\\"", out);
                else if (*s == '\\' && !mermaid)
                        fputs("\\\\", out);
                else if (*s == '\n')
                        fputs(mermaid ? "<br>" : "\\n", out);
                else
                        fputc(*s, out);
        }
}

static void node_label(const struct nd_endpoint_node *n, char *buf, size_t size)
{
        char place[ND_ENDPOINT_LABEL_MAX + 300], proc[64];

        node_place(n, place, sizeof(place));
        node_process(n, proc, sizeof(proc));
        snprintf(buf, size, "%s%s%s", place, proc[0] ? "\n" : "", proc);
}

/* By process, a host's endpoints are drawn in one box (a cluster), so the
 * picture shows what runs where. */
static bool clustered(const struct nd_endpoint_graph *g)
{
        return g->grouping == ND_GROUP_BY_PROCESS;
}

/* By hand, not through jansson: the whole store has a million of these. */
static void json_link(FILE *out, const struct nd_endpoint_link *l, int64_t as_of, bool first)
{
        fprintf(out, "%s{\"client\":%u,\"server\":%u,\"ports\":[", first ? "\n    " : ",\n    ", l->client,
                l->server);
        for (uint8_t k = 0; k < l->n_ports; k++)
                fprintf(out, "%s%u", k ? "," : "", l->ports[k]);
        fprintf(out,
                "],\"connections\":%u,\"opened\":%llu,\"failed\":%llu,\"first_seen\":%lld,\"last_seen\":%lld,"
                "\"age_s\":%lld,\"current\":%s}",
                l->counts.connections, (unsigned long long)l->counts.opened, (unsigned long long)l->counts.failed,
                (long long)l->counts.first_seen, (long long)l->counts.last_seen,
                (long long)(as_of - l->counts.last_seen), is_current(l, as_of) ? "true" : "false");
}

static int json_node(FILE *out, const struct nd_endpoint_node *n, size_t id, bool first)
{
        json_t *j = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id, "kind", kind_name(n->kind), "label",
                              n->label, "name", n->name ? json_string(n->name) : json_null());

        if (j && n->kind != ND_NODE_HOST) {
                json_object_set_new(j, "port", n->port ? json_integer(n->port) : json_null());
                json_object_set_new(j, "process", n->process[0] ? json_string(n->process) : json_null());
                json_object_set_new(j, "pgid", n->pgid >= 0 ? json_integer(n->pgid) : json_null());
                if (n->kind == ND_NODE_CLIENT)
                        json_object_set_new(j, "processes", json_integer(n->processes));
        }
        if (!j)
                return -ENOMEM;
        fputs(first ? "\n    " : ",\n    ", out);
        json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
        return 0;
}

/* DOT through Graphviz's dot, its SVG to out: the stream writes to a pipe. */
static int start_dot(struct graph_stream *st, FILE *out)
{
        char *const argv[] = { "dot", "-Tsvg", NULL };
        posix_spawn_file_actions_t actions;
        int fds[2], r;

        fflush(out);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, fileno(out), STDOUT_FILENO);
        r = posix_spawnp(&st->dot, "dot", &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        close(fds[0]);
        if (r != 0) {
                close(fds[1]);
                return -r;
        }
        st->out = fdopen(fds[1], "w");
        if (!st->out) {
                r = -errno;
                close(fds[1]); /* dot reads end of file and ends */
                waitpid(st->dot, NULL, 0);
                st->dot = -1;
                return r;
        }
        return 0;
}

void graph_stream_abort(struct graph_stream *st)
{
        if (st->dot < 0)
                return;
        fclose(st->out); /* dot gets end of file, draws what it had, ends */
        waitpid(st->dot, NULL, 0);
        st->dot = -1;
}

int graph_stream_begin(struct graph_stream *st, FILE *out, enum graph_format format, int64_t as_of)
{
        *st = (struct graph_stream){ .out = out, .format = format, .as_of = as_of, .dot = -1 };
        return 0;
}

/* The header, on the first edge (or at the end): a question that fails
 * before any edge prints nothing. */
static int start(struct graph_stream *st)
{
        int r;

        if (st->started)
                return 0;
        st->started = true;
        if (st->format == GRAPH_FORMAT_SVG) {
                r = start_dot(st, st->out);
                if (r == -ENOENT)
                        log_error("--format svg needs Graphviz's dot program (Debian package graphviz)");
                if (r < 0)
                        return r;
        }
        switch (st->format) {
        case GRAPH_FORMAT_JSON:
                fprintf(st->out, "{\n  \"as_of\": %lld,\n  \"edges\": [", (long long)st->as_of);
                break;
        case GRAPH_FORMAT_DOT:
        case GRAPH_FORMAT_SVG:
                fputs("digraph netdep {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n"
                      "  edge [fontname=\"sans-serif\", fontsize=10];\n", st->out);
                break;
        case GRAPH_FORMAT_MERMAID:
                fputs("flowchart LR\n", st->out);
                break;
        }
        return 0;
}

int graph_stream_link(const struct nd_endpoint_graph *g, const struct nd_endpoint_link *l, void *userdata)
{
        struct graph_stream *st = userdata;
        char text[160];
        int r = start(st);

        if (r < 0)
                return st->error = r;
        switch (st->format) {
        case GRAPH_FORMAT_JSON:
                json_link(st->out, l, st->as_of, st->links == 0);
                break;
        case GRAPH_FORMAT_DOT:
        case GRAPH_FORMAT_SVG:
                link_text(g, l, st->as_of, text, sizeof(text));
                fprintf(st->out, "  n%u -> n%u [label=\"", l->client, l->server);
                quoted(st->out, text, false);
                fprintf(st->out, "\"%s%s];\n", l->counts.failed ? ", color=red" : "",
                        is_current(l, st->as_of) ? "" : ", style=dashed, color=gray50");
                break;
        case GRAPH_FORMAT_MERMAID:
                link_text(g, l, st->as_of, text, sizeof(text));
                fprintf(st->out, "  n%u %s|\"", l->client, is_current(l, st->as_of) ? "-->" : "-.->");
                quoted(st->out, text, true);
                fprintf(st->out, "\"| n%u\n", l->server);
                break;
        }
        st->links++;
        if (ferror(st->out)) {
                log_error("Failed to write the graph: %s", strerror(EIO));
                return st->error = -EIO;
        }
        return 0;
}

/* Nodes by label, so that a host's endpoints are printed together: the
 * order of printing, not their ids (links name those already). */
static int compare_by_label(const void *a, const void *b, void *userdata)
{
        const struct nd_endpoint_graph *g = userdata;
        const struct nd_endpoint_node *x = &g->nodes[*(const uint32_t *)a], *y = &g->nodes[*(const uint32_t *)b];
        int r = strcmp(x->label, y->label);

        if (r)
                return r;
        return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int print_node(struct graph_stream *st, const struct nd_endpoint_graph *g, uint32_t i, bool first,
                      bool starts_host, bool ends_host)
{
        const struct nd_endpoint_node *n = &g->nodes[i];
        bool mermaid = st->format == GRAPH_FORMAT_MERMAID, box = clustered(g);
        const char *indent = box ? "    " : "  ";
        char label[600];

        if (st->format == GRAPH_FORMAT_JSON)
                return json_node(st->out, n, i, first);
        if (box && starts_host) {
                fprintf(st->out, mermaid ? "  subgraph h%u[\"" : "  subgraph cluster_%u {\n    label=\"", i);
                quoted(st->out, n->name ? n->name : n->label, mermaid);
                fputs(mermaid ? "\"]\n" : "\";\n    style=dotted;\n", st->out);
        }
        node_label(n, label, sizeof(label));
        if (mermaid) {
                fprintf(st->out, "%sn%u%s\"", indent, i, n->kind == ND_NODE_CLIENT ? "(" : "[");
                quoted(st->out, label, true);
                fprintf(st->out, "\"%s\n", n->kind == ND_NODE_CLIENT ? ")" : "]");
        } else {
                fprintf(st->out, "%sn%u [label=\"", indent, i);
                quoted(st->out, label, false);
                fputs(n->kind == ND_NODE_CLIENT ? "\", style=rounded];\n" : "\"];\n", st->out);
        }
        if (box && ends_host)
                fputs(mermaid ? "  end\n" : "  }\n", st->out);
        return 0;
}

int graph_stream_end(struct graph_stream *st, const struct nd_endpoint_graph *g)
{
        uint32_t *order;
        pid_t pid;
        int status, r = start(st);

        if (r < 0)
                return r;
        order = malloc((g->n_nodes ? g->n_nodes : 1) * sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < g->n_nodes; i++)
                order[i] = (uint32_t)i;
        /* JSON: in id order, so that nodes[i] has id i. */
        if (st->format != GRAPH_FORMAT_JSON)
                qsort_r(order, g->n_nodes, sizeof(*order), compare_by_label, (void *)g);
        if (st->format == GRAPH_FORMAT_JSON)
                fprintf(st->out, "\n  ],\n  \"grouping\": \"%s\",\n  \"nodes\": [",
                        g->grouping == ND_GROUP_BY_HOST ? "host" : "process");
        for (size_t k = 0; k < g->n_nodes; k++) {
                bool starts = k == 0 || strcmp(g->nodes[order[k]].label, g->nodes[order[k - 1]].label) != 0;
                bool ends = k + 1 == g->n_nodes || strcmp(g->nodes[order[k]].label, g->nodes[order[k + 1]].label) != 0;
                if (r >= 0)
                        r = print_node(st, g, order[k], k == 0, starts, ends);
        }
        free(order);
        fputs(st->format == GRAPH_FORMAT_JSON ? "\n  ]\n}\n" : st->format == GRAPH_FORMAT_MERMAID ? "" : "}\n",
              st->out);
        if (r >= 0 && ferror(st->out))
                r = -EIO;
        if (st->dot < 0)
                return r;
        if (fclose(st->out) != 0 && r == 0)
                r = -EIO;
        pid = st->dot;
        st->dot = -1; /* nothing left to abort */
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                log_error("dot failed to lay out the graph");
                r = -EPROTO;
        }
        return r;
}

int graph_print(FILE *out, struct nd_endpoint_graph *g, enum graph_format format, int64_t as_of)
{
        struct graph_stream st;
        int r = nd_endpoint_graph_sort(g);

        if (r >= 0)
                r = graph_stream_begin(&st, out, format, as_of);
        for (size_t i = 0; r >= 0 && i < g->n_links; i++)
                r = graph_stream_link(g, &g->links[i], &st);
        if (r >= 0)
                r = graph_stream_end(&st, g);
        else
                graph_stream_abort(&st);
        return r;
}
