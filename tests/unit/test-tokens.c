/* A server's token file: what it accepts, what it refuses and on which
 * line, which Authorization headers match which entry, what each scope
 * allows, and a file that others can read refused. */
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

#include "serve/tokens.h"

#define AGENT_TOKEN "0b8f6c1e2d3a4b5c6d7e8f90"
#define READER_TOKEN "77ab1f09c4d5e6f7a8b9c0d1"
#define ADMIN_TOKEN "c0de5eed42a1b2c3d4e5f6a7"

static const char sample_text[] = "# SCOPE   TOKEN   [HOSTNAME]\n"
                                  "\n"
                                  "agent  " AGENT_TOKEN "  app1   # the first app server\n"
                                  "   \t  \n"
                                  "reader\t" READER_TOKEN "\r\n"
                                  "admin " ADMIN_TOKEN "\n";

static void parse_sample(struct nd_tokens *t)
{
        char why[256] = "";

        assert_int_equal(nd_tokens_parse(sample_text, "tokens", t, why, sizeof(why)), 0);
        assert_int_equal(t->n, 3);
}

/* Refused with -EINVAL, and why says exactly so. */
static void assert_refused(const char *text, const char *want_why)
{
        struct nd_tokens t = { .items = (void *)1, .n = 99 };
        char why[256] = "";

        assert_int_equal(nd_tokens_parse(text, "tokens", &t, why, sizeof(why)), -EINVAL);
        assert_string_equal(why, want_why);
        /* Left alone on failure. */
        assert_ptr_equal(t.items, (void *)1);
        assert_int_equal(t.n, 99);
}

static void test_parse(void **state)
{
        struct nd_tokens t;

        parse_sample(&t);
        assert_int_equal(t.items[0].scope, ND_SCOPE_AGENT);
        assert_string_equal(t.items[0].hostname, "app1");
        assert_int_equal(t.items[1].scope, ND_SCOPE_READER);
        assert_string_equal(t.items[1].hostname, "");
        assert_int_equal(t.items[2].scope, ND_SCOPE_ADMIN);
        assert_string_equal(t.items[2].hostname, "");
        nd_tokens_done(&t);
        assert_null(t.items);
        assert_int_equal(t.n, 0);
}

static void test_parse_empty(void **state)
{
        struct nd_tokens t;
        char why[256] = "";

        assert_int_equal(nd_tokens_parse("", "tokens", &t, why, sizeof(why)), 0);
        assert_int_equal(t.n, 0);
        nd_tokens_done(&t);
        assert_int_equal(nd_tokens_parse("# nothing\n\n  # here either\n", "tokens", &t, why, sizeof(why)), 0);
        assert_int_equal(t.n, 0);
        nd_tokens_done(&t);
}

/* Comments and blank lines count: the line in why is the file's. */
static void test_parse_errors(void **state)
{
        assert_refused("# a comment\n"
                       "\n"
                       "reader " READER_TOKEN "\n"
                       "   # another\n"
                       "writer " ADMIN_TOKEN "\n",
                       "tokens:5: want 'SCOPE TOKEN [HOSTNAME]', SCOPE agent, reader or admin");
        assert_refused("\n\nreader\n", "tokens:3: want 'SCOPE TOKEN [HOSTNAME]', SCOPE agent, reader or admin");
        assert_refused("agent " AGENT_TOKEN " app1 extra\n",
                       "tokens:1: want 'SCOPE TOKEN [HOSTNAME]', SCOPE agent, reader or admin");
        assert_refused("Reader " READER_TOKEN "\n",
                       "tokens:1: want 'SCOPE TOKEN [HOSTNAME]', SCOPE agent, reader or admin");
        /* 15 characters: one short. */
        assert_refused("\nadmin 0123456789abcde\n", "tokens:2: a token needs at least 16 printable characters");
        assert_refused("agent " AGENT_TOKEN "\n", "tokens:1: an agent token names the hostname it writes for");
        assert_refused("#\nreader " READER_TOKEN " app1\n", "tokens:2: only an agent token names a hostname");
        assert_refused("admin " ADMIN_TOKEN " app1\n", "tokens:1: only an agent token names a hostname");
        assert_refused("agent " AGENT_TOKEN " app1\n"
                       "\n"
                       "reader " AGENT_TOKEN "\n",
                       "tokens:3: the same token twice");
        assert_refused("reader " READER_TOKEN "\nreader " READER_TOKEN "\n", "tokens:2: the same token twice");
}

