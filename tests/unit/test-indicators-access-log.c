/* Following an access log in a temporary file: appends, a line written
 * in two pieces, rotation, truncation, the read cap, lines without a
 * status, and the rates the sampler makes of them on an injected clock. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "indicators/access_log.h"
#include "indicators/indicators.h"

#define E(status) ((status) - ND_ACCESS_LOG_ERROR_MIN)

struct fixture {
        char dir[64];
        char path[128], rotated[128];
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));

        strcpy(f->dir, "/tmp/nd-access-log-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/access.log", f->dir);
        snprintf(f->rotated, sizeof(f->rotated), "%s/access.log.1", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;

        unlink(f->path);
        unlink(f->rotated);
        rmdir(f->dir);
        free(f);
        return 0;
}

static void append(const char *path, const char *text)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

/* A "combined" line with the given status, exactly 100 bytes long. */
static void line(char *buf, int status)
{
        int n = snprintf(buf, 101, "127.0.0.1 - - [06/Dec/2026:19:52:41 +0000] \"GET /p HTTP/1.1\" %03d 153 \"-\" \"", status);

        memset(buf + n, 'a', 100 - n - 2);
        strcpy(buf + 98, "\"\n");
}

static void append_lines(const char *path, int status, int count)
{
        char buf[101];

        line(buf, status);
        for (int i = 0; i < count; i++)
                append(path, buf);
}

static void test_parse_status(void **state)
{
        static const char ok[] = "10.0.0.2 - bob [06/Dec/2026:19:52:41 +0000] \"GET /a?b=\\x22c HTTP/1.1\" 404 "
                                 "153 \"-\" \"curl/7.88.1\"";
        char buf[101];

        assert_int_equal(nd_access_log_parse_status(ok, strlen(ok)), 404);
        line(buf, 200);
        assert_int_equal(strlen(buf), 100);
        assert_int_equal(nd_access_log_parse_status(buf, 99), 200);
        /* A request nginx could not read is "-"... and still has a status. */
        assert_int_equal(nd_access_log_parse_status("::1 - - [x] \"\" 400 0 \"-\" \"-\"", 30), 400);
        assert_int_equal(nd_access_log_parse_status("::1 - - [x] \"GET /\" 502", 23), 502);

        assert_int_equal(nd_access_log_parse_status("", 0), -EBADMSG);
        assert_int_equal(nd_access_log_parse_status("garbage", 7), -EBADMSG);
        assert_int_equal(nd_access_log_parse_status("x \"GET / HTTP/1.1\" 4041 1", 25), -EBADMSG);
        assert_int_equal(nd_access_log_parse_status("x \"GET / HTTP/1.1\" 40", 21), -EBADMSG);
        assert_int_equal(nd_access_log_parse_status("x \"GET / HTTP/1.1\" abc 1", 24), -EBADMSG);
        assert_int_equal(nd_access_log_parse_status("x \"GET / HTTP/1.1 404 1", 23), -EBADMSG);
}

static void test_appends(void **state)
{
        struct fixture *f = *state;
        struct nd_access_log *l = NULL;
        struct nd_access_log_counts c;

        append_lines(f->path, 200, 5); /* before the follower: not counted */
        assert_int_equal(nd_access_log_new(f->path, 0, &l), 0);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 0);
        assert_int_equal(c.bytes_read, 0);

        append_lines(f->path, 200, 3);
        append_lines(f->path, 404, 2);
        append_lines(f->path, 502, 1);
        append(f->path, "not a log line\n\n");
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 6);
        assert_int_equal(c.unparsed, 1); /* the empty line is nothing */
        assert_int_equal(c.errors[E(404)], 2);
        assert_int_equal(c.errors[E(502)], 1);
        assert_int_equal(c.errors[E(500)], 0);

        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 0);
        nd_access_log_free(l);
}

