/* Recorded dumps replayed through classification and folding: the host
 * flows of the scenario in data/README.md, exactly. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/snapshot.h"
#include "collect/sockdiag.h"
#include "test-util.h"

struct replay {
        struct nd_listen_set listeners;
        struct nd_flow_set flows;
        struct nd_snapshot_counts counts;
};

static int add_listener(const struct nd_sock *s, void *userdata)
{
        return nd_listen_set_add(userdata, s);
}

static int fold(const struct nd_sock *s, void *userdata)
{
        struct replay *r = userdata;
        return nd_snapshot_fold_socket(s, 42, NULL, &r->listeners, &r->flows, &r->counts);
}

static void replay_file(const char *name, nd_sock_fn fn, void *userdata)
{
        size_t len;
        void *buf = test_read_data(name, &len);

        assert_int_equal(nd_sockdiag_decode(buf, len, fn, userdata), 0);
        free(buf);
}

static const struct nd_flow *find_flow(const struct nd_flow_set *set, enum nd_direction d,
                                       const char *local, int local_port, const char *peer, int peer_port)
{
        struct nd_addr l, p;

        assert_int_equal(nd_addr_parse(local, &l), 0);
        assert_int_equal(nd_addr_parse(peer, &p), 0);
        for (size_t i = 0; i < set->n; i++) {
                const struct nd_flow *f = &set->flows[i];
                if (f->direction == d && nd_addr_equal(&f->local, &l) && nd_addr_equal(&f->peer, &p) &&
                    f->local_port == local_port && f->peer_port == peer_port)
                        return f;
        }
        return NULL;
}

static void expect(const struct nd_flow_set *set, enum nd_direction d, const char *local, int local_port,
                   const char *peer, int peer_port, unsigned connections)
{
        const struct nd_flow *f = find_flow(set, d, local, local_port, peer, peer_port);

        if (!f)
                fail_msg("missing flow %s %s:%d %s:%d", nd_direction_to_string(d), local, local_port, peer, peer_port);
        assert_int_equal(f->connections, connections);
        assert_int_equal(f->netns, 42);
        assert_true(f->tcp.known);
        assert_true(f->tcp.rtt_us_min <= nd_flow_rtt_us_avg(f));
        assert_true(nd_flow_rtt_us_avg(f) <= f->tcp.rtt_us_max);
}

static void test_replayed_scenario(void **state)
{
        struct replay r = {};

        nd_listen_set_init(&r.listeners);
        nd_flow_set_init(&r.flows);
        replay_file("inet-listen.bin", add_listener, &r.listeners);
        replay_file("inet6-listen.bin", add_listener, &r.listeners);
        replay_file("inet-flows.bin", fold, &r);
        replay_file("inet6-flows.bin", fold, &r);

        assert_int_equal(r.counts.sockets, 18);
        assert_int_equal(r.flows.n, 10);
        expect(&r.flows, ND_DIRECTION_ACTIVE, "10.9.0.1", 0, "10.9.0.1", 8080, 3);
        expect(&r.flows, ND_DIRECTION_PASSIVE, "10.9.0.1", 8080, "10.9.0.1", 0, 3);
        expect(&r.flows, ND_DIRECTION_ACTIVE, "127.0.0.1", 0, "127.0.0.1", 5432, 2);
        expect(&r.flows, ND_DIRECTION_PASSIVE, "127.0.0.1", 5432, "127.0.0.1", 0, 2);
        expect(&r.flows, ND_DIRECTION_ACTIVE, "fd09::1", 0, "fd09::1", 9090, 2);
        expect(&r.flows, ND_DIRECTION_PASSIVE, "fd09::1", 9090, "fd09::1", 0, 2);
        /* IPv4 through the dual-stack [::]:9090 listener: v4-mapped on the
         * server side, folded with plain IPv4 on both. */
        expect(&r.flows, ND_DIRECTION_ACTIVE, "10.9.0.1", 0, "10.9.0.1", 9090, 1);
        expect(&r.flows, ND_DIRECTION_PASSIVE, "10.9.0.1", 9090, "10.9.0.1", 0, 1);
        expect(&r.flows, ND_DIRECTION_ACTIVE, "fd09::1", 0, "fd09::1", 5432, 1);
        expect(&r.flows, ND_DIRECTION_PASSIVE, "fd09::1", 5432, "fd09::1", 0, 1);

        nd_flow_set_done(&r.flows);
        nd_listen_set_done(&r.listeners);
}

static void test_without_listeners_all_is_active(void **state)
{
        struct replay r = {};

        /* The same connections seen from a namespace that listens on
         * nothing: a port listened on elsewhere does not make them passive. */
        nd_listen_set_init(&r.listeners);
        nd_flow_set_init(&r.flows);
        replay_file("inet-flows.bin", fold, &r);
        for (size_t i = 0; i < r.flows.n; i++)
                assert_int_equal(r.flows.flows[i].direction, ND_DIRECTION_ACTIVE);
        nd_flow_set_done(&r.flows);
        nd_listen_set_done(&r.listeners);
}

