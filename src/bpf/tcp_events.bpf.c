/* Kernel side of the TCP event stream: every connection's open and close,
 * failed connects and LISTEN transitions, handed to user space through a
 * ring buffer. One hook, tp_btf/inet_sock_set_state; why: docs/bpf.md.
 * Each followed connection's facts are kept in a hash keyed by its socket;
 * a walk of that hash (nd_dump_open) lists the connections open now, at a
 * cost that grows with them, not with the kernel's socket hash table.
 *
 * Most state changes run in softirq context, where the current task is
 * whoever happened to be on the CPU. The process is therefore taken where
 * the kernel runs in the process's own context and remembered:
 *   - connect(): the CLOSE -> SYN_SENT change, in the connecting process;
 *   - listen(): the -> LISTEN change, in the listening process; a passive
 *     connection is first credited to its listener's owner;
 *   - close() or shutdown() of a passive connection: ESTABLISHED ->
 *     FIN_WAIT1 or CLOSE_WAIT -> LAST_ACK, in the process that held it. */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpf/tcp_events.h"

#define AF_INET 2
#define AF_INET6 10

/* Set by user space before load; 0 means "any". */
const volatile __u32 filter_netns = 0;
const volatile __u32 filter_pid = 0;
const volatile __u16 filter_port = 0;
/* The kinds sent to user space (ND_TCP_EVENT_BIT()s); the rest are not
 * even reserved in the ring buffer. */
const volatile __u32 event_kinds = ~0u;

/* A pointer whose fields are read as the kernel's type says, with loads
 * that cannot fault (the verifier turns the call into a plain move).
 * Kernel 6.2 and later; weak, so that the object still loads where it is
 * missing: only nd_dump_open calls it, and user space loads
 * nd_dump_open_copy in its place there. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

struct owner {
        __u32 pid, pgid;
        char comm[ND_TCP_EVENT_COMM_LEN];
};

struct sock_info {
        __u64 ts_start; /* SYN_SENT (active) or ESTABLISHED (passive) */
        __u64 ts_established; /* 0 until the handshake completed */
        /* The socket's cookie; 0 for a socket adopted before anyone asked
         * for its cookie (an iterator cannot make one: its socket pointer
         * is not trusted), which is then told by its fingerprint until a
         * state change gives us its cookie. */
        __u64 cookie;
        __u64 fingerprint; /* sock_fingerprint(): its 4-tuple and namespace */
        struct owner owner;
        __u32 netns; /* inode of its network namespace */
        __u8 passive;
        __u8 owner_from_listener; /* passive: nobody seen closing it yet */
        __u8 adopted; /* open before we were loaded: found by nd_adopt_connections */
        __u8 pad[1];
};

struct listen_key {
        __u32 netns;
        __u16 port;
        __u16 family;
        __u8 addr[16]; /* IPv4 in the first 4 bytes; all zero for a wildcard */
};

struct listen_info {
        struct owner owner; /* the latest process to listen on the key */
        __u32 count; /* listening sockets on the key (SO_REUSEPORT) */
        __u32 pad;
};

/* The connections followed, by the address of their struct sock. Entries
 * come from the kernel's BPF allocator, per-CPU caches refilled in the
 * background: as fast here as a preallocated map (bpf_stats), without
 * holding max_sockets entries' memory from the start. An entry whose
 * socket was freed without our CLOSE (the kernel skipped the program) is
 * told by its cookie, which the socket at that address no longer has, and
 * dropped by the next nd_dump_open walk. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 65536);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, __u64);
        __type(value, struct sock_info);
} socks SEC(".maps");

/* Sizes are defaults: user space sets them before load. Entries are
 * allocated as listeners are seen, not up front. */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 16384);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, struct listen_key);
        __type(value, struct listen_info);
} listeners SEC(".maps");

/* Every LISTEN socket counted in listeners, so that none is counted twice
 * (the seeding walk meets a socket in every process that holds it). */
struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 16384);
        __uint(map_flags, BPF_F_NO_PREALLOC);
        __type(key, __u64); /* the struct sock's address */
        __type(value, __u8);
} listen_socks SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, ND_TCP_COUNTER_MAX);
        __type(key, __u32);
        __type(value, __u64);
} counters SEC(".maps");