static void test_partial_line(void **state)
{
        struct fixture *f = *state;
        struct nd_access_log *l = NULL;
        struct nd_access_log_counts c;
        char buf[101];

        append(f->path, "");
        assert_int_equal(nd_access_log_new(f->path, 0, &l), 0);
        assert_int_equal(nd_access_log_read(l, &c), 0);

        line(buf, 404);
        append(f->path, (char[]){ "127.0.0.1 - - [06/Dec/2026:19:52:41 +0000] \"GET /p" });
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 0);
        assert_int_equal(c.unparsed, 0);
        append(f->path, buf + 50);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 1);
        assert_int_equal(c.errors[E(404)], 1);

        /* A line longer than what is kept of it: its start has the status. */
        {
                size_t big = 100 << 10;
                char *long_line = malloc(big + 1);

                line(buf, 503);
                memcpy(long_line, buf, 98);
                memset(long_line + 98, 'u', big - 98);
                long_line[big - 2] = '"';
                long_line[big - 1] = '\0';
                append(f->path, long_line);
                assert_int_equal(nd_access_log_read(l, &c), 0);
                assert_int_equal(c.requests, 0);
                append(f->path, "\n");
                assert_int_equal(nd_access_log_read(l, &c), 0);
                assert_int_equal(c.requests, 1);
                assert_int_equal(c.errors[E(503)], 1);
                free(long_line);
        }
        nd_access_log_free(l);
}

static void test_rotation(void **state)
{
        struct fixture *f = *state;
        struct nd_access_log *l = NULL;
        struct nd_access_log_counts c;

        append_lines(f->path, 200, 10);
        assert_int_equal(nd_access_log_new(f->path, 0, &l), 0);
        assert_int_equal(nd_access_log_read(l, &c), 0);

        /* logrotate renames; nginx writes to the old file until it reopens. */
        assert_int_equal(rename(f->path, f->rotated), 0);
        append_lines(f->rotated, 404, 1);
        assert_int_equal(nd_access_log_read(l, &c), 0); /* no new file yet */
        assert_int_equal(c.requests, 1);
        append_lines(f->path, 500, 2);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 2);
        assert_int_equal(c.errors[E(500)], 2);

        /* Renamed and recreated between two reads. */
        append_lines(f->path, 200, 1);
        assert_int_equal(rename(f->path, f->rotated), 0);
        append_lines(f->rotated, 410, 1);
        append_lines(f->path, 200, 3);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 5);
        assert_int_equal(c.errors[E(410)], 1);

        /* copytruncate: the file shrank under the follower. */
        assert_int_equal(truncate(f->path, 0), 0);
        append_lines(f->path, 429, 2);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 2);
        assert_int_equal(c.errors[E(429)], 2);

        /* Deleted: gone, then back, read from its start. */
        assert_int_equal(unlink(f->path), 0);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(nd_access_log_read(l, &c), -ENOENT);
        append_lines(f->path, 404, 1);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 1);
        nd_access_log_free(l);
}

static void test_read_cap(void **state)
{
        struct fixture *f = *state;
        struct nd_access_log *l = NULL;
        struct nd_access_log_counts c;

        append(f->path, "");
        assert_int_equal(nd_access_log_new(f->path, 1000, &l), 0);
        assert_int_equal(nd_access_log_read(l, &c), 0);

        /* 10,000 bytes: the newest 1,000 read, the rest skipped. */
        append_lines(f->path, 200, 90);
        append_lines(f->path, 404, 10);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.bytes_read, 1000);
        assert_int_equal(c.bytes_skipped, 9000);
        assert_int_equal(c.requests, 10);
        assert_int_equal(c.errors[E(404)], 10);

        /* Off a line boundary: the cut line is skipped, not unparsed. */
        append(f->path, "x\n");
        append_lines(f->path, 200, 10);
        append(f->path, "y\n");
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.bytes_read + c.bytes_skipped, 1004);
        assert_int_equal(c.bytes_skipped, 4 + 98);
        assert_int_equal(c.requests, 9);
        assert_int_equal(c.unparsed, 1); /* "y" */

        append_lines(f->path, 200, 1);
        assert_int_equal(nd_access_log_read(l, &c), 0);
        assert_int_equal(c.requests, 1);
        assert_int_equal(c.bytes_skipped, 0);
        nd_access_log_free(l);
}

