/* Decoding of the eBPF TCP events (src/bpf/tcp_events.h), their names, and
 * the NETDEP_BPF switch: pure functions, fed hand-made records. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "collect/tcp_event.h"

static struct nd_tcp_event_raw raw_v4(uint16_t kind)
{
        struct nd_tcp_event_raw r = {
                .ts_ns = 5000000123,
                .cookie = 77,
                .netns = 4026531840u,
                .pid = 812,
                .pgid = 800,
                .kind = kind,
                .family = AF_INET,
                .sport = 51234,
                .dport = 3306,
                .saddr = { 10, 0, 1, 9 },
                .daddr = { 10, 0, 1, 10 },
        };
        memcpy(r.comm, "app", 3);
        return r;
}

static void assert_addr(const struct nd_addr *a, const char *text)
{
        char buf[ND_ADDR_STRLEN];

        assert_string_equal(nd_addr_format(a, buf), text);
}

static void test_connect_v4(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_CONNECT);
        struct nd_tcp_event e;

        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 1000000000, &e), 0);
        assert_int_equal(e.kind, ND_TCP_EVENT_CONNECT);
        assert_int_equal(e.mono_ns, 5000000123);
        assert_int_equal(e.ts_ns, 6000000123);
        assert_int_equal(e.cookie, 77);
        assert_int_equal(e.netns, 4026531840u);
        assert_int_equal(e.pid, 812);
        assert_int_equal(e.pgid, 800);
        assert_string_equal(e.comm, "app");
        assert_int_equal(e.local.family, AF_INET);
        assert_addr(&e.local, "10.0.1.9");
        assert_addr(&e.peer, "10.0.1.10");
        assert_int_equal(e.local_port, 51234);
        assert_int_equal(e.peer_port, 3306);
        assert_false(e.passive);
        assert_false(e.owner_from_listener);
        /* Fields of other kinds stay zero. */
        assert_int_equal(e.duration_us, 0);
        assert_int_equal(e.bytes_sent, 0);
        assert_int_equal(e.error, 0);
}

static void test_v6_and_v4mapped(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_ACCEPT);
        static const uint8_t v6[16] = { 0xfd, 0x77, [15] = 1 };
        static const uint8_t mapped[16] = { [10] = 0xff, [11] = 0xff, 10, 201, 0, 2 };
        struct nd_tcp_event e;

        r.family = AF_INET6;
        memcpy(r.saddr, v6, 16);
        memcpy(r.daddr, mapped, 16);
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_int_equal(e.local.family, AF_INET6);
        assert_addr(&e.local, "fd77::1");
        /* A dual-stack socket's IPv4 peer is one host with its IPv4 form. */
        assert_int_equal(e.peer.family, AF_INET);
        assert_addr(&e.peer, "10.201.0.2");
        assert_true(e.passive);
        assert_true(e.owner_from_listener);
}

static void test_close(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_CLOSE);
        struct nd_tcp_event e;

        r.duration_ns = 2345678;
        r.bytes_acked = 100;
        r.bytes_received = 50;
        r.rtt_us = 31;
        r.retrans = 2;
        r.state = 4; /* FIN_WAIT1 */
        r.error = 111; /* ignored on a close */
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_int_equal(e.duration_us, 2345);
        assert_int_equal(e.bytes_sent, 100);
        assert_int_equal(e.bytes_received, 50);
        assert_int_equal(e.rtt_us, 31);
        assert_int_equal(e.retrans, 2);
        assert_int_equal(e.prev_state, 4);
        assert_int_equal(e.error, 0);
        assert_false(e.passive);

        r.flags = ND_TCP_EVENT_F_PASSIVE;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_true(e.passive);
        assert_false(e.owner_from_listener);
        r.flags = ND_TCP_EVENT_F_PASSIVE | ND_TCP_EVENT_F_OWNER_LISTENER;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_true(e.owner_from_listener);
}

static void test_failed(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_FAILED);
        struct nd_tcp_event e;

        r.error = ECONNREFUSED;
        r.duration_ns = 999;
        r.bytes_acked = 5; /* ignored on a failure */
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_int_equal(e.error, ECONNREFUSED);
        assert_int_equal(e.duration_us, 0);
        assert_int_equal(e.bytes_sent, 0);
        assert_string_equal(nd_tcp_event_failure_name(e.error), "refused");

        r.error = -ETIMEDOUT; /* either sign means the same errno */
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_int_equal(e.error, ETIMEDOUT);
        assert_string_equal(nd_tcp_event_failure_name(e.error), "timeout");
        assert_string_equal(nd_tcp_event_failure_name(0), "closed");
        assert_string_equal(nd_tcp_event_failure_name(EHOSTUNREACH), "unreachable");
        assert_string_equal(nd_tcp_event_failure_name(ENETUNREACH), "unreachable");
        assert_string_equal(nd_tcp_event_failure_name(ECONNRESET), "reset");
        assert_string_equal(nd_tcp_event_failure_name(EPROTO), "error");
}