/* Room for one struct tcp_sock, for nd_dump_open_copy (kernels without
 * bpf_rdonly_cast): the socket is copied here and read from the copy. */
#define SOCK_COPY_MAX 4096
struct sock_copy {
        __u8 bytes[SOCK_COPY_MAX];
};

struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, struct sock_copy);
} sock_copies SEC(".maps");

static __always_inline void count(__u32 index)
{
        __u64 *v = bpf_map_lookup_elem(&counters, &index);

        if (v)
                *v += 1;
}

/* Every struct sock, tcp_sock and task_struct pointer here is one the
 * kernel typed for us (the tracepoint's argument, an iterator's, a
 * helper's answer), so fields are read directly, with CO-RE relocations:
 * a plain load, where bpf_probe_read_kernel() (BPF_CORE_READ) is a helper
 * call each. This program runs on every TCP state change of the host.
 *
 * Helpers that take a socket (bpf_get_socket_cookie(),
 * bpf_skc_to_tcp_sock()) want a trusted pointer: the tracepoint's. Since
 * 6.x the verifier no longer trusts a socket reached from an iterator's
 * file (sock->sk), so the iterators read fields only. */
static __always_inline __u32 sock_netns(const struct sock *sk)
{
        return sk->__sk_common.skc_net.net->ns.inum;
}

/* TCP over IPv4 or IPv6, in the namespace asked for. */
static __always_inline bool sock_wanted(const struct sock *sk)
{
        __u16 family = sk->__sk_common.skc_family;

        if (family != AF_INET && family != AF_INET6)
                return false;
        if (BPF_CORE_READ_BITFIELD(sk, sk_protocol) != IPPROTO_TCP)
                return false;
        return filter_netns == 0 || sock_netns(sk) == filter_netns;
}

/* The local port. Entering CLOSE releases the port (inet_num = 0) before
 * the tracepoint runs; inet_sport keeps it. For the tracepoint's trusted
 * sk only: sockets in an iterator are never in CLOSE. */
static __always_inline __u16 local_port(const struct sock *sk)
{
        __u16 port = sk->__sk_common.skc_num;
        const struct tcp_sock *tp;

        if (port != 0)
                return port;
        tp = bpf_skc_to_tcp_sock((void *)sk);
        return tp ? bpf_ntohs(tp->inet_conn.icsk_inet.inet_sport) : 0;
}

