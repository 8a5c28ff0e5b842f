/* A read on the server's API as the netdep command line that answers it:
 * option for option, with bad names and values refused in one line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "serve/read_request.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Made, and its argv exactly want (NULL ended). */
static void assert_argv(const struct nd_read_request *r, const char *const *want)
{
        size_t n = 0;

        while (want[n])
                n++;
        assert_int_equal(r->argc, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(r->argv[i], want[i]);
        assert_null(r->argv[n]);
}

static void assert_made(const char *path, const char *method, const struct nd_param *params, size_t n,
                        const char *const *want)
{
        struct nd_read_request r = {};
        char why[256] = "";

        assert_int_equal(nd_read_request_make(path, method, params, n, &r, why, sizeof(why)), 0);
        assert_argv(&r, want);
        nd_read_request_done(&r);
        assert_null(r.argv);
        assert_int_equal(r.argc, 0);
}

/* Refused with want, why one line; when why_has, why names it. */
static void assert_refused(const char *path, const char *method, const struct nd_param *params, size_t n,
                           int want, const char *why_has)
{
        struct nd_read_request r = { .argc = 77 };
        char why[256] = "";

        assert_int_equal(nd_read_request_make(path, method, params, n, &r, why, sizeof(why)), want);
        assert_true(why[0] != '\0');
        assert_null(strchr(why, '\n'));
        if (why_has && !strstr(why, why_has))
                fail_msg("why '%s' does not say '%s'", why, why_has);
        /* Left alone on failure. */
        assert_int_equal(r.argc, 77);
        assert_null(r.argv);
}

static void test_look(void **state)
{
        const struct nd_param p[] = { { "host", "db1" }, { "depth", "2" } };
        struct nd_read_request r = {};
        char why[256] = "";

        assert_int_equal(nd_read_request_make("/api/v1/look", "GET", p, N(p), &r, why, sizeof(why)), 0);
        assert_argv(&r, (const char *[]){ "netdep", "look", "--host=db1", "--depth=2", NULL });
        assert_string_equal(r.verb, "look");
        assert_int_equal(r.scope, ND_SCOPE_READER);
        assert_false(r.takes_body);
        assert_string_equal(r.content_type, "text/plain; charset=utf-8");
        nd_read_request_done(&r);

        /* No parameters at all. */
        assert_made("/api/v1/look", "GET", NULL, 0, (const char *[]){ "netdep", "look", NULL });
        /* In the order given. */
        assert_made("/api/v1/graph", "GET", (const struct nd_param[]){ { "depth", "3" }, { "role", "db" } }, 2,
                    (const char *[]){ "netdep", "graph", "--depth=3", "--role=db", NULL });
}

static void test_flags(void **state)
{
        static const char *const yes[] = { "true", "1", "yes", "on", "" };
        static const char *const no[] = { "false", "0", "no", "off" };

        for (size_t i = 0; i < N(yes); i++)
                assert_made("/api/v1/impact", "GET",
                            (const struct nd_param[]){ { "target", "db1" }, { "reverse", yes[i] } }, 2,
                            (const char *[]){ "netdep", "impact", "--reverse", "--", "db1", NULL });
        for (size_t i = 0; i < N(no); i++)
                assert_made("/api/v1/impact", "GET",
                            (const struct nd_param[]){ { "target", "db1" }, { "reverse", no[i] } }, 2,
                            (const char *[]){ "netdep", "impact", "--", "db1", NULL });
        /* No value at all is a bare ?reverse: yes. */
        assert_made("/api/v1/impact", "GET", (const struct nd_param[]){ { "reverse", NULL }, { "target", "db1" } },
                    2, (const char *[]){ "netdep", "impact", "--reverse", "--", "db1", NULL });
        assert_refused("/api/v1/impact", "GET",
                       (const struct nd_param[]){ { "target", "db1" }, { "reverse", "maybe" } }, 2, -EINVAL,
                       "'reverse'");
        assert_refused("/api/v1/impact", "GET",
                       (const struct nd_param[]){ { "target", "db1" }, { "reverse", "TRUE " } }, 2, -EINVAL,
                       "'reverse'");
}

static void test_optional(void **state)
{
        assert_made("/api/v1/look", "GET", (const struct nd_param[]){ { "active", "" } }, 1,
                    (const char *[]){ "netdep", "look", "--active", NULL });
        assert_made("/api/v1/look", "GET", (const struct nd_param[]){ { "active", NULL } }, 1,
                    (const char *[]){ "netdep", "look", "--active", NULL });
        assert_made("/api/v1/look", "GET", (const struct nd_param[]){ { "active", "5m" } }, 1,
                    (const char *[]){ "netdep", "look", "--active=5m", NULL });
        assert_made("/api/v1/graph", "GET", (const struct nd_param[]){ { "resolve", "" }, { "host", "app1" } }, 2,
                    (const char *[]){ "netdep", "graph", "--resolve", "--host=app1", NULL });
        /* A required one needs its value. */
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "host", "" } }, 1, -EINVAL, "'host'");
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "depth", NULL } }, 1, -EINVAL,
                       "'depth'");
}

