/* nd_forked_call(): the child's result, reason and fds come back; a child
 * that dies is reported, not waited on forever; nothing leaks. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shared/forked_call.h"

/* Hands back the read ends of n pipes, each holding one byte written by
 * the child: proof the fds are the child's, not copies of ours. */
static int make_pipes(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why, size_t why_size)
{
        size_t n = *(const size_t *)userdata;

        for (size_t i = 0; i < n && i < max_fds; i++) {
                int p[2];
                char c = (char)('a' + i);

                if (pipe2(p, O_CLOEXEC) < 0 || write(p[1], &c, 1) != 1)
                        return -errno;
                fds[i] = p[0];
        }
        *n_fds = n;
        return 0;
}

static int refuse(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why, size_t why_size)
{
        snprintf(why, why_size, "no such thing as %s", (const char *)userdata);
        return -ENOENT;
}

static int die(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why, size_t why_size)
{
        raise(SIGKILL);
        return 0;
}

/* Allocates a lot and frees nothing: the child's memory must not be ours. */
static int allocate(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why, size_t why_size)
{
        for (int i = 0; i < 64; i++)
                memset(malloc(1 << 20), 1, 1 << 20);
        *n_fds = 0;
        return 0;
}

static void test_fds_come_back(void **state)
{
        int fds[ND_FORKED_CALL_MAX_FDS];
        size_t want = 3, n = 99;
        char why[128] = "";

        assert_int_equal(nd_forked_call(make_pipes, &want, fds, ND_FORKED_CALL_MAX_FDS, &n, why, sizeof(why)), 0);
        assert_int_equal(n, 3);
        for (size_t i = 0; i < n; i++) {
                char c = 0;

                assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
                assert_int_equal(read(fds[i], &c, 1), 1);
                assert_int_equal(c, 'a' + (int)i);
                /* The child's write ends are gone with it: end of file. */
                assert_int_equal(read(fds[i], &c, 1), 0);
                close(fds[i]);
        }
}

static void test_more_fds_than_room(void **state)
{
        int fds[2];
        size_t want = 3, n = 99;
        char why[128] = "";

        /* The child may only fill what we have room for; more is an error. */
        assert_int_equal(nd_forked_call(make_pipes, &want, fds, 2, &n, why, sizeof(why)), -ENOBUFS);
        assert_string_equal(why, "the child process made 3 fds, room for 2");
        assert_int_equal(n, 99);
}

static void test_error_and_reason(void **state)
{
        int fds[1];
        size_t n = 99;
        char why[128] = "";

        assert_int_equal(nd_forked_call(refuse, "unicorns", fds, 1, &n, why, sizeof(why)), -ENOENT);
        assert_string_equal(why, "no such thing as unicorns");
        assert_int_equal(n, 99); /* untouched on failure */
}

static void test_child_dies(void **state)
{
        int fds[1];
        size_t n = 99;
        char why[128] = "";

        assert_int_equal(nd_forked_call(die, NULL, fds, 1, &n, why, sizeof(why)), -ECHILD);
        assert_non_null(strstr(why, "signal 9"));
        assert_int_equal(n, 99);
}

static long vm_hwm_kib(void)
{
        char line[256];
        long kib = -1;
        FILE *f = fopen("/proc/self/status", "re");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

static void test_child_memory_is_not_ours(void **state)
{
        int fds[1];
        size_t n = 99;
        char why[128] = "";
        long before = vm_hwm_kib();

        assert_int_equal(nd_forked_call(allocate, NULL, fds, 1, &n, why, sizeof(why)), 0);
        assert_int_equal(n, 0);
        /* 64 MiB touched in the child; our high-water mark barely moves. */
        assert_true(vm_hwm_kib() - before < 8 * 1024);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fds_come_back),
                cmocka_unit_test(test_more_fds_than_room),
                cmocka_unit_test(test_error_and_reason),
                cmocka_unit_test(test_child_dies),
                cmocka_unit_test(test_child_memory_is_not_ours),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
