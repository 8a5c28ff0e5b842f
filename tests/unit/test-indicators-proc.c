/* The load average and the CPUs' busy share, from recorded /proc files
 * (tests/unit/data/indicators/proc-{1,2}: two /proc/stat readings 1000
 * ticks apart, 400 of them busy), alone and through nd_indicators. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "indicators/cpu_load.h"
#include "indicators/indicators.h"

static void data_dir(char *buf, size_t size, const char *name)
{
        const char *dir = getenv("ND_TEST_DATA");
        char rel[PATH_MAX];

        snprintf(rel, sizeof(rel), "%s/indicators/%s", dir ? dir : "tests/unit/data", name);
        assert_non_null(realpath(rel, buf));
        assert_true(strlen(buf) < size);
}

static void test_loadavg(void **state)
{
        struct nd_loadavg l = { .load1 = -1 };
        char root[PATH_MAX];

        data_dir(root, sizeof(root), "proc-1");
        assert_int_equal(nd_loadavg_read(root, &l), 0);
        assert_float_equal(l.load1, 1.62, 1e-9);
        assert_float_equal(l.load5, 0.48, 1e-9);
        assert_float_equal(l.load15, 0.17, 1e-9);

        assert_int_equal(nd_loadavg_parse("0.00 0.01 0.05 1/80 1\n", &l), 0);
        assert_float_equal(l.load15, 0.05, 1e-9);
        l.load1 = 7;
        assert_int_equal(nd_loadavg_parse("", &l), -EINVAL);
        assert_int_equal(nd_loadavg_parse("1.0 2.0", &l), -EINVAL);
        assert_int_equal(nd_loadavg_parse("1.0 2.0 3.0", &l), -EINVAL);
        assert_float_equal(l.load1, 7, 0); /* untouched on failure */
        assert_int_equal(nd_loadavg_read("/nonexistent-proc", &l), -ENOENT);
}

static void test_cpu_busy(void **state)
{
        struct nd_cpu_times a, b;
        char root[PATH_MAX];
        double busy = -1;

        data_dir(root, sizeof(root), "proc-1");
        assert_int_equal(nd_cpu_times_read(root, &a), 0);
        assert_int_equal(a.total, 957000);
        assert_int_equal(a.busy, 153000);
        data_dir(root, sizeof(root), "proc-2");
        assert_int_equal(nd_cpu_times_read(root, &b), 0);
        assert_int_equal(b.total - a.total, 1000);

        assert_int_equal(nd_cpu_busy_between(&a, &b, &busy), 0);
        assert_float_equal(busy, 0.4, 1e-12);
        busy = -1;
        assert_int_equal(nd_cpu_busy_between(&b, &a, &busy), -ERANGE);
        assert_int_equal(nd_cpu_busy_between(&a, &a, &busy), -ERANGE);
        assert_float_equal(busy, -1, 0);
}

static void test_cpu_parse(void **state)
{
        struct nd_cpu_times t = { .busy = 5, .total = 9 };

        /* Old kernels had four columns; "cpu0" is not the aggregate. */
        assert_int_equal(nd_cpu_times_parse("cpu0 1 2 3 4\ncpu  10 0 10 80\n", &t), 0);
        assert_int_equal(t.total, 100);
        assert_int_equal(t.busy, 20);
        t = (struct nd_cpu_times){ .busy = 5, .total = 9 };
        assert_int_equal(nd_cpu_times_parse("cpu0 1 2 3 4\nintr 5\n", &t), -EINVAL);
        assert_int_equal(nd_cpu_times_parse("cpu  1 2 3\n", &t), -EINVAL);
        assert_int_equal(nd_cpu_times_parse("", &t), -EINVAL);
        assert_int_equal(t.busy, 5);
}

static uint64_t fake_clock(void *userdata)
{
        return *(uint64_t *)userdata;
}

/* Points root/name at the recorded file of the given directory. */
static void link_proc(const char *root, const char *name, const char *from)
{
        char target[PATH_MAX], link[PATH_MAX + 64];

        data_dir(target, sizeof(target), from);
        strcat(target, "/");
        strcat(target, name);
        snprintf(link, sizeof(link), "%s/%s", root, name);
        unlink(link);
        assert_int_equal(symlink(target, link), 0);
}

static void test_sampled(void **state)
{
        char root[] = "/tmp/nd-indicators-proc-XXXXXX", path[PATH_MAX];
        uint64_t now = 5000;
        struct nd_indicators_options o = { .monotonic_ms = fake_clock, .clock_userdata = &now };
        struct nd_indicators *ind = NULL;
        struct nd_indicator_sample s;
        json_t *j;
        char *text;

        assert_non_null(mkdtemp(root));
        link_proc(root, "loadavg", "proc-1");
        link_proc(root, "stat", "proc-1");
        o.proc_root = root;
        assert_int_equal(nd_indicators_new(&o, &ind), 0);

        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_int_equal(s.ts_ms, 5000);
        assert_int_equal(s.interval_ms, 0);
        assert_true(s.has_load);
        assert_false(s.has_cpu); /* one reading is no share */
        assert_false(s.has_nginx_status);
        assert_false(s.has_access_log);

        link_proc(root, "loadavg", "proc-2");
        link_proc(root, "stat", "proc-2");
        now += 1000;
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_int_equal(s.interval_ms, 1000);
        assert_true(s.has_cpu);
        assert_float_equal(s.cpu_busy, 0.4, 1e-12);
        assert_float_equal(s.load1, 2.05, 1e-9);

        j = nd_indicator_sample_to_json(&s);
        assert_non_null(j);
        text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
        assert_string_equal(text, "{\"load\":[2.05,0.61,0.2],\"cpu\":0.4}");
        free(text);
        json_decref(j);

        /* The files gone: the sample still succeeds, without them. */
        snprintf(path, sizeof(path), "%s/loadavg", root);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/stat", root);
        assert_int_equal(unlink(path), 0);
        now += 1000;
        assert_int_equal(nd_indicators_sample(ind, &s), 0);
        assert_false(s.has_load);
        assert_false(s.has_cpu);
        j = nd_indicator_sample_to_json(&s);
        text = json_dumps(j, JSON_COMPACT);
        assert_string_equal(text, "{}");
        free(text);
        json_decref(j);

        ind = nd_indicators_free(ind);
        assert_null(ind);
        assert_int_equal(rmdir(root), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loadavg),
                cmocka_unit_test(test_cpu_busy),
                cmocka_unit_test(test_cpu_parse),
                cmocka_unit_test(test_sampled),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