static __always_inline void read_local_addr(const struct sock *sk, __u16 family, __u8 addr[16])
{
        if (family == AF_INET)
                __builtin_memcpy(addr, &sk->__sk_common.skc_rcv_saddr, 4);
        else
                __builtin_memcpy(addr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
}

static __always_inline void read_peer_addr(const struct sock *sk, __u16 family, __u8 addr[16])
{
        if (family == AF_INET)
                __builtin_memcpy(addr, &sk->__sk_common.skc_daddr, 4);
        else
                __builtin_memcpy(addr, &sk->__sk_common.skc_v6_daddr, 16);
}

static __always_inline __u32 task_pgid(const struct task_struct *task)
{
        if (!bpf_core_field_exists(struct signal_struct, pids))
                return 0;
        return task->signal->pids[PIDTYPE_PGID]->numbers[0].nr;
}

static __always_inline void task_owner(const struct task_struct *task, struct owner *o)
{
        o->pid = task->tgid;
        o->pgid = task_pgid(task);
        __builtin_memcpy(o->comm, task->comm, sizeof(o->comm));
}

static __always_inline void current_owner(struct owner *o)
{
        task_owner(bpf_get_current_task_btf(), o);
}

/* Whether a connection with local port sport passes the pid and port
 * filters. */
static __always_inline bool filters_pass(const struct sock *sk, __u16 sport, __u32 pid)
{
        if (filter_pid && pid != filter_pid)
                return false;
        if (!filter_port)
                return true;
        return sport == filter_port || bpf_ntohs(sk->__sk_common.skc_dport) == filter_port;
}

static __always_inline bool event_wanted(const struct sock *sk, __u16 sport, __u16 kind, __u32 pid)
{
        return (event_kinds & ND_TCP_EVENT_BIT(kind)) && filters_pass(sk, sport, pid);
}

/* Zeroes e and fills in the socket's endpoints and its owner. */
static __always_inline void event_fill(struct nd_tcp_event_raw *e, const struct sock *sk, __u32 netns, __u16 sport,
                                       __u16 kind, __u64 now, const struct owner *owner, __u64 cookie)
{
        __builtin_memset(e, 0, sizeof(*e));
        e->ts_ns = now;
        e->kind = kind;
        e->cookie = cookie;
        e->netns = netns;
        e->family = sk->__sk_common.skc_family;
        e->sport = sport;
        e->dport = bpf_ntohs(sk->__sk_common.skc_dport);
        read_local_addr(sk, e->family, e->saddr);
        read_peer_addr(sk, e->family, e->daddr);
        if (owner) {
                e->pid = owner->pid;
                e->pgid = owner->pgid;
                __builtin_memcpy(e->comm, owner->comm, sizeof(e->comm));
        }
}

/* A filled-in event in the ring buffer, or NULL (counted) when it is full. */
static __always_inline struct nd_tcp_event_raw *event_new(const struct sock *sk, __u16 sport, __u16 kind, __u64 now,
                                                         const struct owner *owner, __u64 cookie)
{
        struct nd_tcp_event_raw *e;

        e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (!e) {
                count(ND_TCP_COUNTER_LOST);
                return NULL;
        }
        event_fill(e, sk, sock_netns(sk), sport, kind, now, owner, cookie);
        return e;
}

/* The socket's cookie; 0 until someone asked for it (we ask when we
 * start following a socket). */
static __always_inline __u64 cookie_of(const struct sock *sk)
{
        return sk->__sk_common.skc_cookie.counter;
}

/* What tells a socket apart where its cookie cannot: its ports and its
 * hash in the established table, which mixes in its addresses and its
 * network namespace. */
static __always_inline __u64 sock_fingerprint(const struct sock *sk)
{
        return (__u64)sk->__sk_common.skc_portpair << 32 | sk->__sk_common.skc_hash;
}

/* Whether the entry info, at sk's address, is about the socket there now
 * (and not one freed without our CLOSE, whose memory sk reuses). */
static __always_inline bool info_is_of(const struct sock_info *info, const struct sock *sk)
{
        if (info->cookie)
                return info->cookie == cookie_of(sk);
        return info->fingerprint == sock_fingerprint(sk);
}

/* The facts of a connection we follow; NULL if we do not (or no longer).
 * From the tracepoint only: an adopted entry takes its socket's cookie
 * here, now that sk is trusted. */
static __always_inline struct sock_info *followed_info(struct sock *sk)
{
        __u64 key = (__u64)sk;
        struct sock_info *info = bpf_map_lookup_elem(&socks, &key);

        if (!info || !info_is_of(info, sk))
                return NULL;
        if (!info->cookie)
                info->cookie = bpf_get_socket_cookie(sk);
        return info;
}

/* Starts following sk with the facts in fresh (or refreshes them); counts
 * it untracked when socks is full. */
static __always_inline void follow(const struct sock *sk, const struct sock_info *fresh)
{
        __u64 key = (__u64)sk;

        if (bpf_map_update_elem(&socks, &key, fresh, BPF_ANY) != 0)
                count(ND_TCP_COUNTER_UNTRACKED);
}

static __always_inline void unfollow(const struct sock *sk)
{
        __u64 key = (__u64)sk;

        bpf_map_delete_elem(&socks, &key);
}

static __always_inline void listen_key_of(const struct sock *sk, __u16 sport, struct listen_key *key)
{
        __builtin_memset(key, 0, sizeof(*key));
        key->netns = sock_netns(sk);
        key->port = sport;
        key->family = sk->__sk_common.skc_family;
        read_local_addr(sk, key->family, key->addr);
}

/* Counts a LISTEN socket under its (netns, address, port), once. The
 * latest owner wins unless keep_owner: the seeding walk goes by ascending
 * pid and credits a listener shared across fork() to its lowest pid. */
static __always_inline void listener_add(const struct sock *sk, __u16 sport, const struct owner *owner,
                                         bool keep_owner)
{
        struct listen_info fresh = { .owner = *owner, .count = 1 }, *info;
        __u64 sk_key = (__u64)sk;
        struct listen_key key;
        __u8 one = 1;

        listen_key_of(sk, sport, &key);
        /* listen() without bind() picks its port only after this change:
         * such a listener cannot be found by port, so it is not kept. */
        if (key.port == 0)
                return;
        if (bpf_map_update_elem(&listen_socks, &sk_key, &one, BPF_NOEXIST) != 0) {
                if (!bpf_map_lookup_elem(&listen_socks, &sk_key))
                        count(ND_TCP_COUNTER_UNTRACKED);
                return; /* counted already, or no room */
        }
        info = bpf_map_lookup_elem(&listeners, &key);
        if (info) {
                if (!keep_owner)
                        info->owner = *owner;
                info->count += 1;
        } else if (bpf_map_update_elem(&listeners, &key, &fresh, BPF_NOEXIST) != 0) {
                bpf_map_delete_elem(&listen_socks, &sk_key);
                count(ND_TCP_COUNTER_UNTRACKED);
        }
}

static __always_inline void listener_remove(const struct sock *sk, __u16 sport)
{
        __u64 sk_key = (__u64)sk;
        struct listen_info *info;
        struct listen_key key;

        if (bpf_map_delete_elem(&listen_socks, &sk_key) != 0)
                return; /* never counted */
        listen_key_of(sk, sport, &key);
        info = bpf_map_lookup_elem(&listeners, &key);
        if (info && info->count > 1)
                info->count -= 1;
        else if (info)
                bpf_map_delete_elem(&listeners, &key);
}

static __always_inline void on_listen(struct sock *sk)
{
        __u64 now = bpf_ktime_get_ns();
        __u16 sport = local_port(sk);
        struct nd_tcp_event_raw *e;
        struct owner me;

        current_owner(&me);
        listener_add(sk, sport, &me, false);
        if (!event_wanted(sk, sport, ND_TCP_EVENT_LISTEN, me.pid))
                return;
        e = event_new(sk, sport, ND_TCP_EVENT_LISTEN, now, &me, bpf_get_socket_cookie(sk));
        if (e)
                bpf_ringbuf_submit(e, 0);
}

/* Runs in the process that closes the listener (close(), exit). */
static __always_inline void on_listen_stop(struct sock *sk)
{
        __u64 now = bpf_ktime_get_ns();
        __u16 sport = local_port(sk);
        struct nd_tcp_event_raw *e;
        struct owner me;

        listener_remove(sk, sport);
        current_owner(&me);
        if (!event_wanted(sk, sport, ND_TCP_EVENT_LISTEN_STOP, me.pid))
                return;
        e = event_new(sk, sport, ND_TCP_EVENT_LISTEN_STOP, now, &me, bpf_get_socket_cookie(sk));
        if (e)
                bpf_ringbuf_submit(e, 0);
}

/* The owner of the listener a passive connection came in on: the exact
 * local address first, then the wildcard. */
static __always_inline struct listen_info *listener_of(const struct sock *sk, __u16 sport)
{
        struct listen_info *info;
        struct listen_key key;

        listen_key_of(sk, sport, &key);
        info = bpf_map_lookup_elem(&listeners, &key);
        if (info)
                return info;
        __builtin_memset(key.addr, 0, sizeof(key.addr));
        return bpf_map_lookup_elem(&listeners, &key);
}

static __always_inline void on_connected(struct sock *sk)
{
        struct nd_tcp_event_raw *e;
        struct sock_info *info;
        __u16 sport;
        __u64 now;

        info = followed_info(sk);
        if (!info)
                return; /* connect() began before we were loaded, or the table was full */
        now = bpf_ktime_get_ns();
        info->ts_established = now;
        info->fingerprint = sock_fingerprint(sk); /* hashed now: the 4-tuple is complete */
        count(ND_TCP_COUNTER_CHANGES);
        sport = sk->__sk_common.skc_num;
        if (!event_wanted(sk, sport, ND_TCP_EVENT_CONNECT, info->owner.pid))
                return;
        e = event_new(sk, sport, ND_TCP_EVENT_CONNECT, now, &info->owner, info->cookie);
        if (e)
                bpf_ringbuf_submit(e, 0);
}

/* A passive connection's handshake completed (softirq). */
static __always_inline void on_accepted(struct sock *sk)
{
        __u64 now = bpf_ktime_get_ns();
        __u16 sport = sk->__sk_common.skc_num;
        struct sock_info fresh = {
                .ts_start = now,
                .ts_established = now,
                .passive = 1,
                .owner_from_listener = 1,
        };
        struct nd_tcp_event_raw *e;
        struct listen_info *listener;

        fresh.cookie = bpf_get_socket_cookie(sk);
        fresh.fingerprint = sock_fingerprint(sk);
        fresh.netns = sock_netns(sk);
        listener = listener_of(sk, sport);
        if (listener)
                fresh.owner = listener->owner;
        follow(sk, &fresh);
        count(ND_TCP_COUNTER_CHANGES);
        if (!event_wanted(sk, sport, ND_TCP_EVENT_ACCEPT, fresh.owner.pid))
                return;
        e = event_new(sk, sport, ND_TCP_EVENT_ACCEPT, now, &fresh.owner, fresh.cookie);
        if (e)
                bpf_ringbuf_submit(e, 0);
}

/* bytes_acked and bytes_received count sequence numbers, so SYN and FIN
 * add one each where they pass through the counting: the active side's
 * SYN is acknowledged through tcp_ack() (the passive child starts past
 * it), and either side's FIN once it is acknowledged or received. Taken
 * off, the counts are payload bytes. */
static __always_inline __u64 payload(__u64 counted, __u64 control)
{
        return counted > control ? counted - control : 0;
}

/* Our FIN was acknowledged when the socket leaves FIN_WAIT2, CLOSING or
 * LAST_ACK with nothing unacknowledged (FIN_WAIT1 -> FIN_WAIT2 and
 * CLOSING/LAST_ACK -> CLOSE test just that). */
static __always_inline __u64 our_fin_acked(const struct tcp_sock *tp, int oldstate)
{
        if (oldstate != TCP_FIN_WAIT2 && oldstate != TCP_CLOSING && oldstate != TCP_LAST_ACK)
                return 0;
        return tp->snd_una == tp->write_seq ? 1 : 0;
}

struct sock___before_skc_flags { /* sk_flags moved into sock_common in 6.x */
        unsigned long sk_flags;
} __attribute__((preserve_access_index));

static __always_inline unsigned long sock_flags(const struct sock *sk)
{
        if (bpf_core_field_exists(sk->__sk_common.skc_flags))
                return sk->__sk_common.skc_flags;
        return BPF_CORE_READ((const struct sock___before_skc_flags *)sk, sk_flags);
}

/* sock_flag(): whether one of enum sock_flags is set on sk. */
#define sock_flag(sk, flag) ((sock_flags(sk) >> bpf_core_enum_value(enum sock_flags, flag)) & 1)

/* Theirs was received when tcp_fin() set SOCK_DONE (tcp_done(), which
 * does not, runs after the tracepoint). */
static __always_inline __u64 their_fin_received(const struct sock *sk)
{
        return sock_flag(sk, SOCK_DONE);
}

/* A connection's counts so far, into e: payload bytes each way, smoothed
 * RTT, retransmits; state is the one it is in (or leaves for CLOSE). tp is
 * sk as the TCP socket it is. */
static __always_inline void connection_facts(struct nd_tcp_event_raw *e, const struct sock *sk,
                                             const struct tcp_sock *tp, const struct sock_info *info, int state)
{
        e->state = state;
        e->bytes_acked = payload(tp->bytes_acked, our_fin_acked(tp, state) + !info->passive);
        e->bytes_received = payload(tp->bytes_received, their_fin_received(sk));
        e->rtt_us = tp->srtt_us >> 3;
        e->retrans = tp->total_retrans;
        if (info->passive)
                e->flags |= ND_TCP_EVENT_F_PASSIVE;
        if (info->passive && info->owner_from_listener)
                e->flags |= ND_TCP_EVENT_F_OWNER_LISTENER;
        if (info->adopted)
                e->flags |= ND_TCP_EVENT_F_ADOPTED;
}

static __always_inline void on_close(struct sock *sk, int oldstate)
{
        struct nd_tcp_event_raw *e;
        const struct tcp_sock *tp;
        struct sock_info *info;
        __u16 sport;
        __u64 now;

        info = followed_info(sk);
        if (!info)
                return;
        now = bpf_ktime_get_ns();
        sport = local_port(sk);
        if (oldstate == TCP_SYN_SENT) {
                if (!event_wanted(sk, sport, ND_TCP_EVENT_FAILED, info->owner.pid))
                        goto forget;
                e = event_new(sk, sport, ND_TCP_EVENT_FAILED, now, &info->owner, info->cookie);
                if (!e)
                        goto forget;
                e->duration_ns = now - info->ts_start;
                e->error = sk->sk_err;
                bpf_ringbuf_submit(e, 0);
                goto forget;
        }
        if (!info->ts_established)
                goto forget;
        count(ND_TCP_COUNTER_CLOSED);
        count(ND_TCP_COUNTER_CHANGES);
        if (!event_wanted(sk, sport, ND_TCP_EVENT_CLOSE, info->owner.pid))
                goto forget;
        tp = bpf_skc_to_tcp_sock(sk);
        if (!tp)
                goto forget;
        e = event_new(sk, sport, ND_TCP_EVENT_CLOSE, now, &info->owner, info->cookie);
        if (!e)
                goto forget;
        e->duration_ns = now - info->ts_established;
        connection_facts(e, sk, tp, info, oldstate);
        bpf_ringbuf_submit(e, 0);
forget:
        unfollow(sk);
}

/* Most changes say nothing we need: they are left before reading anything. */
static __always_inline bool change_wanted(int newstate)
{
        return newstate != TCP_FIN_WAIT2 && newstate != TCP_CLOSE_WAIT && newstate != TCP_SYN_RECV &&
               newstate != TCP_CLOSING;
}

/* Whatever a state change of sk tells: the work of both programs below. */
static __always_inline void state_changed(struct sock *sk, int oldstate, int newstate)
{
        struct sock_info *info;

        if (!sock_wanted(sk))
                return;

        switch (newstate) {
        case TCP_LISTEN:
                on_listen(sk);
                return;
        case TCP_SYN_SENT: {
                /* connect() runs in the connecting process. */
                struct sock_info fresh = { .ts_start = bpf_ktime_get_ns(), .cookie = bpf_get_socket_cookie(sk) };

                fresh.netns = sock_netns(sk);
                current_owner(&fresh.owner);
                follow(sk, &fresh);
                return;
        }
        case TCP_ESTABLISHED:
                if (oldstate == TCP_SYN_SENT)
                        on_connected(sk);
                else if (oldstate == TCP_SYN_RECV)
                        on_accepted(sk);
                return;
        case TCP_FIN_WAIT1:
        case TCP_LAST_ACK:
                /* Only close() and shutdown() make these changes, in the
                 * process holding the socket: the accepting process is known
                 * at last. A close() also takes it off the listing. */
                info = followed_info(sk);
                if (!info)
                        return;
                count(ND_TCP_COUNTER_CHANGES);
                if (info->passive && info->owner_from_listener) {
                        current_owner(&info->owner);
                        info->owner_from_listener = 0;
                }
                return;
        case TCP_CLOSE:
                if (oldstate == TCP_LISTEN)
                        on_listen_stop(sk);
                else
                        on_close(sk, oldstate);
                return;
        default:
                return;
        }
}

/* Set on this CPU for the whole of nd_inet_sock_set_state's work. */
struct {
        __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u32);
} working SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nd_inet_sock_set_state, struct sock *sk, int oldstate, int newstate)
{
        __u32 zero = 0, *busy = bpf_map_lookup_elem(&working, &zero);

        /* From the first instruction to the last: the window in which a
         * nested change is skipped for this program but not taken by the
         * nested one is only the kernel's own entry and exit. */
        if (busy)
                *busy = 1;
        if (change_wanted(newstate))
                state_changed(sk, oldstate, newstate);
        if (busy)
                *busy = 0;
        return 0;
}

