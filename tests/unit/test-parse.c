#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shared/parse.h"

static void test_durations(void **state)
{
        uint64_t ms;

        assert_int_equal(parse_duration_ms("250ms", &ms), 0);
        assert_int_equal(ms, 250);
        assert_int_equal(parse_duration_ms("2s", &ms), 0);
        assert_int_equal(ms, 2000);
        assert_int_equal(parse_duration_ms("1.5s", &ms), 0);
        assert_int_equal(ms, 1500);
        assert_int_equal(parse_duration_ms("3", &ms), 0);
        assert_int_equal(ms, 3000);
        assert_int_equal(parse_duration_ms("30m", &ms), 0);
        assert_int_equal(ms, 1800000);
        assert_int_equal(parse_duration_ms("7d", &ms), 0);
        assert_int_equal(ms, 604800000);

        static const char *const bad[] = { "", "s", "-1s", "2x", "2 s", " 2s", "nan", "inf", "1e400s", "+3s" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                ms = 12345;
                if (parse_duration_ms(bad[i], &ms) == 0)
                        fail_msg("'%s' should not parse", bad[i]);
                assert_int_equal(ms, 12345); /* untouched on failure */
        }
}

static void test_ints_and_choices(void **state)
{
        static const char *const names[] = { "all", "public", "private", NULL };
        long long v;

        assert_int_equal(parse_int_range("10", 1, 10, &v), 0);
        assert_int_equal(v, 10);
        assert_int_equal(parse_int_range("11", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_int_range("1x", 1, 10, &v), -EINVAL);
        assert_int_equal(parse_int_range("99999999999999999999", 1, 10, &v), -ERANGE);
        assert_int_equal(parse_choice("private", names), 2);
        assert_int_equal(parse_choice("Private", names), -EINVAL);
}

static void test_time_points(void **state)
{
        const int64_t now = 1800000000;
        int64_t t, since, until;

        assert_int_equal(parse_time_point("90s", now, &t), 0);
        assert_int_equal(t, now - 90);
        assert_int_equal(parse_time_point("7d", now, &t), 0);
        assert_int_equal(t, now - 7 * 86400);
        assert_int_equal(parse_time_point("2027-01-15T08:00:00Z", now, &t), 0);
        assert_int_equal(t, 1800000000);
        assert_int_equal(parse_time_point("1970-01-01T00:00:00Z", now, &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(parse_time_point("1970-01-01T09:00:00+09:00", now, &t), 0);
        assert_int_equal(t, 0);
        assert_int_equal(parse_time_point("1970-01-01T00:00:10.250Z", now, &t), 0);
        assert_int_equal(t, 10);
        assert_int_equal(parse_time_point("1970-01-01T00:00:00", now, &t), -EINVAL); /* no zone */
        assert_int_equal(parse_time_point("yesterday", now, &t), -EINVAL);
        assert_int_equal(parse_time_point("2026-13-01T00:00:00Z", now, &t), -EINVAL);

        assert_int_equal(parse_time_range("2h..1h", now, &since, &until), 0);
        assert_int_equal(since, now - 7200);
        assert_int_equal(until, now - 3600);
        assert_int_equal(parse_time_range("1h..2h", now, &since, &until), -ERANGE);
        assert_int_equal(parse_time_range("1h", now, &since, &until), -EINVAL);
        assert_int_equal(parse_time_range("1h..soon", now, &since, &until), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_durations),
                cmocka_unit_test(test_ints_and_choices),
                cmocka_unit_test(test_time_points),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
