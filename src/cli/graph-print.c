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
                cli_format_process(n->process, n->pgid, n->processes, buf, size);
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

static int print_json(FILE *out, const struct nd_endpoint_graph *g, int64_t as_of)
{
        json_t *nodes = json_array(), *links = json_array(), *o;
        int r;

        for (size_t i = 0; nodes && i < g->n_nodes; i++) {
                const struct nd_endpoint_node *n = &g->nodes[i];
                json_t *j = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)i, "kind", kind_name(n->kind),
                                      "label", n->label, "name", n->name ? json_string(n->name) : json_null());

                if (j && n->kind != ND_NODE_HOST) {
                        json_object_set_new(j, "port", n->port ? json_integer(n->port) : json_null());
                        json_object_set_new(j, "process", n->process[0] ? json_string(n->process) : json_null());
                        json_object_set_new(j, "pgid", n->pgid >= 0 ? json_integer(n->pgid) : json_null());
                        if (n->kind == ND_NODE_CLIENT)
                                json_object_set_new(j, "processes", json_integer(n->processes));
                }
                json_array_append_new(nodes, j);
        }
        for (size_t i = 0; links && i < g->n_links; i++) {
                const struct nd_endpoint_link *l = &g->links[i];
                json_t *ports = json_array();

                for (uint8_t k = 0; ports && k < l->n_ports; k++)
                        json_array_append_new(ports, json_integer(l->ports[k]));
                json_array_append_new(links, json_pack("{s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
                        "client", (json_int_t)l->client, "server", (json_int_t)l->server,
                        "ports", ports ? ports : json_array(),
                        "connections", (json_int_t)l->counts.connections,
                        "opened", (json_int_t)l->counts.opened, "failed", (json_int_t)l->counts.failed,
                        "first_seen", (json_int_t)l->counts.first_seen, "last_seen", (json_int_t)l->counts.last_seen,
                        "age_s", (json_int_t)(as_of - l->counts.last_seen), "current", is_current(l, as_of)));
        }
        o = json_pack("{s:s, s:I, s:o, s:o}", "grouping", g->grouping == ND_GROUP_BY_HOST ? "host" : "process",
                      "as_of", (json_int_t)as_of, "nodes", nodes ? nodes : json_array(),
                      "edges", links ? links : json_array());
        if (!o)
                return -ENOMEM;
        r = json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', out);
        json_decref(o);
        return r < 0 ? -EIO : 0;
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
 * picture shows what runs where; nodes are sorted by label, so a host's
 * nodes are consecutive. */
static bool clustered(const struct nd_endpoint_graph *g)
{
        return g->grouping == ND_GROUP_BY_PROCESS;
}

static bool starts_host(const struct nd_endpoint_graph *g, size_t i)
{
        return i == 0 || strcmp(g->nodes[i].label, g->nodes[i - 1].label) != 0;
}

static bool ends_host(const struct nd_endpoint_graph *g, size_t i)
{
        return i + 1 == g->n_nodes || strcmp(g->nodes[i].label, g->nodes[i + 1].label) != 0;
}

static void print_dot(FILE *out, const struct nd_endpoint_graph *g, int64_t as_of)
{
        fputs("digraph netdep {\n  rankdir=LR;\n  node [shape=box, fontname=\"sans-serif\"];\n"
              "  edge [fontname=\"sans-serif\", fontsize=10];\n", out);
        for (size_t i = 0; i < g->n_nodes; i++) {
                const struct nd_endpoint_node *n = &g->nodes[i];
                const char *indent = clustered(g) ? "    " : "  ";
                char label[600];

                if (clustered(g) && starts_host(g, i)) {
                        fprintf(out, "  subgraph cluster_%zu {\n    label=\"", i);
                        quoted(out, n->name ? n->name : n->label, false);
                        fputs("\";\n    style=dotted;\n", out);
                }
                node_label(n, label, sizeof(label));
                fprintf(out, "%sn%zu [label=\"", indent, i);
                quoted(out, label, false);
                fputs(n->kind == ND_NODE_CLIENT ? "\", style=rounded];\n" : "\"];\n", out);
                if (clustered(g) && ends_host(g, i))
                        fputs("  }\n", out);
        }
        for (size_t i = 0; i < g->n_links; i++) {
                const struct nd_endpoint_link *l = &g->links[i];
                char text[160];

                link_text(g, l, as_of, text, sizeof(text));
                fprintf(out, "  n%u -> n%u [label=\"", l->client, l->server);
                quoted(out, text, false);
                fprintf(out, "\"%s%s];\n", l->counts.failed ? ", color=red" : "",
                        is_current(l, as_of) ? "" : ", style=dashed, color=gray50");
        }
        fputs("}\n", out);
}

