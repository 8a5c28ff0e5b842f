/* Passive or active: the listening-set rule and its edge cases. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "collect/listen_set.h"

static void add(struct nd_listen_set *set, const char *addr, uint16_t port, int v6only, uint32_t inode)
{
        struct nd_sock s = { .state = ND_TCP_LISTEN, .local_port = port, .v6only = (int8_t)v6only, .inode = inode };

        assert_int_equal(nd_addr_parse(addr, &s.local), 0);
        assert_int_equal(nd_listen_set_add(set, &s), 0);
}

static bool covers(struct nd_listen_set *set, const char *addr, uint16_t port)
{
        struct nd_addr a;

        assert_int_equal(nd_addr_parse(addr, &a), 0);
        return nd_listen_set_covers(set, &a, port);
}

static void test_wildcard_and_specific(void **state)
{
        struct nd_listen_set set;

        nd_listen_set_init(&set);
        add(&set, "0.0.0.0", 80, -1, 1);
        add(&set, "10.0.0.1", 5432, -1, 2);

        assert_true(covers(&set, "10.0.0.1", 80));
        assert_true(covers(&set, "192.168.1.1", 80));
        assert_false(covers(&set, "fd00::1", 80)); /* 0.0.0.0 is IPv4 only */
        assert_true(covers(&set, "10.0.0.1", 5432));
        /* A client's ephemeral port that equals a port listened on at
         * another address is not passive. */
        assert_false(covers(&set, "10.0.0.2", 5432));
        assert_false(covers(&set, "10.0.0.1", 81));
        nd_listen_set_done(&set);
}

static void test_specific_beats_wildcard(void **state)
{
        struct nd_listen_set set;
        struct nd_addr a;

        nd_listen_set_init(&set);
        add(&set, "0.0.0.0", 8080, -1, 10);
        add(&set, "127.0.0.1", 8080, -1, 11);
        assert_int_equal(nd_addr_parse("127.0.0.1", &a), 0);
        assert_int_equal(nd_listen_set_find(&set, &a, 8080)->inode, 11);
        assert_int_equal(nd_addr_parse("10.1.1.1", &a), 0);
        assert_int_equal(nd_listen_set_find(&set, &a, 8080)->inode, 10);
        nd_listen_set_done(&set);
}

static void test_ipv6_wildcards(void **state)
{
        struct nd_listen_set set;

        nd_listen_set_init(&set);
        add(&set, "::", 9090, 0, 1);  /* dual stack */
        add(&set, "::", 9091, 1, 2);  /* IPV6_V6ONLY */
        add(&set, "::", 9092, -1, 3); /* unknown (/proc/net/tcp6): dual stack */

        assert_true(covers(&set, "fd00::5", 9090));
        assert_true(covers(&set, "10.0.0.1", 9090));
        /* v4-mapped forms normalise to IPv4 before the lookup. */
        assert_true(covers(&set, "::ffff:10.0.0.1", 9090));
        assert_true(covers(&set, "fd00::5", 9091));
        assert_false(covers(&set, "10.0.0.1", 9091));
        assert_true(covers(&set, "10.0.0.1", 9092));
        nd_listen_set_done(&set);
}

static void test_v4mapped_listener(void **state)
{
        struct nd_listen_set set;

        nd_listen_set_init(&set);
        /* Bound to ::ffff:127.0.0.1 on an IPv6 socket. */
        add(&set, "::ffff:127.0.0.1", 6379, 0, 1);
        assert_true(covers(&set, "127.0.0.1", 6379));
        assert_false(covers(&set, "127.0.0.2", 6379));
        nd_listen_set_done(&set);
}

static void test_other_namespace(void **state)
{
        struct nd_listen_set here, there;

        /* Each namespace has its own set: a port listened on only in
         * another namespace does not make a connection here passive. */
        nd_listen_set_init(&here);
        nd_listen_set_init(&there);
        add(&there, "0.0.0.0", 3306, -1, 1);
        assert_true(covers(&there, "10.0.0.1", 3306));
        assert_false(covers(&here, "10.0.0.1", 3306));
        nd_listen_set_done(&here);
        nd_listen_set_done(&there);
}

static void test_non_listen_ignored_and_clear(void **state)
{
        struct nd_listen_set set;
        struct nd_sock s = { .state = ND_TCP_ESTABLISHED, .local_port = 22 };

        nd_listen_set_init(&set);
        assert_int_equal(nd_addr_parse("0.0.0.0", &s.local), 0);
        assert_int_equal(nd_listen_set_add(&set, &s), 0);
        assert_false(covers(&set, "10.0.0.1", 22));

        for (int i = 0; i < 1000; i++)
                add(&set, "0.0.0.0", (uint16_t)(1000 + i), -1, (uint32_t)i + 1);
        assert_true(covers(&set, "1.2.3.4", 1999));
        nd_listen_set_clear(&set);
        assert_false(covers(&set, "1.2.3.4", 1999));
        nd_listen_set_done(&set);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wildcard_and_specific),
                cmocka_unit_test(test_specific_beats_wildcard),
                cmocka_unit_test(test_ipv6_wildcards),
                cmocka_unit_test(test_v4mapped_listener),
                cmocka_unit_test(test_other_namespace),
                cmocka_unit_test(test_non_listen_ignored_and_clear),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
