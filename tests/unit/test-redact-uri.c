/* nd_store_redact_uri(): a store URI as it may be shown, every password
 * replaced by ***, however many there are and however short. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"

static void assert_redacted(const char *uri, const char *want)
{
        char *got = nd_store_redact_uri(uri);

        assert_non_null(got);
        assert_string_equal(got, want);
        free(got);
}

static void test_passwords(void **state)
{
        assert_redacted("sqlite:netdep.db", "sqlite:netdep.db");
        assert_redacted("postgresql://netdep:s3cret@db1/netdep", "postgresql://netdep:***@db1/netdep");
        assert_redacted("postgresql:///netdep?host=/run/pg&password=s3cret&user=netdep",
                        "postgresql:///netdep?host=/run/pg&password=***&user=netdep");
        assert_redacted("host=db1 password=s3cret dbname=netdep", "host=db1 password=*** dbname=netdep");
        assert_redacted("postgresql://u:@h/d", "postgresql://u:***@h/d");
}

/* Empty passwords grow the text: many of them must still fit (ASan). */
static void test_many_empty_passwords(void **state)
{
        char uri[4096] = "postgresql://u:@h/d?x=1", want[8192] = "postgresql://u:***@h/d?x=1";

        for (int i = 0; i < 300; i++) {
                strcat(uri, "&password=");
                strcat(want, "&password=***");
        }
        assert_redacted(uri, want);
        assert_redacted("password=", "password=***");
        assert_redacted("", "");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_passwords),
                cmocka_unit_test(test_many_empty_passwords),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
