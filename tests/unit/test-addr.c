#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/addr.h"

static struct nd_addr A(const char *s)
{
        struct nd_addr a;
        assert_int_equal(nd_addr_parse(s, &a), 0);
        return a;
}

static void test_v4mapped_normalises(void **state)
{
        struct nd_addr a = A("::ffff:10.1.2.3"), b = A("10.1.2.3");
        char buf[ND_ADDR_STRLEN];

        assert_int_equal(a.family, AF_INET);
        assert_true(nd_addr_equal(&a, &b));
        assert_string_equal(nd_addr_format(&a, buf), "10.1.2.3");
        a = A("::ffff:0.0.0.0");
        assert_true(nd_addr_is_any(&a));
        assert_int_equal(a.family, AF_INET);
}

static void test_classes(void **state)
{
        static const char *const private[] = { "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.0.1",
                                               "127.0.0.1", "169.254.1.1", "100.64.0.1", "::1", "fd00::1",
                                               "fe80::1" };
        static const char *const public[] = { "8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1",
                                              "11.0.0.1" };

        for (size_t i = 0; i < sizeof(private) / sizeof(*private); i++) {
                struct nd_addr a = A(private[i]);
                if (!nd_addr_is_private(&a))
                        fail_msg("%s should be private", private[i]);
        }
        for (size_t i = 0; i < sizeof(public) / sizeof(*public); i++) {
                struct nd_addr a = A(public[i]);
                if (nd_addr_is_private(&a))
                        fail_msg("%s should be public", public[i]);
        }
        struct nd_addr l = A("127.8.9.10"), l6 = A("::1"), n = A("10.0.0.1");
        assert_true(nd_addr_is_loopback(&l));
        assert_true(nd_addr_is_loopback(&l6));
        assert_false(nd_addr_is_loopback(&n));
}

static void test_format_and_order(void **state)
{
        struct nd_addr v4 = A("10.0.0.2"), v4b = A("10.0.0.10"), v6 = A("fd00::1");
        char buf[80];

        assert_string_equal(nd_addr_format_endpoint(&v4, 80, buf, sizeof(buf)), "10.0.0.2:80");
        assert_string_equal(nd_addr_format_endpoint(&v6, -1, buf, sizeof(buf)), "[fd00::1]:many");
        assert_true(nd_addr_compare(&v4, &v4b) < 0); /* numeric, not textual */
        assert_true(nd_addr_compare(&v4b, &v6) < 0);  /* IPv4 first */
        assert_int_equal(nd_addr_compare(&v4, &v4), 0);
        struct nd_addr bad;
        assert_int_equal(nd_addr_parse("10.0.0", &bad), -EINVAL);
        assert_int_equal(nd_addr_parse("", &bad), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_v4mapped_normalises),
                cmocka_unit_test(test_classes),
                cmocka_unit_test(test_format_and_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
