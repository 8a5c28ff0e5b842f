/* The server's pool of store connections, on a real SQLite file: at most
 * size open, callers beyond that wait (a bounded number, a bounded time)
 * or are turned away at once, a broken connection is closed and replaced. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "serve/store_pool.h"
#include "store/store.h"

struct fixture {
        char path[64];
        char uri[96];
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* A fresh SQLite store at its schema: the file exists, the pool opens it. */
static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        struct nd_store *s = NULL;
        char err[512] = "";
        int fd;

        assert_non_null(f);
        snprintf(f->path, sizeof(f->path), "/tmp/netdep-test-pool-XXXXXX");
        fd = mkstemp(f->path);
        assert_true(fd >= 0);
        close(fd);
        /* SQLite creates it afresh. */
        assert_int_equal(unlink(f->path), 0);
        snprintf(f->uri, sizeof(f->uri), "sqlite:%s", f->path);
        if (nd_store_open(f->uri, ND_STORE_CREATE, &s, err, sizeof(err)) < 0)
                fail_msg("open %s: %s", f->uri, err);
        if (nd_store_migrate(s) < 0)
                fail_msg("migrate: %s", nd_store_last_error(s));
        assert_int_equal(nd_store_check_schema(s), 0);
        nd_store_close(s);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char side[96];

        unlink(f->path);
        snprintf(side, sizeof(side), "%s-wal", f->path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", f->path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-journal", f->path);
        unlink(side);
        free(f);
        return 0;
}

static void assert_stats(struct nd_store_pool *p, size_t open, size_t busy, size_t waiting)
{
        struct nd_store_pool_stats st = { 99, 99, 99 };

        nd_store_pool_stats(p, &st);
        assert_int_equal(st.open, open);
        assert_int_equal(st.busy, busy);
        assert_int_equal(st.waiting, waiting);
}

static struct nd_store *take(struct nd_store_pool *p)
{
        struct nd_store *s = NULL;
        char why[512] = "";
        int r = nd_store_pool_take(p, &s, why, sizeof(why));

        if (r < 0)
                fail_msg("take: %d %s", r, why);
        assert_non_null(s);
        return s;
}

static void test_take_give(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *a, *b, *c;
        int version = -1;

        assert_int_equal(nd_store_pool_new(f->uri, 2, 0, 0, &p), 0);
        assert_stats(p, 0, 0, 0);
        a = take(p);
        assert_stats(p, 1, 1, 0);
        /* A working connection, at the schema. */
        assert_int_equal(nd_store_schema_version(a, &version), 0);
        assert_true(version > 0);
        b = take(p);
        assert_ptr_not_equal(a, b);
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, a, false);
        assert_stats(p, 2, 1, 0);
        /* The idle one again, not a third. */
        c = take(p);
        assert_ptr_equal(c, a);
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, b, false);
        nd_store_pool_give(p, c, false);
        assert_stats(p, 2, 0, 0);
        /* Freed with idle connections open (ASan: closed). */
        nd_store_pool_free(p);
        nd_store_pool_free(NULL);
}

/* max_waiting 0: a third caller is turned away at once. */
static void test_full_no_waiting(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *a, *b, *s = NULL;
        char why[512] = "";
        int64_t t0, elapsed;

        assert_int_equal(nd_store_pool_new(f->uri, 2, 0, 5000, &p), 0);
        a = take(p);
        b = take(p);
        t0 = now_ms();
        assert_int_equal(nd_store_pool_take(p, &s, why, sizeof(why)), -EBUSY);
        elapsed = now_ms() - t0;
        assert_null(s);
        assert_true(elapsed < 1000);
        assert_non_null(strstr(why, "busy"));
        assert_null(strchr(why, '\n'));
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, a, false);
        nd_store_pool_give(p, b, false);
        nd_store_pool_free(p);
}

/* max_waiting 1, wait_ms 100: the third waits its 100 ms, then gives up. */
static void test_full_wait_times_out(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *a, *b, *s = NULL;
        char why[512] = "";
        int64_t t0, elapsed;

        assert_int_equal(nd_store_pool_new(f->uri, 2, 1, 100, &p), 0);
        a = take(p);
        b = take(p);
        t0 = now_ms();
        assert_int_equal(nd_store_pool_take(p, &s, why, sizeof(why)), -EBUSY);
        elapsed = now_ms() - t0;
        assert_null(s);
        if (elapsed < 90 || elapsed >= 2000)
                fail_msg("gave up after %lld ms, want about 100", (long long)elapsed);
        assert_non_null(strstr(why, "100 ms"));
        assert_null(strchr(why, '\n'));
        /* No longer waiting. */
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, a, false);
        nd_store_pool_give(p, b, false);
        nd_store_pool_free(p);
}

struct waiter {
        struct nd_store_pool *p;
        struct nd_store *s;
        int r;
        int64_t elapsed;
        char why[512];
};

static void *waiter_run(void *arg)
{
        struct waiter *w = arg;
        int64_t t0 = now_ms();

        w->r = nd_store_pool_take(w->p, &w->s, w->why, sizeof(w->why));
        w->elapsed = now_ms() - t0;
        return NULL;
}

struct giver {
        struct nd_store_pool *p;
        struct nd_store *s;
        unsigned after_ms;
        bool broken;
};

static void *giver_run(void *arg)
{
        struct giver *g = arg;

        sleep_ms(g->after_ms);
        nd_store_pool_give(g->p, g->s, g->broken);
        return NULL;
}