/* The kernel does not enter a program that is already running on the same
 * CPU. nd_inet_sock_set_state runs with softirqs enabled (a connect(), a
 * close(), a socket's backlog processed in release_sock()), so the network
 * softirq can interrupt it with another state change, which the kernel
 * then skips for it. This second program, on the same tracepoint, does the
 * work of exactly those: the changes that come while the first is at work
 * on this CPU. Otherwise it leaves at once. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(nd_inet_sock_set_state_nested, struct sock *sk, int oldstate, int newstate)
{
        __u32 zero = 0, *busy = bpf_map_lookup_elem(&working, &zero);

        if (!busy || !*busy)
                return 0;
        count(ND_TCP_COUNTER_NESTED);
        if (change_wanted(newstate))
                state_changed(sk, oldstate, newstate);
        return 0;
}

/* The TCP socket an iterated open file is, when it is one we want. Its
 * fields can be read; it cannot be passed to helpers (not trusted). */
static __always_inline const struct sock *file_sock(const struct task_struct *task, struct file *file)
{
        struct socket *sock;
        struct sock *sk;

        if (!task || !file)
                return NULL;
        sock = bpf_sock_from_file(file);
        if (!sock)
                return NULL;
        sk = sock->sk;
        return sk && sock_wanted(sk) ? sk : NULL;
}

