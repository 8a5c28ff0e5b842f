#include "model/flow_json.h"

static json_t *endpoint_to_json(const struct nd_addr *addr, int port, const char *name)
{
        char buf[ND_ADDR_STRLEN];
        json_t *o = json_pack("{s:s, s:o}", "addr", nd_addr_format(addr, buf),
                              "port", port > 0 ? json_integer(port) : json_null());

        if (o && name && json_object_set_new(o, "name", json_string(name)) < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *process_to_json(const struct nd_flow *f)
{
        if (!f->has_process)
                return json_null();
        return json_pack("{s:s, s:i, s:o, s:o}", "name", f->process.name,
                         "pid", (json_int_t)f->process.pid,
                         "pgid", f->process.pgid >= 0 ? json_integer(f->process.pgid) : json_null(),
                         "cgroup", f->process.cgroup ? json_string(f->process.cgroup) : json_null());
}

static json_t *tcp_to_json(const struct nd_flow *f)
{
        if (!f->tcp.known)
                return json_null();
        return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
                         "rtt_us_min", (json_int_t)f->tcp.rtt_us_min,
                         "rtt_us_avg", (json_int_t)nd_flow_rtt_us_avg(f),
                         "rtt_us_max", (json_int_t)f->tcp.rtt_us_max,
                         "retrans", (json_int_t)f->tcp.retrans,
                         "bytes_sent", (json_int_t)f->tcp.bytes_sent,
                         "bytes_received", (json_int_t)f->tcp.bytes_received);
}

json_t *nd_flow_to_json(const struct nd_flow *f, const struct nd_flow_names *names)
{
        /* The folded side's port is 0 in the model and null in JSON. */
        return json_pack("{s:s, s:o, s:o, s:I, s:o, s:I, s:o}",
                         "direction", nd_direction_to_string(f->direction),
                         "local", endpoint_to_json(&f->local, f->local_port, names ? names->local : NULL),
                         "peer", endpoint_to_json(&f->peer, f->peer_port, names ? names->peer : NULL),
                         "connections", (json_int_t)f->connections,
                         "process", process_to_json(f),
                         "netns", (json_int_t)f->netns,
                         "tcp", tcp_to_json(f));
}