static void test_impact_target(void **state)
{
        /* The operand goes last, after "--", wherever it came. */
        assert_made("/api/v1/impact", "GET",
                    (const struct nd_param[]){ { "target", "db1" }, { "depth", "2" }, { "format", "text" } }, 3,
                    (const char *[]){ "netdep", "impact", "--depth=2", "--format=text", "--", "db1", NULL });
        assert_made("/api/v1/impact", "GET",
                    (const struct nd_param[]){ { "depth", "2" }, { "target", "postgres:db" } }, 2,
                    (const char *[]){ "netdep", "impact", "--depth=2", "--", "postgres:db", NULL });
        /* Starting with '-', it stays an operand. */
        assert_made("/api/v1/impact", "GET", (const struct nd_param[]){ { "target", "--format=json" } }, 1,
                    (const char *[]){ "netdep", "impact", "--", "--format=json", NULL });
        assert_made("/api/v1/impact", "GET", (const struct nd_param[]){ { "target", "-r" } }, 1,
                    (const char *[]){ "netdep", "impact", "--", "-r", NULL });

        assert_refused("/api/v1/impact", "GET", NULL, 0, -EINVAL, "'target'");
        assert_refused("/api/v1/impact", "GET", (const struct nd_param[]){ { "depth", "2" } }, 1, -EINVAL,
                       "'target'");
        assert_refused("/api/v1/impact", "GET", (const struct nd_param[]){ { "target", "" } }, 1, -EINVAL,
                       "'target'");
        assert_refused("/api/v1/impact", "GET", (const struct nd_param[]){ { "target", NULL } }, 1, -EINVAL,
                       "'target'");
        /* target is impact's alone. */
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "target", "db1" } }, 1, -EINVAL,
                       "'target'");
}

static void test_bad_params(void **state)
{
        char long_name[300];

        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "host", "db1" }, { "colour", "red" } },
                       2, -EINVAL, "'colour'");
        /* An option of another verb is unknown here. */
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "reverse", "true" } }, 1, -EINVAL,
                       "'reverse'");
        assert_refused("/api/v1/hosts", "GET", (const struct nd_param[]){ { "host", "db1" } }, 1, -EINVAL,
                       "'host'");
        assert_refused("/api/v1/roles", "GET", (const struct nd_param[]){ { "format", "json" } }, 1, -EINVAL,
                       "'format'");
        /* Names are matched exactly. */
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "Host", "db1" } }, 1, -EINVAL,
                       "'Host'");
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "--host", "db1" } }, 1, -EINVAL,
                       "'--host'");
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "", "db1" } }, 1, -EINVAL, "''");
        /* A long unknown name still fits in one line. */
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { long_name, "1" } }, 1, -EINVAL,
                       "unknown parameter");
        /* A name is echoed in one line, whatever it holds (%0A decoded). */
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "a\nb", "1" } }, 1, -EINVAL,
                       "unknown parameter");
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "x\r\n\x1b[2J\x7f", "1" } }, 1,
                       -EINVAL, "unknown parameter");
        /* Given twice, even with the same value. */
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "host", "db1" }, { "host", "db2" } }, 2,
                       -EINVAL, "'host' given twice");
        assert_refused("/api/v1/look", "GET",
                       (const struct nd_param[]){ { "depth", "2" }, { "host", "db1" }, { "depth", "2" } }, 3,
                       -EINVAL, "'depth' given twice");
        assert_refused("/api/v1/impact", "GET",
                       (const struct nd_param[]){ { "target", "db1" }, { "target", "db2" } }, 2, -EINVAL,
                       "'target' given twice");
}