static void test_orphans_and_non_flow_states(void **state)
{
        struct replay r = {};
        struct nd_sock s = { .state = ND_TCP_FIN_WAIT2, .local_port = 40000, .peer_port = 80 };

        nd_listen_set_init(&r.listeners);
        nd_flow_set_init(&r.flows);
        assert_int_equal(nd_addr_parse("10.0.0.1", &s.local), 0);
        assert_int_equal(nd_addr_parse("10.0.0.2", &s.peer), 0);

        /* Closed by its application, only the kernel's teardown left. */
        assert_int_equal(fold(&s, &r), 0);
        s.state = ND_TCP_LAST_ACK;
        assert_int_equal(fold(&s, &r), 0);
        /* Not connections at all. */
        s.inode = 7;
        s.state = ND_TCP_TIME_WAIT;
        assert_int_equal(fold(&s, &r), 0);
        s.state = ND_TCP_SYN_SENT;
        assert_int_equal(fold(&s, &r), 0);
        s.state = ND_TCP_LISTEN;
        assert_int_equal(fold(&s, &r), 0);
        assert_int_equal(r.flows.n, 0);

        /* Still held by a process: it counts, whatever the teardown state. */
        s.state = ND_TCP_FIN_WAIT2;
        assert_int_equal(fold(&s, &r), 0);
        s.state = ND_TCP_CLOSE_WAIT;
        s.inode = 0; /* not accepted yet, say */
        assert_int_equal(fold(&s, &r), 0);
        assert_int_equal(r.flows.n, 1);
        assert_int_equal(r.flows.flows[0].connections, 2);
        nd_flow_set_done(&r.flows);
        nd_listen_set_done(&r.listeners);
}

static void fake_file(const char *root, const char *rel, const char *content)
{
        char path[4096];
        FILE *f;

        assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) < sizeof(path));
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

/* pid's entry under a fake /proc: its name, process group, one socket. */
static void fake_process(const char *root, int pid, int pgid, const char *name, unsigned inode)
{
        char path[4096], text[128];

        snprintf(path, sizeof(path), "%s/%d", root, pid);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/%d/fd", root, pid);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/%d/fd/3", root, pid);
        snprintf(text, sizeof(text), "socket:[%u]", inode);
        assert_int_equal(symlink(text, path), 0);
        snprintf(path, sizeof(path), "%d/comm", pid);
        snprintf(text, sizeof(text), "%s\n", name);
        fake_file(root, path, text);
        snprintf(path, sizeof(path), "%d/stat", pid);
        snprintf(text, sizeof(text), "%d (%s) S 1 %d %d 0 -1\n", pid, name, pgid, pgid);
        fake_file(root, path, text);
}

static struct nd_sock sock(uint8_t state, const char *local, uint16_t lport, const char *peer, uint16_t pport,
                           uint32_t inode)
{
        struct nd_sock s = { .state = state, .v6only = -1, .local_port = lport, .peer_port = pport, .inode = inode };

        assert_int_equal(nd_addr_parse(local, &s.local), 0);
        assert_int_equal(nd_addr_parse(peer, &s.peer), 0);
        return s;
}

/* PostgreSQL: the postmaster owns the listener, each backend (its own
 * process group: setsid()) an accepted socket. A passive flow keeps the
 * accepted socket's owner as its process and learns the listener's. */
static void test_listener_owner(void **state)
{
        char root[] = "/tmp/nd-proc-XXXXXX", cmd[64];
        struct nd_socket_owners owners;
        struct nd_listen_set listeners;
        struct nd_flow_set flows;
        struct nd_sock s;

        assert_non_null(mkdtemp(root));
        fake_process(root, 100, 100, "postgres", 500);
        fake_process(root, 101, 101, "postgres", 501);
        fake_process(root, 102, 102, "postgres", 502);
        nd_socket_owners_init(&owners);
        assert_int_equal(nd_socket_owners_scan(&owners, root), 0);
        nd_listen_set_init(&listeners);
        nd_flow_set_init(&flows);

        s = sock(ND_TCP_LISTEN, "0.0.0.0", 5432, "0.0.0.0", 0, 500);
        assert_int_equal(nd_listen_set_add(&listeners, &s), 0);
        s = sock(ND_TCP_ESTABLISHED, "10.0.0.1", 5432, "10.0.0.2", 50000, 501);
        assert_int_equal(nd_snapshot_fold_socket(&s, 1, &owners, &listeners, &flows, NULL), 0);
        s = sock(ND_TCP_ESTABLISHED, "10.0.0.1", 5432, "10.0.0.2", 50001, 502);
        assert_int_equal(nd_snapshot_fold_socket(&s, 1, &owners, &listeners, &flows, NULL), 0);
        /* Not accepted yet: the listener's owner is its process too. */
        s = sock(ND_TCP_ESTABLISHED, "10.0.0.1", 5432, "10.0.0.2", 50002, 0);
        assert_int_equal(nd_snapshot_fold_socket(&s, 1, &owners, &listeners, &flows, NULL), 0);
        /* A backend's own connection out: no listener. */
        s = sock(ND_TCP_ESTABLISHED, "10.0.0.1", 40000, "10.0.0.3", 80, 501);
        assert_int_equal(nd_snapshot_fold_socket(&s, 1, &owners, &listeners, &flows, NULL), 0);

        assert_int_equal(flows.n, 4);
        for (size_t i = 0; i < flows.n; i++) {
                const struct nd_flow *f = &flows.flows[i];

                assert_true(f->has_process);
                if (f->direction == ND_DIRECTION_ACTIVE) {
                        assert_int_equal(f->process.pid, 101);
                        assert_false(f->has_listener_owner);
                        continue;
                }
                assert_int_equal(f->process.pid, i == 2 ? 100 : 101 + (int)i);
                assert_true(f->has_listener_owner);
                assert_int_equal(f->listener_owner.pid, 100);
                assert_int_equal(f->listener_owner.pgid, 100);
                assert_string_equal(f->listener_owner.name, "postgres");
        }
        nd_flow_set_done(&flows);
        nd_listen_set_done(&listeners);
        nd_socket_owners_done(&owners);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_replayed_scenario),
                cmocka_unit_test(test_without_listeners_all_is_active),
                cmocka_unit_test(test_orphans_and_non_flow_states),
                cmocka_unit_test(test_listener_owner),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