/* Waits until the pool counts want waiting (at most 2 s). */
static void wait_for_waiting(struct nd_store_pool *p, size_t want)
{
        struct nd_store_pool_stats st;
        int64_t t0 = now_ms();

        for (;;) {
                nd_store_pool_stats(p, &st);
                if (st.waiting == want)
                        return;
                if (now_ms() - t0 > 2000)
                        fail_msg("waiting %zu, want %zu", st.waiting, want);
                sleep_ms(1);
        }
}

/* One given back from another thread after 50 ms: the waiting take gets it. */
static void test_wait_then_given(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *a, *b;
        struct giver g;
        int64_t t0, elapsed;
        struct nd_store *s = NULL;
        char why[512] = "";
        pthread_t t;

        assert_int_equal(nd_store_pool_new(f->uri, 2, 1, 2000, &p), 0);
        a = take(p);
        b = take(p);
        g = (struct giver){ .p = p, .s = a, .after_ms = 50 };
        assert_int_equal(pthread_create(&t, NULL, giver_run, &g), 0);
        t0 = now_ms();
        if (nd_store_pool_take(p, &s, why, sizeof(why)) < 0)
                fail_msg("take: %s", why);
        elapsed = now_ms() - t0;
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_ptr_equal(s, a);
        if (elapsed < 30 || elapsed >= 1900)
                fail_msg("took %lld ms, want about 50", (long long)elapsed);
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, s, false);
        nd_store_pool_give(p, b, false);
        nd_store_pool_free(p);
}

/* The stats while one waits; a second waiter beyond max_waiting 1 is turned
 * away at once; a broken connection given back frees a slot too. */
static void test_stats_waiting(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *a, *b, *s = NULL;
        struct waiter w = {};
        char why[512] = "";
        pthread_t t;
        int64_t t0;

        assert_int_equal(nd_store_pool_new(f->uri, 2, 1, 5000, &p), 0);
        a = take(p);
        b = take(p);
        w.p = p;
        assert_int_equal(pthread_create(&t, NULL, waiter_run, &w), 0);
        wait_for_waiting(p, 1);
        assert_stats(p, 2, 2, 1);

        /* The one place to wait is taken. */
        t0 = now_ms();
        assert_int_equal(nd_store_pool_take(p, &s, why, sizeof(why)), -EBUSY);
        assert_true(now_ms() - t0 < 1000);
        assert_non_null(strstr(why, "1 requests already wait"));
        assert_stats(p, 2, 2, 1);

        /* Broken: closed, and the waiter opens one afresh. */
        nd_store_pool_give(p, a, true);
        assert_int_equal(pthread_join(t, NULL), 0);
        if (w.r < 0)
                fail_msg("waiter: %d %s", w.r, w.why);
        assert_non_null(w.s);
        assert_true(w.elapsed < 4000);
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, w.s, false);
        nd_store_pool_give(p, b, false);
        assert_stats(p, 2, 0, 0);
        nd_store_pool_free(p);
}

/* Broken: closed at once (open goes down), the next take opens another. */
static void test_broken(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *a, *b, *c;
        int version = -1;

        assert_int_equal(nd_store_pool_new(f->uri, 2, 0, 0, &p), 0);
        a = take(p);
        b = take(p);
        assert_stats(p, 2, 2, 0);
        nd_store_pool_give(p, a, true);
        assert_stats(p, 1, 1, 0);
        c = take(p);
        assert_stats(p, 2, 2, 0);
        assert_int_equal(nd_store_schema_version(c, &version), 0);
        assert_true(version > 0);

        /* All broken: nothing open, and the pool opens them again. */
        nd_store_pool_give(p, b, true);
        nd_store_pool_give(p, c, true);
        assert_stats(p, 0, 0, 0);
        a = take(p);
        assert_stats(p, 1, 1, 0);
        nd_store_pool_give(p, a, false);
        assert_stats(p, 1, 0, 0);
        nd_store_pool_free(p);
}

/* A store that cannot be opened: the error, and no slot lost to it. */
static void test_open_fails(void **state)
{
        struct fixture *f = *state;
        struct nd_store_pool *p = NULL;
        struct nd_store *s = NULL;
        char uri[160], why[512] = "";

        snprintf(uri, sizeof(uri), "%s-missing", f->uri);
        assert_int_equal(nd_store_pool_new(uri, 1, 0, 0, &p), 0);
        for (int i = 0; i < 3; i++) {
                int r = nd_store_pool_take(p, &s, why, sizeof(why));

                assert_true(r < 0);
                assert_int_not_equal(r, -EBUSY);
                assert_null(s);
                assert_true(why[0] != '\0');
                assert_stats(p, 0, 0, 0);
        }
        nd_store_pool_free(p);
}

/* A store without the schema is refused, with what to run. */
static void test_no_schema(void **state)
{
        struct nd_store_pool *p = NULL;
        struct nd_store *s = NULL;
        char path[] = "/tmp/netdep-test-pool-bare-XXXXXX", uri[96], why[512] = "";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(unlink(path), 0);
        snprintf(uri, sizeof(uri), "sqlite:%s", path);
        if (nd_store_open(uri, ND_STORE_CREATE, &s, why, sizeof(why)) < 0)
                fail_msg("open %s: %s", uri, why);
        nd_store_close(s);
        s = NULL;

        assert_int_equal(nd_store_pool_new(uri, 1, 0, 0, &p), 0);
        assert_int_equal(nd_store_pool_take(p, &s, why, sizeof(why)), -ENOMEDIUM);
        assert_null(s);
        assert_non_null(strstr(why, "netdep db migrate"));
        assert_stats(p, 0, 0, 0);
        nd_store_pool_free(p);
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_take_give, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_no_waiting, setup, teardown),
                cmocka_unit_test_setup_teardown(test_full_wait_times_out, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wait_then_given, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stats_waiting, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broken, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
                cmocka_unit_test(test_no_schema),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