static void test_parse_min_length(void **state)
{
        struct nd_tokens t;
        char why[256] = "";

        /* Exactly 16 is enough. */
        assert_int_equal(nd_tokens_parse("admin 0123456789abcdef\n", "tokens", &t, why, sizeof(why)), 0);
        assert_int_equal(t.n, 1);
        assert_non_null(nd_tokens_check(&t, "Bearer 0123456789abcdef"));
        nd_tokens_done(&t);
}

static void test_check(void **state)
{
        struct nd_tokens t;

        parse_sample(&t);
        assert_ptr_equal(nd_tokens_check(&t, "Bearer " AGENT_TOKEN), &t.items[0]);
        assert_ptr_equal(nd_tokens_check(&t, "Bearer " READER_TOKEN), &t.items[1]);
        assert_ptr_equal(nd_tokens_check(&t, "Bearer " ADMIN_TOKEN), &t.items[2]);
        /* The scheme is case-insensitive (RFC 9110), the token is not. */
        assert_ptr_equal(nd_tokens_check(&t, "bearer " READER_TOKEN), &t.items[1]);
        assert_ptr_equal(nd_tokens_check(&t, "BEARER " ADMIN_TOKEN), &t.items[2]);
        assert_null(nd_tokens_check(&t, "Bearer 77AB1F09C4D5E6F7A8B9C0D1"));
        /* Missing, empty, or another scheme. */
        assert_null(nd_tokens_check(&t, NULL));
        assert_null(nd_tokens_check(&t, ""));
        assert_null(nd_tokens_check(&t, "Bearer"));
        assert_null(nd_tokens_check(&t, "Bearer "));
        assert_null(nd_tokens_check(&t, "Basic " READER_TOKEN));
        assert_null(nd_tokens_check(&t, READER_TOKEN));
        assert_null(nd_tokens_check(&t, "Bearer" READER_TOKEN));
        /* Wrong, a prefix of a known one, a known one and more. */
        assert_null(nd_tokens_check(&t, "Bearer ffffffffffffffffffffffff"));
        assert_null(nd_tokens_check(&t, "Bearer 77ab1f09c4d5e6f7a8b9c0d"));
        assert_null(nd_tokens_check(&t, "Bearer 77ab1f09c4d5e6f7"));
        assert_null(nd_tokens_check(&t, "Bearer " READER_TOKEN "0"));
        assert_null(nd_tokens_check(&t, "Bearer " READER_TOKEN " "));
        assert_null(nd_tokens_check(&t, "Bearer " READER_TOKEN AGENT_TOKEN));
        nd_tokens_done(&t);

        /* No tokens at all: nothing matches. */
        assert_null(nd_tokens_check(&t, "Bearer " READER_TOKEN));
}