/* Run once by user space after attaching: credits the listeners that were
 * already open to the processes holding them, so that their connections
 * are not anonymous. A walk over every open file of every process. */
SEC("iter/task_file")
int nd_seed_listeners(struct bpf_iter__task_file *ctx)
{
        struct task_struct *task = ctx->task;
        const struct sock *sk = file_sock(task, ctx->file);
        struct owner owner = {};

        if (!sk || sk->__sk_common.skc_state != TCP_LISTEN)
                return 0;
        task_owner(task, &owner);
        listener_add(sk, sk->__sk_common.skc_num, &owner, true);
        return 0;
}

/* Run once by user space after nd_seed_listeners, in hybrid mode: follows
 * the connections that were open before we were loaded, each credited to
 * its listener's owner when passive (as an accepted one is), else to the
 * first process (lowest pid) found holding it, and classified by the
 * listeners that walk found. A walk over every open file of every process;
 * connections no process holds any more (closing, or not yet accepted)
 * are not followed. A socket nobody asked the cookie of is followed by
 * its fingerprint until its next state change. */
SEC("iter/task_file")
int nd_adopt_connections(struct bpf_iter__task_file *ctx)
{
        struct task_struct *task = ctx->task;
        const struct sock *sk = file_sock(task, ctx->file);
        struct sock_info fresh = { .adopted = 1 }, *known;
        struct listen_info *listener;
        __u64 key;
        int state;

        if (!sk)
                return 0;
        state = sk->__sk_common.skc_state;
        if (state != TCP_ESTABLISHED && state != TCP_FIN_WAIT1 && state != TCP_FIN_WAIT2 &&
            state != TCP_CLOSE_WAIT && state != TCP_LAST_ACK && state != TCP_CLOSING)
                return 0;
        key = (__u64)sk;
        known = bpf_map_lookup_elem(&socks, &key);
        if (known && info_is_of(known, sk))
                return 0; /* found in a process before, or opened since we attached */
        fresh.ts_start = fresh.ts_established = bpf_ktime_get_ns();
        fresh.cookie = cookie_of(sk);
        fresh.fingerprint = sock_fingerprint(sk);
        fresh.netns = sock_netns(sk);
        listener = listener_of(sk, sk->__sk_common.skc_num);
        fresh.passive = listener != NULL;
        /* A passive connection is the listener owner's, as an accepted one
         * is (on_accepted): a server that hands connections to workers
         * (PostgreSQL's backends) serves them all. */
        if (listener) {
                fresh.owner = listener->owner;
                fresh.owner_from_listener = 1; /* as on_accepted: the closer may take it over */
        } else
                task_owner(task, &fresh.owner);
        follow(sk, &fresh);
        count(ND_TCP_COUNTER_CHANGES);
        return 0;
}

