#include "cli/flows-print.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "model/flow_json.h"

static const char *name_at(char **names, size_t i)
{
        return names ? names[i] : NULL;
}

/* A JSON array, one flow per line, streamed so that memory stays flat. */
static int print_json(FILE *out, const struct nd_flow_set *flows, const struct flows_print_options *o)
{
        fputc('[', out);
        for (size_t i = 0; i < flows->n; i++) {
                struct nd_flow_names names = { name_at(o->local_names, i), name_at(o->peer_names, i) };
                json_t *flow = nd_flow_to_json(&flows->flows[i], &names);
                int r;

                if (!flow)
                        return -ENOMEM;
                fputs(i ? ",\n  " : "\n  ", out);
                r = json_dumpf(flow, out, JSON_COMPACT | JSON_PRESERVE_ORDER);
                json_decref(flow);
                if (r < 0)
                        return -EIO;
        }
        fputs(flows->n ? "\n]\n" : "]\n", out);
        return ferror(out) ? -EIO : 0;
}

/* One row's cells, formatted once so the widths can be measured. */
struct row {
        char netns[64], local[300], peer[300], connections[16], process[64];
};

static void endpoint(char *buf, size_t size, const struct nd_addr *a, int port, const char *name)
{
        if (name) {
                char portbuf[16];
                if (port < 0)
                        strcpy(portbuf, "many");
                else
                        snprintf(portbuf, sizeof(portbuf), "%d", port);
                snprintf(buf, size, "%s:%s", name, portbuf);
        } else
                nd_addr_format_endpoint(a, port, buf, size);
}

/* The namespace's `ip netns` name, or NULL. */
static const char *netns_name(const struct nd_netns_list *names, uint64_t inode)
{
        for (size_t i = 0; names && i < names->n; i++)
                if (names->items[i].inode == inode && names->items[i].name)
                        return names->items[i].name;
        return NULL;
}

static void format_row(const struct nd_flow *f, const char *local_name, const char *peer_name,
                       const struct nd_netns_list *netns_names, struct row *r)
{
        const char *ns = netns_name(netns_names, f->netns);

        if (ns)
                snprintf(r->netns, sizeof(r->netns), "%s", ns);
        else
                snprintf(r->netns, sizeof(r->netns), "%llu", (unsigned long long)f->netns);
        endpoint(r->local, sizeof(r->local), &f->local,
                 f->direction == ND_DIRECTION_PASSIVE ? f->local_port : -1, local_name);
        endpoint(r->peer, sizeof(r->peer), &f->peer,
                 f->direction == ND_DIRECTION_ACTIVE ? f->peer_port : -1, peer_name);
        snprintf(r->connections, sizeof(r->connections), "%u", f->connections);
        if (f->has_process)
                snprintf(r->process, sizeof(r->process), "%s (pid %d)", f->process.name, (int)f->process.pid);
        else
                strcpy(r->process, "-");
}

static int max_int(int a, int b)
{
        return a > b ? a : b;
}

/* Two passes over the flows, formatting each row twice, so that memory
 * stays flat however many flows there are. */
static int print_table(FILE *out, const struct nd_flow_set *flows, const struct flows_print_options *o)
{
        int w_netns = 5, w_local = 18, w_peer = 17;
        struct row row;

        for (size_t i = 0; i < flows->n; i++) {
                format_row(&flows->flows[i], name_at(o->local_names, i), name_at(o->peer_names, i), o->netns_names,
                           &row);
                w_netns = max_int(w_netns, (int)strlen(row.netns));
                w_local = max_int(w_local, (int)strlen(row.local));
                w_peer = max_int(w_peer, (int)strlen(row.peer));
        }

        if (o->show_netns)
                fprintf(out, "%-*s  ", w_netns, "Netns");
        fprintf(out, "%-*s  <-->  %-*s  %11s  %s\n", w_local, "Local Address:Port", w_peer,
                "Peer Address:Port", "Connections", "Process");
        for (size_t i = 0; i < flows->n; i++) {
                format_row(&flows->flows[i], name_at(o->local_names, i), name_at(o->peer_names, i), o->netns_names,
                           &row);
                if (o->show_netns)
                        fprintf(out, "%-*s  ", w_netns, row.netns);
                fprintf(out, "%-*s  %s   %-*s  %11s  %s\n", w_local, row.local,
                        flows->flows[i].direction == ND_DIRECTION_ACTIVE ? "-->" : "<--",
                        w_peer, row.peer, row.connections, row.process);
        }
        return ferror(out) ? -EIO : 0;
}

int flows_print(FILE *out, const struct nd_flow_set *flows, const struct flows_print_options *o)
{
        return o->json ? print_json(out, flows, o) : print_table(out, flows, o);
}
