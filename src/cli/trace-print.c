#include "cli/trace-print.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "collect/sock.h"

/* The table's columns: longer addresses push the row out, as in ss. */
#define TABLE_FORMAT "%-15s %-11s %7s %-15s %-22s %-22s %s"

static const char *direction_name(const struct nd_tcp_event *ev)
{
        switch (ev->kind) {
        case ND_TCP_EVENT_CONNECT:
        case ND_TCP_EVENT_FAILED:
        case ND_TCP_EVENT_ACCEPT:
        case ND_TCP_EVENT_CLOSE:
                return ev->passive ? "passive" : "active";
        default:
                return NULL;
        }
}

static bool has_peer(const struct nd_tcp_event *ev)
{
        return ev->kind != ND_TCP_EVENT_LISTEN && ev->kind != ND_TCP_EVENT_LISTEN_STOP;
}

static const char *state_name(uint8_t state)
{
        static const char *const names[] = {
                [ND_TCP_ESTABLISHED] = "ESTABLISHED", [ND_TCP_SYN_SENT] = "SYN_SENT",
                [ND_TCP_SYN_RECV] = "SYN_RECV",       [ND_TCP_FIN_WAIT1] = "FIN_WAIT1",
                [ND_TCP_FIN_WAIT2] = "FIN_WAIT2",     [ND_TCP_TIME_WAIT] = "TIME_WAIT",
                [ND_TCP_CLOSE] = "CLOSE",             [ND_TCP_CLOSE_WAIT] = "CLOSE_WAIT",
                [ND_TCP_LAST_ACK] = "LAST_ACK",       [ND_TCP_LISTEN] = "LISTEN",
                [ND_TCP_CLOSING] = "CLOSING",         [ND_TCP_NEW_SYN_RECV] = "NEW_SYN_RECV",
        };

        return state < sizeof(names) / sizeof(names[0]) ? names[state] : NULL;
}

static int set_new(json_t *o, const char *key, json_t *value)
{
        return value && json_object_set_new(o, key, value) == 0 ? 0 : -ENOMEM;
}

static json_t *string_or_null(const char *s)
{
        return s && *s ? json_string(s) : json_null();
}

