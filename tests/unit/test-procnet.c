/* The /proc/net/tcp fallback parser, on recorded tables and bad lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/procnet.h"
#include "test-util.h"

static int count(const struct nd_sock *s, void *userdata)
{
        (*(int *)userdata)++;
        return 0;
}

static int read_table(const char *name, int family, uint32_t states)
{
        size_t len;
        char *buf = test_read_data(name, &len);
        FILE *f = fmemopen(buf, len, "r");
        int n = 0;

        assert_non_null(f);
        assert_int_equal(nd_procnet_read(f, family, states, count, &n), 0);
        fclose(f);
        free(buf);
        return n;
}

static void test_recorded_tables(void **state)
{
        /* The same scenario as the recorded sock_diag dumps. */
        assert_int_equal(read_table("proc-net-tcp.txt", AF_INET, ND_TCPF(ND_TCP_LISTEN)), 2);
        assert_int_equal(read_table("proc-net-tcp.txt", AF_INET, ND_TCPF_FLOW_STATES), 11);
        assert_int_equal(read_table("proc-net-tcp6.txt", AF_INET6, ND_TCPF(ND_TCP_LISTEN)), 2);
        assert_int_equal(read_table("proc-net-tcp6.txt", AF_INET6, ND_TCPF_FLOW_STATES), 7);
}

static void test_one_line(void **state)
{
        struct nd_sock s;
        char buf[ND_ADDR_STRLEN];

        assert_int_equal(nd_procnet_parse_line(
                "   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 23811 1 0000000000000000 100 0 0 10 0",
                AF_INET, &s), 0);
        assert_int_equal(s.state, ND_TCP_LISTEN);
        assert_string_equal(nd_addr_format(&s.local, buf), "127.0.0.1");
        assert_int_equal(s.local_port, 5432);
        assert_int_equal(s.uid, 107);
        assert_int_equal(s.inode, 23811);
        assert_false(s.has_tcp_info);

        /* v4-mapped in tcp6 folds to IPv4. */
        assert_int_equal(nd_procnet_parse_line(
                "   3: 0000000000000000FFFF00000100090A:2382 0000000000000000FFFF00000100090A:8640 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1",
                AF_INET6, &s), 0);
        assert_int_equal(s.local.family, AF_INET);
        assert_string_equal(nd_addr_format(&s.local, buf), "10.9.0.1");
        assert_int_equal(s.state, ND_TCP_ESTABLISHED);
}

static void test_bad_lines(void **state)
{
        static const char *const bad[] = {
                "",
                "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
                "   0: 0100007F:1538",
                "   0: 0100007G:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 23811",
                "   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0",
                "   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 99999999999",
                "x: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   107        0 1",
        };
        struct nd_sock s;

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
                if (nd_procnet_parse_line(bad[i], AF_INET, &s) != -EINVAL)
                        fail_msg("line %zu should be rejected", i);

        /* A garbled table is an error, not a crash. */
        char table[] = "header\n   0: zz\n";
        FILE *f = fmemopen(table, strlen(table), "r");
        int n = 0;
        assert_int_equal(nd_procnet_read(f, AF_INET, ~0u, count, &n), -EBADMSG);
        fclose(f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_recorded_tables),
                cmocka_unit_test(test_one_line),
                cmocka_unit_test(test_bad_lines),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