static void test_allows(void **state)
{
        struct nd_tokens t;
        const struct nd_token *agent, *reader, *admin;

        parse_sample(&t);
        agent = nd_tokens_check(&t, "Bearer " AGENT_TOKEN);
        reader = nd_tokens_check(&t, "Bearer " READER_TOKEN);
        admin = nd_tokens_check(&t, "Bearer " ADMIN_TOKEN);
        assert_non_null(agent);
        assert_non_null(reader);
        assert_non_null(admin);

        assert_true(nd_token_allows(admin, ND_SCOPE_AGENT));
        assert_true(nd_token_allows(admin, ND_SCOPE_READER));
        assert_true(nd_token_allows(admin, ND_SCOPE_ADMIN));

        assert_true(nd_token_allows(agent, ND_SCOPE_AGENT));
        assert_false(nd_token_allows(agent, ND_SCOPE_READER));
        assert_false(nd_token_allows(agent, ND_SCOPE_ADMIN));

        assert_true(nd_token_allows(reader, ND_SCOPE_READER));
        assert_false(nd_token_allows(reader, ND_SCOPE_AGENT));
        assert_false(nd_token_allows(reader, ND_SCOPE_ADMIN));

        /* No token allows nothing. */
        assert_false(nd_token_allows(NULL, ND_SCOPE_READER));
        assert_false(nd_token_allows(NULL, ND_SCOPE_ADMIN));
        nd_tokens_done(&t);
}

static char *write_token_file(mode_t mode)
{
        char *path = strdup("/tmp/netdep-test-tokens-XXXXXX");
        int fd;

        assert_non_null(path);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, sample_text, strlen(sample_text)), (ssize_t)strlen(sample_text));
        assert_int_equal(close(fd), 0);
        assert_int_equal(chmod(path, mode), 0);
        return path;
}

static void test_load_readable_by_others(void **state)
{
        static const mode_t modes[] = { 0644, 0640, 0604, 0660 };

        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                char *path = write_token_file(modes[i]);
                struct nd_tokens t = {};
                char why[512] = "", want[512];

                assert_int_equal(nd_tokens_load(path, &t, why, sizeof(why)), -EPERM);
                snprintf(want, sizeof(want), "token file %s is readable by others: chmod 600 it", path);
                assert_string_equal(why, want);
                assert_non_null(strstr(why, "chmod 600"));
                assert_null(t.items);
                assert_int_equal(unlink(path), 0);
                free(path);
        }
}

static void test_load(void **state)
{
        char *path = write_token_file(0600);
        struct nd_tokens t = {};
        char why[512] = "";

        assert_int_equal(nd_tokens_load(path, &t, why, sizeof(why)), 0);
        assert_int_equal(t.n, 3);
        assert_ptr_equal(nd_tokens_check(&t, "Bearer " AGENT_TOKEN), &t.items[0]);
        assert_string_equal(t.items[0].hostname, "app1");
        assert_ptr_equal(nd_tokens_check(&t, "Bearer " ADMIN_TOKEN), &t.items[2]);
        nd_tokens_done(&t);

        /* 0400 is the owner's alone too. */
        assert_int_equal(chmod(path, 0400), 0);
        assert_int_equal(nd_tokens_load(path, &t, why, sizeof(why)), 0);
        assert_int_equal(t.n, 3);
        nd_tokens_done(&t);

        assert_int_equal(unlink(path), 0);
        free(path);
}

/* Errors from a file name the file. */
static void test_load_errors(void **state)
{
        char path[] = "/tmp/netdep-test-tokens-XXXXXX", want[512], why[512] = "";
        static const char text[] = "# tokens\nreader " READER_TOKEN "\nreader short\n";
        struct nd_tokens t = {};
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        assert_int_equal(close(fd), 0);
        assert_int_equal(nd_tokens_load(path, &t, why, sizeof(why)), -EINVAL);
        snprintf(want, sizeof(want), "%s:3: a token needs at least 16 printable characters", path);
        assert_string_equal(why, want);
        assert_int_equal(unlink(path), 0);

        assert_int_equal(nd_tokens_load(path, &t, why, sizeof(why)), -ENOENT);
        assert_non_null(strstr(why, path));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_empty),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_parse_min_length),
                cmocka_unit_test(test_check),
                cmocka_unit_test(test_allows),
                cmocka_unit_test(test_load_readable_by_others),
                cmocka_unit_test(test_load),
                cmocka_unit_test(test_load_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