static void test_not_a_file(void **state)
{
        struct fixture *f = *state;
        struct nd_access_log *l = NULL;
        struct nd_access_log_counts c = { .requests = 42 };

        /* A directory (or a pipe) has no offsets to follow. */
        assert_int_equal(nd_access_log_new(f->dir, 0, &l), 0);
        assert_int_equal(nd_access_log_read(l, &c), -EOPNOTSUPP);
        assert_int_equal(c.requests, 42);
        assert_null(nd_access_log_free(l));
}

static uint64_t fake_clock(void *userdata)
{
        return *(uint64_t *)userdata;
}

static void test_sampled_rates(void **state)
{
        struct fixture *f = *state;
        uint64_t now = 1000;
        struct nd_indicators_options o = {
                .nginx_access_log = f->path, .monotonic_ms = fake_clock, .clock_userdata = &now,
        };
        struct nd_indicators *ind = NULL;
        struct nd_indicator_sample s;

        /* Missing at the start: no log, the sample made all the same. */
        assert_int_equal(nd_indicators_new(&o, &ind), 0);
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_false(s.has_access_log);

        /* Appears: everything in it is new since the last sample. */
        append_lines(f->path, 200, 7);
        append_lines(f->path, 404, 2);
        append_lines(f->path, 500, 1);
        append(f->path, "junk\n");
        now += 2000;
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_int_equal(s.interval_ms, 2000);
        assert_true(s.has_access_log);
        assert_float_equal(s.log_requests_per_s, 5.0, 1e-12);
        assert_int_equal(s.log_unparsed, 1);
        assert_int_equal(s.n_errors, 2);
        assert_int_equal(s.errors[0].status, 404);
        assert_int_equal(s.errors[0].count, 2);
        assert_float_equal(s.errors[0].per_s, 1.0, 1e-12);
        assert_int_equal(s.errors[1].status, 500);
        assert_float_equal(s.errors[1].per_s, 0.5, 1e-12);

        /* A quiet interval: a rate of 0, not an absent one. */
        now += 500;
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_true(s.has_access_log);
        assert_float_equal(s.log_requests_per_s, 0, 0);
        assert_int_equal(s.n_errors, 0);
        nd_indicators_free(ind);
}

static void test_sampled_cap(void **state)
{
        struct fixture *f = *state;
        uint64_t now = 0;
        struct nd_indicators_options o = {
                .nginx_access_log = f->path, .access_log_read_max = 1000,
                .monotonic_ms = fake_clock, .clock_userdata = &now,
        };
        struct nd_indicators *ind = NULL;
        struct nd_indicator_sample s;

        append_lines(f->path, 200, 1); /* history */
        assert_int_equal(nd_indicators_new(&o, &ind), 0);
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_false(s.has_access_log); /* the first read finds the end */

        /* 40 lines in 4 s, 10 of them read: the rate extrapolates. */
        append_lines(f->path, 404, 40);
        now += 4000;
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_true(s.has_access_log);
        assert_int_equal(s.log_skipped_bytes, 3000);
        assert_float_equal(s.log_requests_per_s, 10.0, 1e-9);
        assert_int_equal(s.errors[0].count, 10);
        assert_float_equal(s.errors[0].per_s, 10.0, 1e-9);
        nd_indicators_free(ind);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_status),
                cmocka_unit_test_setup_teardown(test_appends, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial_line, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
                cmocka_unit_test_setup_teardown(test_read_cap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_a_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sampled_rates, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sampled_cap, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