/* One followed socket for the listing: sk (as struct sock) and tp (as
 * struct tcp_sock) are the socket at key, or a copy of it. Counted as
 * polling counts: ESTABLISHED up to the end of the teardown, while a
 * process still holds the socket. Drops the entries whose socket is gone.
 * TCP sockets are freed RCU-safely into their own slab, so the memory at
 * a key is a TCP socket, this one or a later one (or reads as zeroes),
 * which info_is_of() tells apart. */
static __always_inline int list_followed(struct bpf_iter_meta *meta, __u64 key, struct sock_info *info,
                                         const struct sock *sk, const struct tcp_sock *tp)
{
        struct nd_tcp_event_raw e;
        __u16 sport;
        __u64 now;
        int state;

        if (!info_is_of(info, sk)) {
                bpf_map_delete_elem(&socks, &key);
                return 0;
        }
        if (!info->cookie)
                info->cookie = cookie_of(sk); /* 0 still, or given since by sock_diag */
        sport = sk->__sk_common.skc_num;
        if (!info->ts_established || !filters_pass(sk, sport, info->owner.pid))
                return 0;
        state = sk->__sk_common.skc_state;
        if (state == TCP_SYN_SENT || state == TCP_SYN_RECV || state == TCP_CLOSE || state == TCP_LISTEN ||
            state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
                return 0;
        if (sock_flag(sk, SOCK_DEAD))
                return 0; /* orphaned: closed by its process, only the teardown left */
        now = bpf_ktime_get_ns();
        event_fill(&e, sk, info->netns, sport, ND_TCP_EVENT_OPEN, now, &info->owner, info->cookie);
        e.duration_ns = now - info->ts_established;
        connection_facts(&e, sk, tp, info, state);
        bpf_seq_write(meta->seq, &e, sizeof(e));
        return 0;
}

/* The connections open now, one ND_TCP_EVENT_OPEN record each, written
 * to the reader of the iterator: a walk of socks, which costs with the
 * connections followed, not with the kernel's socket hash table (which a
 * sock_diag dump walks whole, however few sockets match). Reads each
 * socket in place. */
SEC("iter/bpf_map_elem")
int nd_dump_open(struct bpf_iter__bpf_map_elem *ctx)
{
        const __u64 *at = ctx->key;
        struct sock_info *info = ctx->value;
        __u64 key;

        if (!at || !info)
                return 0;
        key = *at;
        return list_followed(ctx->meta, key, info,
                             bpf_rdonly_cast((void *)key, bpf_core_type_id_kernel(struct sock)),
                             bpf_rdonly_cast((void *)key, bpf_core_type_id_kernel(struct tcp_sock)));
}

/* nd_dump_open for kernels without bpf_rdonly_cast (before 6.2): copies
 * each socket (bpf_probe_read_kernel) and reads the copy. */
SEC("iter/bpf_map_elem")
int nd_dump_open_copy(struct bpf_iter__bpf_map_elem *ctx)
{
        const __u32 size = bpf_core_type_size(struct tcp_sock);
        const __u64 *at = ctx->key;
        struct sock_info *info = ctx->value;
        struct sock_copy *copy;
        __u32 zero = 0;
        __u64 key;

        if (!at || !info || size > sizeof(*copy))
                return 0;
        copy = bpf_map_lookup_elem(&sock_copies, &zero);
        if (!copy)
                return 0;
        key = *at;
        if (bpf_probe_read_kernel(copy, size, (const void *)key) < 0)
                __builtin_memset(copy, 0, sizeof(struct sock_common)); /* gone: its cookie reads 0 */
        return list_followed(ctx->meta, key, info, (const struct sock *)copy, (const struct tcp_sock *)copy);
}

/* The listing for kernels that refuse map element iterators: a walk of
 * the kernel's TCP socket table (of the reader's network namespace only),
 * listing the sockets we follow. Costs with the table, not with what we
 * follow; entries whose socket is gone are not met, so not dropped. */
SEC("iter/tcp")
int nd_list_tcp(struct bpf_iter__tcp *ctx)
{
        struct sock_common *skc = ctx->sk_common;
        struct sock_info *info;
        struct tcp_sock *tp;
        __u64 key;

        if (!skc)
                return 0;
        tp = bpf_skc_to_tcp_sock(skc); /* NULL for TIME_WAIT and request sockets */
        if (!tp)
                return 0;
        key = (__u64)tp;
        info = bpf_map_lookup_elem(&socks, &key);
        if (!info || !info_is_of(info, (const struct sock *)tp))
                return 0;
        return list_followed(ctx->meta, key, info, (const struct sock *)tp, tp);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