static void test_bad_values(void **state)
{
        static const char *const bad[] = { "db1\nX-Injected: 1", "db1\r", "\tdb1", "db\x01", "db\x1b[31m", "db\x7f" };
        char *big = malloc(ND_READ_MAX_VALUE + 2);

        for (size_t i = 0; i < N(bad); i++)
                assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "host", bad[i] } }, 1, -EINVAL,
                               "'host'");
        assert_refused("/api/v1/impact", "GET", (const struct nd_param[]){ { "target", "db1\n--reverse" } }, 1,
                       -EINVAL, "'target'");
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "active", "5m\n" } }, 1, -EINVAL,
                       "'active'");
        /* Spaces and UTF-8 are fine: the verb checks them. */
        assert_made("/api/v1/look", "GET", (const struct nd_param[]){ { "role", "web front" } }, 1,
                    (const char *[]){ "netdep", "look", "--role=web front", NULL });
        assert_made("/api/v1/look", "GET", (const struct nd_param[]){ { "host", "h\xc3\xb4te" } }, 1,
                    (const char *[]){ "netdep", "look", "--host=h\xc3\xb4te", NULL });

        /* ND_READ_MAX_VALUE is the most. */
        assert_non_null(big);
        memset(big, 'a', ND_READ_MAX_VALUE);
        big[ND_READ_MAX_VALUE] = '\0';
        {
                struct nd_read_request r = {};
                char why[256] = "";
                const struct nd_param p[] = { { "host", big } };

                assert_int_equal(nd_read_request_make("/api/v1/look", "GET", p, 1, &r, why, sizeof(why)), 0);
                assert_int_equal(r.argc, 3);
                assert_int_equal(strlen(r.argv[2]), strlen("--host=") + ND_READ_MAX_VALUE);
                nd_read_request_done(&r);
        }
        big[ND_READ_MAX_VALUE] = 'a';
        big[ND_READ_MAX_VALUE + 1] = '\0';
        assert_refused("/api/v1/look", "GET", (const struct nd_param[]){ { "host", big } }, 1, -EINVAL, "'host'");
        assert_refused("/api/v1/impact", "GET", (const struct nd_param[]){ { "target", big } }, 1, -EINVAL,
                       "'target'");
        free(big);
}

static void test_too_many_params(void **state)
{
        struct nd_param p[ND_READ_MAX_PARAMS + 1];
        struct nd_read_request r = {};
        char why[256] = "";

        /* Too many, before any is looked at: even all unknown or twice. */
        for (size_t i = 0; i < N(p); i++)
                p[i] = (struct nd_param){ "host", "db1" };
        assert_refused("/api/v1/look", "GET", p, N(p), -EINVAL, "more than");

        /* ND_READ_MAX_PARAMS itself passes that check: here it fails on the
         * repeat, not on the count. */
        assert_int_equal(nd_read_request_make("/api/v1/look", "GET", p, ND_READ_MAX_PARAMS, &r, why, sizeof(why)),
                         -EINVAL);
        assert_non_null(strstr(why, "twice"));
}

static void test_paths_and_methods(void **state)
{
        assert_refused("/api/v1/nope", "GET", NULL, 0, -ENOENT, "/api/v1/nope");
        assert_refused("/api/v1/look/", "GET", NULL, 0, -ENOENT, NULL);
        assert_refused("/api/v1/LOOK", "GET", NULL, 0, -ENOENT, NULL);
        assert_refused("/api/v2/look", "GET", NULL, 0, -ENOENT, NULL);
        assert_refused("/", "GET", NULL, 0, -ENOENT, NULL);
        assert_refused("", "GET", NULL, 0, -ENOENT, NULL);
        assert_refused("/api/v1/nope", "POST", NULL, 0, -ENOENT, NULL);

        assert_refused("/api/v1/look", "POST", NULL, 0, -EOPNOTSUPP, "POST");
        assert_refused("/api/v1/impact", "DELETE", NULL, 0, -EOPNOTSUPP, "DELETE");
        assert_refused("/api/v1/roles", "PUT", NULL, 0, -EOPNOTSUPP, "PUT");
        /* Methods are case-sensitive (RFC 9110). */
        assert_refused("/api/v1/look", "get", NULL, 0, -EOPNOTSUPP, NULL);
        /* The path is checked before the parameters. */
        assert_refused("/api/v1/look", "POST", (const struct nd_param[]){ { "bogus", "\n" } }, 1, -EOPNOTSUPP,
                       NULL);
        assert_refused("/api/v1/nope", "GET", (const struct nd_param[]){ { "bogus", "\n" } }, 1, -ENOENT, NULL);
        /* Path and method are echoed in one line too. */
        assert_refused("/api/v1/no\npe", "GET", NULL, 0, -ENOENT, "no such endpoint");
        assert_refused("/api/v1/look", "G\r\nET", NULL, 0, -EOPNOTSUPP, "does not take");
}

