/* Role rules: the file format, what is refused (naming the line), and
 * which rule an address or hostname gets (the first that matches). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/role.h"

static int parse(const char *text, struct nd_role_rules *rules, char *why, size_t size)
{
        FILE *f = fmemopen((void *)text, strlen(text), "r");
        int r;

        assert_non_null(f);
        r = nd_role_rules_parse(f, rules, why, size);
        fclose(f);
        return r;
}

static const char *role_of(const struct nd_role_rules *rules, const char *addr, const char *hostname)
{
        static char buf[2 * ND_ROLE_FIELD_MAX + 2];
        const struct nd_role_rule *rule;
        struct nd_addr a;

        assert_int_equal(nd_addr_parse(addr, &a), 0);
        rule = nd_role_rules_find(rules, &a, hostname);
        if (!rule)
                return "-";
        snprintf(buf, sizeof(buf), "%s:%s", rule->service, rule->role);
        return buf;
}

static const char fleet[] =
        "# the lab fleet\n"
        "10.0.2.5           blog:db      dc=tokyo1 name=db-primary\n"
        "10.0.2.0/24        blog:web     dc=tokyo1\n"
        "\n"
        "fd00:1::/64        blog:cache\n"
        "redis-*.internal   blog:redis   # a glob on the agents' hostnames\n";

static void test_first_match_wins(void **state)
{
        struct nd_role_rules rules = {};
        char why[256];

        assert_int_equal(parse(fleet, &rules, why, sizeof(why)), 0);
        assert_int_equal(rules.n, 4);
        assert_string_equal(role_of(&rules, "10.0.2.5", NULL), "blog:db"); /* before its /24 */
        assert_string_equal(rules.items[0].name, "db-primary");
        assert_string_equal(rules.items[0].datacenter, "tokyo1");
        assert_string_equal(role_of(&rules, "10.0.2.77", NULL), "blog:web");
        assert_string_equal(role_of(&rules, "fd00:1::9", NULL), "blog:cache");
        assert_string_equal(role_of(&rules, "10.0.3.1", NULL), "-");
        nd_role_rules_done(&rules);
}

/* Globs match hostnames without regard to case, as DNS names are. */
static void test_hostname_glob(void **state)
{
        struct nd_role_rules rules = {};
        char why[256];

        assert_int_equal(parse(fleet, &rules, why, sizeof(why)), 0);
        assert_string_equal(role_of(&rules, "10.9.0.1", "redis-3.internal"), "blog:redis");
        assert_string_equal(role_of(&rules, "10.9.0.1", "REDIS-3.Internal"), "blog:redis");
        assert_string_equal(role_of(&rules, "10.9.0.1", "redis-3.external"), "-");
        assert_string_equal(role_of(&rules, "10.9.0.1", NULL), "-");
        nd_role_rules_done(&rules);
}

/* A malformed file is refused whole, naming the line; *ret is untouched. */
static void test_refused(void **state)
{
        static const char *const bad[] = {
                "10.0.0.0/33 shop:x\n",
                "10.0.0.1 shop\n",
                "10.0.0.1 :db\n",
                "10.0.0.1\n",
                "10.0.0.1 shop:db color=red\n",
        };
        char why[256];

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                struct nd_role_rules rules = { .n = 12345 };
                char text[128];

                snprintf(text, sizeof(text), "# ok\n10.1.0.0/16 shop:app\n%s", bad[i]);
                why[0] = 0;
                assert_int_equal(parse(text, &rules, why, sizeof(why)), -EINVAL);
                assert_int_equal(rules.n, 12345);
                assert_non_null(strstr(why, "line 3"));
        }
}

/* Comments only: no rule (the CLI refuses to import it without asking). */
static void test_only_comments(void **state)
{
        struct nd_role_rules rules = {};
        char why[256];

        assert_int_equal(parse("# nothing yet\n\n   # still nothing\n", &rules, why, sizeof(why)), 0);
        assert_int_equal(rules.n, 0);
        nd_role_rules_done(&rules);
}

static void test_split(void **state)
{
        char service[ND_ROLE_FIELD_MAX], role[ND_ROLE_FIELD_MAX];

        assert_int_equal(nd_role_split("shop:db", service, role, sizeof(service)), 0);
        assert_string_equal(service, "shop");
        assert_string_equal(role, "db");
        assert_int_equal(nd_role_split("shop", service, role, sizeof(service)), -EINVAL);
        assert_int_equal(nd_role_split(":db", service, role, sizeof(service)), -EINVAL);
        assert_int_equal(nd_role_split("shop:", service, role, sizeof(service)), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_first_match_wins),
                cmocka_unit_test(test_hostname_glob),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_only_comments),
                cmocka_unit_test(test_split),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