static void test_comm_unterminated(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_LISTEN);
        struct nd_tcp_event e;

        memcpy(r.comm, "0123456789abcdef", ND_TCP_EVENT_COMM_LEN);
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), 0);
        assert_string_equal(e.comm, "0123456789abcdef");
        assert_false(e.passive);
}

static void test_malformed(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_CONNECT);
        struct nd_tcp_event e, untouched;
        uint8_t longer[sizeof(r) + 8] = {};

        memset(&e, 0xa5, sizeof(e));
        untouched = e;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r) - 1, 0, &e), -EBADMSG);
        assert_int_equal(nd_tcp_event_decode(NULL, 0, 0, &e), -EBADMSG);
        r.kind = 0;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), -EBADMSG);
        r.kind = ND_TCP_EVENT_KIND_MAX + 1;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), -EBADMSG);
        r.kind = ND_TCP_EVENT_CONNECT;
        r.family = AF_UNIX;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), 0, &e), -EBADMSG);
        assert_memory_equal(&e, &untouched, sizeof(e));

        /* A longer record (a newer kernel side) decodes by its known part;
         * the copy also frees the decoder from the record's alignment. */
        r.family = AF_INET;
        memcpy(longer + 1, &r, sizeof(r));
        assert_int_equal(nd_tcp_event_decode(longer + 1, sizeof(r) + 7, 0, &e), 0);
        assert_int_equal(e.peer_port, 3306);
}

static void test_realtime(void **state)
{
        struct nd_tcp_event_raw r = raw_v4(ND_TCP_EVENT_CONNECT);
        struct nd_tcp_event e;
        int64_t offset = nd_tcp_event_realtime_offset();

        /* Monotonic time starts near boot: the wall clock is ahead of it. */
        assert_true(offset > 0);
        r.ts_ns = 10;
        assert_int_equal(nd_tcp_event_decode(&r, sizeof(r), -1000, &e), 0);
        assert_int_equal(e.ts_ns, 0);
}

static void test_names(void **state)
{
        assert_string_equal(nd_tcp_event_kind_name(ND_TCP_EVENT_CONNECT), "connect");
        assert_string_equal(nd_tcp_event_kind_name(ND_TCP_EVENT_ACCEPT), "accept");
        assert_string_equal(nd_tcp_event_kind_name(ND_TCP_EVENT_CLOSE), "close");
        assert_string_equal(nd_tcp_event_kind_name(ND_TCP_EVENT_FAILED), "failed");
        assert_string_equal(nd_tcp_event_kind_name(ND_TCP_EVENT_LISTEN), "listen");
        assert_string_equal(nd_tcp_event_kind_name(ND_TCP_EVENT_LISTEN_STOP), "listen_stop");
        assert_null(nd_tcp_event_kind_name(0));
        assert_null(nd_tcp_event_kind_name(ND_TCP_EVENT_KIND_MAX + 1));
}

static void test_switch(void **state)
{
        char why[128];

        assert_int_equal(nd_tcp_events_check_switch(false, NULL, why, sizeof(why)), 0);
        assert_int_equal(nd_tcp_events_check_switch(false, "", why, sizeof(why)), 0);
        assert_int_equal(nd_tcp_events_check_switch(false, "on", why, sizeof(why)), 0);
        assert_int_equal(nd_tcp_events_check_switch(false, "auto", why, sizeof(why)), 0);

        assert_int_equal(nd_tcp_events_check_switch(false, "off", why, sizeof(why)), -EOPNOTSUPP);
        assert_string_equal(why, "eBPF is switched off by NETDEP_BPF=off");
        assert_int_equal(nd_tcp_events_check_switch(false, "OFF", why, sizeof(why)), -EOPNOTSUPP);
        assert_int_equal(nd_tcp_events_check_switch(false, "0", NULL, 0), -EOPNOTSUPP);

        assert_int_equal(nd_tcp_events_check_switch(true, "on", why, sizeof(why)), -EOPNOTSUPP);
        assert_string_equal(why, "eBPF is switched off in the settings");

        assert_int_equal(nd_tcp_events_check_switch(false, "maybe", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "NETDEP_BPF=maybe is neither on nor off");
        /* A short buffer is truncated, not overrun. */
        assert_int_equal(nd_tcp_events_check_switch(false, "off", why, 5), -EOPNOTSUPP);
        assert_string_equal(why, "eBPF");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_connect_v4),   cmocka_unit_test(test_v6_and_v4mapped),
                cmocka_unit_test(test_close),        cmocka_unit_test(test_failed),
                cmocka_unit_test(test_comm_unterminated), cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_realtime),     cmocka_unit_test(test_names),
                cmocka_unit_test(test_switch),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