static void test_roles(void **state)
{
        struct nd_read_request r = {};
        char why[256] = "";

        assert_int_equal(nd_read_request_make("/api/v1/roles", "GET", NULL, 0, &r, why, sizeof(why)), 0);
        assert_argv(&r, (const char *[]){ "netdep", "roles", "list", NULL });
        assert_string_equal(r.verb, "roles");
        assert_int_equal(r.scope, ND_SCOPE_READER);
        assert_false(r.takes_body);
        nd_read_request_done(&r);

        assert_int_equal(nd_read_request_make("/api/v1/roles", "POST", NULL, 0, &r, why, sizeof(why)), 0);
        assert_argv(&r, (const char *[]){ "netdep", "roles", "import", "/dev/stdin", NULL });
        assert_string_equal(r.verb, "roles");
        assert_int_equal(r.scope, ND_SCOPE_ADMIN);
        assert_true(r.takes_body);
        nd_read_request_done(&r);

        assert_made("/api/v1/roles", "POST", (const struct nd_param[]){ { "allow-empty", "true" } }, 1,
                    (const char *[]){ "netdep", "roles", "import", "--allow-empty", "/dev/stdin", NULL });
        assert_made("/api/v1/roles", "POST", (const struct nd_param[]){ { "allow-empty", "false" } }, 1,
                    (const char *[]){ "netdep", "roles", "import", "/dev/stdin", NULL });
}

static void assert_content_type(const char *path, const struct nd_param *params, size_t n, const char *want)
{
        struct nd_read_request r = {};
        char why[256] = "";

        assert_int_equal(nd_read_request_make(path, "GET", params, n, &r, why, sizeof(why)), 0);
        assert_string_equal(r.content_type, want);
        nd_read_request_done(&r);
}

static void test_content_type(void **state)
{
        assert_content_type("/api/v1/look", (const struct nd_param[]){ { "format", "json" } }, 1,
                            "application/json");
        assert_content_type("/api/v1/hosts", (const struct nd_param[]){ { "format", "json" } }, 1,
                            "application/json");
        assert_content_type("/api/v1/impact",
                            (const struct nd_param[]){ { "target", "db1" }, { "format", "json" } }, 2,
                            "application/json");
        assert_content_type("/api/v1/diff", (const struct nd_param[]){ { "json", "true" } }, 1, "application/json");
        assert_content_type("/api/v1/diff", (const struct nd_param[]){ { "json", "" } }, 1, "application/json");
        assert_content_type("/api/v1/diff", (const struct nd_param[]){ { "json", "false" } }, 1,
                            "text/plain; charset=utf-8");
        assert_content_type("/api/v1/graph", (const struct nd_param[]){ { "format", "svg" } }, 1, "image/svg+xml");
        assert_content_type("/api/v1/graph", (const struct nd_param[]){ { "format", "dot" } }, 1,
                            "text/vnd.graphviz; charset=utf-8");
        assert_content_type("/api/v1/look", (const struct nd_param[]){ { "format", "text" } }, 1,
                            "text/plain; charset=utf-8");
        assert_content_type("/api/v1/look", NULL, 0, "text/plain; charset=utf-8");
        assert_content_type("/api/v1/diff", NULL, 0, "text/plain; charset=utf-8");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_look),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_optional),
                cmocka_unit_test(test_impact_target),
                cmocka_unit_test(test_bad_params),
                cmocka_unit_test(test_bad_values),
                cmocka_unit_test(test_too_many_params),
                cmocka_unit_test(test_paths_and_methods),
                cmocka_unit_test(test_roles),
                cmocka_unit_test(test_content_type),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
