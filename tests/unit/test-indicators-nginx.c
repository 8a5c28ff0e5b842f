/* nginx's stub_status: the page parsed from strings, the request rate
 * between two readings (a counter that went back gives none), a server
 * that does not answer, and the JSON the sample becomes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "indicators/indicators.h"
#include "indicators/nginx_status.h"

/* As nginx 1.22 sends it, trailing blanks included. */
static const char page[] = "Active connections: 291 \n"
                           "server accepts handled requests\n"
                           " 16630948 16630948 31070465 \n"
                           "Reading: 6 Writing: 179 Waiting: 106 \n";

static void test_parse(void **state)
{
        struct nd_nginx_status s;

        assert_int_equal(nd_nginx_status_parse(page, strlen(page), &s), 0);
        assert_int_equal(s.active, 291);
        assert_int_equal(s.accepts, 16630948);
        assert_int_equal(s.handled, 16630948);
        assert_int_equal(s.requests, 31070465);
        assert_int_equal(s.reading, 6);
        assert_int_equal(s.writing, 179);
        assert_int_equal(s.waiting, 106);
}

static void test_parse_variants(void **state)
{
        /* CRLF, no Reading line, a later column in the header. */
        static const char crlf[] = "Active connections: 1\r\n"
                                   "server accepts handled requests request_time\r\n"
                                   " 5 5 9 120\r\n";
        struct nd_nginx_status s;

        assert_int_equal(nd_nginx_status_parse(crlf, strlen(crlf), &s), 0);
        assert_int_equal(s.active, 1);
        assert_int_equal(s.requests, 9);
        assert_int_equal(s.reading, -1);
        assert_int_equal(s.waiting, -1);
        /* Not NUL-terminated: only len bytes count. */
        assert_int_equal(nd_nginx_status_parse(page, 40, &s), -EBADMSG);
}

static void test_parse_refused(void **state)
{
        static const char *const bad[] = {
                "",
                "<html><body>Welcome to nginx!</body></html>",
                "Active connections: \nserver accepts handled requests\n 1 2 3\n",
                "Active connections: 2\nserver accepts handled requests\n 1 2\n",
                "Active connections: 2\n 1 2 3\n",
                "Active connections: 99999999999999999999999\nserver accepts handled requests\n 1 2 3\n",
        };
        struct nd_nginx_status s = { .active = 42 };

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(nd_nginx_status_parse(bad[i], strlen(bad[i]), &s), -EBADMSG);
        assert_int_equal(s.active, 42);
}

static void test_rate(void **state)
{
        struct nd_nginx_status a = { .requests = 1000 }, b = { .requests = 1250 }, reset = { .requests = 7 };
        double rate = -1;

        assert_int_equal(nd_nginx_request_rate(&a, &b, 10000, &rate), 0);
        assert_float_equal(rate, 25.0, 1e-12);
        assert_int_equal(nd_nginx_request_rate(&a, &a, 10000, &rate), 0);
        assert_float_equal(rate, 0.0, 0);

        /* nginx restarted: the counter starts again; no rate, not a
         * negative one, and rate is left alone. */
        rate = -1;
        assert_int_equal(nd_nginx_request_rate(&b, &reset, 10000, &rate), -ERANGE);
        assert_int_equal(nd_nginx_request_rate(&a, &b, 0, &rate), -ERANGE);
        assert_float_equal(rate, -1, 0);
}

static void test_unreachable(void **state)
{
        struct nd_nginx_status s = { .active = 42 };
        struct nd_indicators_options o = { .nginx_status_url = "http://127.0.0.1:1/status" };
        struct nd_indicators *ind = NULL;
        struct nd_indicator_sample sample;
        char why[256] = "";

        /* Port 1 on loopback: refused at once. */
        assert_int_equal(nd_nginx_status_fetch(o.nginx_status_url, &s, why, sizeof(why)), -EHOSTUNREACH);
        assert_true(why[0] != '\0');
        assert_int_equal(s.active, 42);

        /* Through the sampler: no nginx, the sample still made. */
        assert_int_equal(nd_indicators_new(&o, &ind), 0);
        assert_int_equal(nd_indicators_sample(ind, &sample), 0);
        assert_false(sample.has_nginx_status);
        assert_false(sample.has_nginx_rate);
        assert_true(sample.has_load);
        nd_indicators_free(ind);
}

static char *dump(const struct nd_indicator_sample *s)
{
        json_t *j = nd_indicator_sample_to_json(s);
        char *text;

        assert_non_null(j);
        text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(j);
        assert_non_null(text);
        return text;
}

static void test_json(void **state)
{
        struct nd_indicator_sample s = {
                .has_load = true, .load1 = 0.5, .load5 = 0.25, .load15 = 0.125,
                .has_cpu = true, .cpu_busy = 0.12,
                .has_nginx_status = true, .nginx_active = 3,
                .has_nginx_rate = true, .nginx_requests_per_s = 12.5,
                .has_access_log = true, .log_requests_per_s = 11.0,
                .n_errors = 2,
                .errors = { { .status = 404, .count = 5, .per_s = 0.5 }, { .status = 502, .count = 1, .per_s = 0.1 } },
        };
        char *text;

        text = dump(&s);
        assert_string_equal(text, "{\"load\":[0.5,0.25,0.125],\"cpu\":0.12,"
                                  "\"nginx\":{\"requests_per_s\":12.5,\"active\":3,"
                                  "\"errors_per_s\":{\"404\":0.5,\"502\":0.1}}}");
        free(text);

        /* No stub_status rate (first reading, or a reset): the log's. */
        s.has_nginx_rate = false;
        s.has_cpu = false;
        text = dump(&s);
        assert_string_equal(text, "{\"load\":[0.5,0.25,0.125],"
                                  "\"nginx\":{\"requests_per_s\":11.0,\"active\":3,"
                                  "\"errors_per_s\":{\"404\":0.5,\"502\":0.1}}}");
        free(text);

        /* Only stub_status, first reading: active alone. */
        s.has_access_log = false;
        s.has_load = false;
        text = dump(&s);
        assert_string_equal(text, "{\"nginx\":{\"active\":3}}");
        free(text);

        /* Only the log, and no errors in it. */
        s = (struct nd_indicator_sample){ .has_access_log = true, .log_requests_per_s = 2 };
        text = dump(&s);
        assert_string_equal(text, "{\"nginx\":{\"requests_per_s\":2.0,\"errors_per_s\":{}}}");
        free(text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_parse_variants),
                cmocka_unit_test(test_parse_refused),
                cmocka_unit_test(test_rate),
                cmocka_unit_test(test_unreachable),
                cmocka_unit_test(test_json),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
