#include "collect/tcp_event.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "shared/why.h"

int nd_tcp_event_decode(const void *data, size_t len, int64_t realtime_offset_ns, struct nd_tcp_event *ret)
{
        struct nd_tcp_event_raw raw;
        struct nd_tcp_event e = {};
        bool has_facts;

        /* Copied out: the ring buffer record need not be aligned for us. */
        if (!data || len < sizeof(raw))
                return -EBADMSG;
        memcpy(&raw, data, sizeof(raw));
        if (raw.kind < ND_TCP_EVENT_CONNECT || raw.kind > ND_TCP_EVENT_KIND_MAX)
                return -EBADMSG;

        switch (raw.family) {
        case AF_INET:
                nd_addr_from_ipv4(&e.local, raw.saddr);
                nd_addr_from_ipv4(&e.peer, raw.daddr);
                break;
        case AF_INET6:
                nd_addr_from_ipv6(&e.local, raw.saddr);
                nd_addr_from_ipv6(&e.peer, raw.daddr);
                break;
        default:
                return -EBADMSG;
        }

        e.kind = (enum nd_tcp_event_kind)raw.kind;
        e.mono_ns = raw.ts_ns;
        /* A wall clock set before the epoch would underflow: clamp at 0. */
        if (realtime_offset_ns < 0 && (uint64_t)-realtime_offset_ns > raw.ts_ns)
                e.ts_ns = 0;
        else
                e.ts_ns = raw.ts_ns + (uint64_t)realtime_offset_ns;
        e.cookie = raw.cookie;
        e.netns = raw.netns;
        e.pid = raw.pid;
        e.pgid = raw.pgid;
        memcpy(e.comm, raw.comm, sizeof(raw.comm));
        e.comm[sizeof(raw.comm)] = 0;
        e.local_port = raw.sport;
        e.peer_port = raw.dport;
        has_facts = e.kind == ND_TCP_EVENT_CLOSE || e.kind == ND_TCP_EVENT_OPEN;
        e.passive = e.kind == ND_TCP_EVENT_ACCEPT || (has_facts && (raw.flags & ND_TCP_EVENT_F_PASSIVE));
        e.owner_from_listener = e.kind == ND_TCP_EVENT_ACCEPT ||
                                (has_facts && (raw.flags & ND_TCP_EVENT_F_OWNER_LISTENER));
        e.adopted = has_facts && (raw.flags & ND_TCP_EVENT_F_ADOPTED);
        if (has_facts || e.kind == ND_TCP_EVENT_FAILED)
                e.duration_us = raw.duration_ns / 1000;
        if (has_facts) {
                e.bytes_sent = raw.bytes_acked;
                e.bytes_received = raw.bytes_received;
                e.rtt_us = raw.rtt_us;
                e.retrans = raw.retrans;
                e.prev_state = raw.state;
        }
        if (e.kind == ND_TCP_EVENT_FAILED)
                e.error = raw.error < 0 ? -raw.error : raw.error;

        *ret = e;
        return 0;
}

int64_t nd_tcp_event_realtime_offset(void)
{
        struct timespec rt, mono;

        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &rt);
        return ((int64_t)rt.tv_sec - (int64_t)mono.tv_sec) * 1000000000 + ((int64_t)rt.tv_nsec - (int64_t)mono.tv_nsec);
}

const char *nd_tcp_event_kind_name(enum nd_tcp_event_kind kind)
{
        static const char *const names[] = {
                [ND_TCP_EVENT_CONNECT] = "connect",
                [ND_TCP_EVENT_ACCEPT] = "accept",
                [ND_TCP_EVENT_CLOSE] = "close",
                [ND_TCP_EVENT_FAILED] = "failed",
                [ND_TCP_EVENT_LISTEN] = "listen",
                [ND_TCP_EVENT_LISTEN_STOP] = "listen_stop",
                [ND_TCP_EVENT_OPEN] = "open",
        };

        if ((unsigned)kind >= sizeof(names) / sizeof(names[0]))
                return NULL;
        return names[kind];
}

const char *nd_tcp_event_failure_name(int error)
{
        switch (error) {
        case 0:
                return "closed";
        case ECONNREFUSED:
                return "refused";
        case ETIMEDOUT:
                return "timeout";
        case EHOSTUNREACH:
        case ENETUNREACH:
        case EHOSTDOWN:
        case ENETDOWN:
                return "unreachable";
        case ECONNRESET:
                return "reset";
        default:
                return "error";
        }
}

static bool word_in(const char *s, const char *const *words)
{
        for (; *words; words++)
                if (strcasecmp(s, *words) == 0)
                        return true;
        return false;
}

int nd_tcp_events_check_switch(bool disabled, const char *env_value, char *why, size_t why_size)
{
        static const char *const off[] = { "off", "0", "no", "false", "disabled", NULL };
        static const char *const on[] = { "on", "1", "yes", "true", "enabled", "auto", "", NULL };

        if (disabled) {
                nd_why_set(why, why_size, "eBPF is switched off in the settings");
                return -EOPNOTSUPP;
        }
        if (!env_value || word_in(env_value, on))
                return 0;
        if (word_in(env_value, off)) {
                nd_why_set(why, why_size, "eBPF is switched off by NETDEP_BPF=%s", env_value);
                return -EOPNOTSUPP;
        }
        nd_why_set(why, why_size, "NETDEP_BPF=%s is neither on nor off", env_value);
        return -EINVAL;
}