static json_t *event_to_json(const struct nd_tcp_event *ev)
{
        char addr[ND_ADDR_STRLEN];
        json_t *o = json_object();
        int r = 0;

        if (!o)
                return NULL;
        r |= set_new(o, "ts", json_real((double)(ev->ts_ns / 1000) / 1e6));
        r |= set_new(o, "event", json_string(nd_tcp_event_kind_name(ev->kind)));
        r |= set_new(o, "pid", ev->pid ? json_integer(ev->pid) : json_null());
        r |= set_new(o, "pgid", ev->pgid ? json_integer(ev->pgid) : json_null());
        r |= set_new(o, "comm", string_or_null(ev->comm));
        r |= set_new(o, "netns", json_integer((json_int_t)ev->netns));
        r |= set_new(o, "direction", string_or_null(direction_name(ev)));
        r |= set_new(o, "saddr", json_string(nd_addr_format(&ev->local, addr)));
        r |= set_new(o, "sport", json_integer(ev->local_port));
        if (has_peer(ev)) {
                r |= set_new(o, "daddr", json_string(nd_addr_format(&ev->peer, addr)));
                r |= set_new(o, "dport", json_integer(ev->peer_port));
        } else {
                r |= set_new(o, "daddr", json_null());
                r |= set_new(o, "dport", json_null());
        }
        r |= set_new(o, "cookie", ev->cookie ? json_integer((json_int_t)ev->cookie) : json_null());

        switch (ev->kind) {
        case ND_TCP_EVENT_CLOSE:
                r |= set_new(o, "duration_us", json_integer((json_int_t)ev->duration_us));
                r |= set_new(o, "bytes_sent", json_integer((json_int_t)ev->bytes_sent));
                r |= set_new(o, "bytes_received", json_integer((json_int_t)ev->bytes_received));
                r |= set_new(o, "rtt_us", json_integer(ev->rtt_us));
                r |= set_new(o, "retrans", json_integer(ev->retrans));
                r |= set_new(o, "from_state", string_or_null(state_name(ev->prev_state)));
                break;
        case ND_TCP_EVENT_FAILED:
                r |= set_new(o, "duration_us", json_integer((json_int_t)ev->duration_us));
                r |= set_new(o, "reason", json_string(nd_tcp_event_failure_name(ev->error)));
                r |= set_new(o, "errno", json_integer(ev->error));
                break;
        default:
                break;
        }
        if (r < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static void format_duration(char *buf, size_t size, uint64_t us)
{
        if (us < 1000)
                snprintf(buf, size, "%" PRIu64 "us", us);
        else if (us < 1000000)
                snprintf(buf, size, "%.1fms", (double)us / 1e3);
        else
                snprintf(buf, size, "%.1fs", (double)us / 1e6);
}

static void format_detail(const struct nd_tcp_event *ev, char *buf, size_t size)
{
        char duration[32];

        format_duration(duration, sizeof(duration), ev->duration_us);
        switch (ev->kind) {
        case ND_TCP_EVENT_CLOSE:
                snprintf(buf, size, "%s %s, sent %" PRIu64 " B, received %" PRIu64 " B",
                         ev->passive ? "passive" : "active", duration, ev->bytes_sent, ev->bytes_received);
                break;
        case ND_TCP_EVENT_FAILED:
                snprintf(buf, size, "%s after %s", nd_tcp_event_failure_name(ev->error), duration);
                break;
        default:
                buf[0] = 0;
        }
}

static int print_row(FILE *out, const struct nd_tcp_event *ev, const struct trace_print_options *o)
{
        char when[32], pid[16], local[64], peer[64], detail[160], line[512];
        time_t secs = (time_t)(ev->ts_ns / 1000000000);
        struct tm tm;
        size_t n;

        if (!localtime_r(&secs, &tm))
                memset(&tm, 0, sizeof(tm));
        snprintf(when, sizeof(when), "%02d:%02d:%02d.%06u", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(ev->ts_ns % 1000000000 / 1000));
        if (ev->pid)
                snprintf(pid, sizeof(pid), "%u", ev->pid);
        else
                strcpy(pid, "-");
        nd_addr_format_endpoint(&ev->local, ev->local_port, local, sizeof(local));
        if (has_peer(ev))
                nd_addr_format_endpoint(&ev->peer, ev->peer_port, peer, sizeof(peer));
        else
                strcpy(peer, "-");
        format_detail(ev, detail, sizeof(detail));

        if (o->show_netns)
                fprintf(out, "%-10" PRIu64 " ", ev->netns);
        snprintf(line, sizeof(line), TABLE_FORMAT, when, nd_tcp_event_kind_name(ev->kind), pid,
                 ev->comm[0] ? ev->comm : "-", local, peer, detail);
        /* No padding after the last cell. */
        n = strlen(line);
        while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\n'))
                line[--n] = 0;
        fprintf(out, "%s\n", line);
        return 0;
}

int trace_print_header(FILE *out, const struct trace_print_options *o)
{
        if (o->json)
                return 0;
        if (o->show_netns)
                fprintf(out, "%-10s ", "Netns");
        fprintf(out, TABLE_FORMAT "\n", "Time", "Event", "Pid", "Process", "Local Address:Port", "Peer Address:Port",
                "Detail");
        return fflush(out) == 0 ? 0 : -EIO;
}

int trace_print_event(FILE *out, const struct nd_tcp_event *ev, const struct trace_print_options *o)
{
        if (o->json) {
                json_t *j = event_to_json(ev);
                int r;

                if (!j)
                        return -ENOMEM;
                r = json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(16));
                json_decref(j);
                if (r < 0)
                        return -EIO;
                fputc('\n', out);
        } else
                print_row(out, ev, o);
        return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