static void print_mermaid(FILE *out, const struct nd_endpoint_graph *g, int64_t as_of)
{
        fputs("flowchart LR\n", out);
        for (size_t i = 0; i < g->n_nodes; i++) {
                const struct nd_endpoint_node *n = &g->nodes[i];
                char label[600];

                if (clustered(g) && starts_host(g, i)) {
                        fprintf(out, "  subgraph h%zu[\"", i);
                        quoted(out, n->name ? n->name : n->label, true);
                        fputs("\"]\n", out);
                }
                node_label(n, label, sizeof(label));
                fprintf(out, "%sn%zu%s\"", clustered(g) ? "    " : "  ", i, n->kind == ND_NODE_CLIENT ? "(" : "[");
                quoted(out, label, true);
                fprintf(out, "\"%s\n", n->kind == ND_NODE_CLIENT ? ")" : "]");
                if (clustered(g) && ends_host(g, i))
                        fputs("  end\n", out);
        }
        for (size_t i = 0; i < g->n_links; i++) {
                const struct nd_endpoint_link *l = &g->links[i];
                char text[160];

                link_text(g, l, as_of, text, sizeof(text));
                fprintf(out, "  n%u %s|\"", l->client, is_current(l, as_of) ? "-->" : "-.->");
                quoted(out, text, true);
                fprintf(out, "\"| n%u\n", l->server);
        }
}

/* DOT through Graphviz's dot, its SVG to out. */
static int print_svg(FILE *out, const struct nd_endpoint_graph *g, int64_t as_of)
{
        char *const argv[] = { "dot", "-Tsvg", NULL };
        posix_spawn_file_actions_t actions;
        int fds[2], status, r;
        FILE *to_dot;
        pid_t pid;

        fflush(out);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, fileno(out), STDOUT_FILENO);
        r = posix_spawnp(&pid, "dot", &actions, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        close(fds[0]);
        if (r != 0) {
                close(fds[1]);
                return -r;
        }
        to_dot = fdopen(fds[1], "w");
        if (!to_dot) {
                close(fds[1]);
                r = -errno;
        } else {
                print_dot(to_dot, g, as_of);
                r = fclose(to_dot) == 0 ? 0 : -EIO;
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = -EPROTO;
        return r;
}

int graph_print(FILE *out, struct nd_endpoint_graph *g, enum graph_format format, int64_t as_of)
{
        int r = nd_endpoint_graph_sort(g);

        if (r < 0)
                return r;
        switch (format) {
        case GRAPH_FORMAT_JSON:
                return print_json(out, g, as_of);
        case GRAPH_FORMAT_DOT:
                print_dot(out, g, as_of);
                break;
        case GRAPH_FORMAT_MERMAID:
                print_mermaid(out, g, as_of);
                break;
        case GRAPH_FORMAT_SVG:
                r = print_svg(out, g, as_of);
                if (r == -ENOENT)
                        log_error("--format svg needs Graphviz's dot program (Debian package graphviz)");
                else if (r < 0)
                        log_error("dot failed to lay out the graph");
                return r;
        }
        return ferror(out) ? -EIO : 0;
}
