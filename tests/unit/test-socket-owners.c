/* Socket inode -> process, on the real /proc and on a made-up proc tree. */
#include <fcntl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/socket_owners.h"

static void test_parse_link(void **state)
{
        assert_int_equal(nd_parse_socket_link("socket:[12345]", 14), 12345);
        assert_int_equal(nd_parse_socket_link("socket:[4294967295]", 19), 4294967295u);
        assert_int_equal(nd_parse_socket_link("socket:[4294967296]", 19), 0);
        assert_int_equal(nd_parse_socket_link("socket:[]", 9), 0);
        assert_int_equal(nd_parse_socket_link("socket:[12a]", 12), 0);
        assert_int_equal(nd_parse_socket_link("pipe:[12345]", 12), 0);
        assert_int_equal(nd_parse_socket_link("/dev/null", 9), 0);
        assert_int_equal(nd_parse_socket_link("socket:[1", 9), 0);
}

static void test_real_proc_finds_own_socket(void **state)
{
        struct nd_socket_owners o;
        struct stat st;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const struct nd_process *p;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        prctl(PR_SET_NAME, "owner-test");

        nd_socket_owners_init(&o);
        assert_int_equal(nd_socket_owners_scan(&o, "/proc"), 0);
        p = nd_socket_owners_lookup(&o, (uint32_t)st.st_ino);
        assert_non_null(p);
        assert_int_equal(p->pid, getpid());
        assert_int_equal(p->pgid, getpgrp());
        assert_string_equal(p->name, "owner-test");
        assert_non_null(p->cgroup);

        /* A second scan replaces the first: a closed socket is forgotten. */
        close(fd);
        assert_int_equal(nd_socket_owners_scan(&o, "/proc"), 0);
        assert_null(nd_socket_owners_lookup(&o, (uint32_t)st.st_ino));
        nd_socket_owners_done(&o);
}

static uint32_t inode_of(int fd)
{
        struct stat st;

        assert_int_equal(fstat(fd, &st), 0);
        return (uint32_t)st.st_ino;
}

static void test_incremental_refresh(void **state)
{
        struct nd_socket_owners o;
        int a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), b, c;
        uint32_t ia = inode_of(a), ib, ic;

        nd_socket_owners_init(&o);
        assert_int_equal(nd_socket_owners_refresh(&o, "/proc"), 0); /* the first one is full */
        assert_true(o.last_scan_full);
        assert_non_null(nd_socket_owners_lookup(&o, ia));

        /* Nothing changed: every process is kept, none read. */
        assert_int_equal(nd_socket_owners_refresh(&o, "/proc"), 0);
        assert_false(o.last_scan_full);
        assert_true(o.reused > 0);
        assert_non_null(nd_socket_owners_lookup(&o, ia));

        /* A new fd changes our count: we are read again. */
        b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ib = inode_of(b);
        assert_int_equal(nd_socket_owners_refresh(&o, "/proc"), 0);
        assert_int_equal(nd_socket_owners_lookup(&o, ib)->pid, getpid());

        /* A swapped fd (same count) is missed once, which makes the next
         * refresh full, and found then. */
        close(a);
        c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ic = inode_of(c);
        assert_int_equal(nd_socket_owners_refresh(&o, "/proc"), 0);
        if (!o.last_scan_full) {
                assert_null(nd_socket_owners_lookup(&o, ic));
                assert_true(o.stale);
                assert_int_equal(nd_socket_owners_refresh(&o, "/proc"), 0);
                assert_true(o.last_scan_full);
        }
        assert_int_equal(nd_socket_owners_lookup(&o, ic)->pid, getpid());
        assert_null(nd_socket_owners_lookup(&o, ia)); /* closed: gone after a full scan */
        close(b);
        close(c);
        nd_socket_owners_done(&o);
}

static void make(const char *root, const char *rel, const char *content)
{
        char path[4096];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        f = fopen(path, "we");
        assert_non_null(f);
        fputs(content, f);
        fclose(f);
}

static void mkdirs(const char *root, const char *rel)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        assert_int_equal(mkdir(path, 0755), 0);
}

static void link_to(const char *root, const char *rel, const char *target)
{
        char path[4096];

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        assert_int_equal(symlink(target, path), 0);
}

static void test_fake_proc(void **state)
{
        char root[] = "/tmp/nd-proc-XXXXXX";
        struct nd_socket_owners o;
        const struct nd_process *p;
        char cmd[4200];

        assert_non_null(mkdtemp(root));
        /* pid 10: two sockets, a pipe, odd comm with spaces and parens. */
        mkdirs(root, "10");
        mkdirs(root, "10/fd");
        link_to(root, "10/fd/3", "socket:[1000]");
        link_to(root, "10/fd/4", "socket:[1001]");
        link_to(root, "10/fd/5", "pipe:[77]");
        make(root, "10/comm", "my (odd) app\n");
        make(root, "10/stat", "10 (my (odd) app) S 1 9 9 0 -1\n");
        make(root, "10/cgroup", "12:cpu:/old\n0::/system.slice/app.service\n");
        /* pid 20 shares socket 1001 (forked): the lower pid keeps it. */
        mkdirs(root, "20");
        mkdirs(root, "20/fd");
        link_to(root, "20/fd/3", "socket:[1001]");
        link_to(root, "20/fd/4", "socket:[2000]");
        make(root, "20/comm", "child\n");
        make(root, "20/stat", "20 (child) S 10 9 9\n");
        /* pid 30 exited: no fd directory left. pid 40: no sockets. */
        mkdirs(root, "30");
        mkdirs(root, "40");
        mkdirs(root, "40/fd");
        link_to(root, "40/fd/0", "/dev/null");
        /* Not a pid. */
        mkdirs(root, "self-ish");

        nd_socket_owners_init(&o);
        assert_int_equal(nd_socket_owners_scan(&o, root), 0);
        /* Records: 10, 20, 30's vanished entry is dropped, 40 kept without sockets. */
        assert_int_equal(o.sockets.n, 3);
        assert_int_equal(o.vanished, 1);

        p = nd_socket_owners_lookup(&o, 1000);
        assert_non_null(p);
        assert_int_equal(p->pid, 10);
        assert_int_equal(p->pgid, 9);
        assert_string_equal(p->name, "my (odd) app");
        assert_string_equal(p->cgroup, "/system.slice/app.service");
        assert_int_equal(nd_socket_owners_lookup(&o, 1001)->pid, 10);
        p = nd_socket_owners_lookup(&o, 2000);
        assert_non_null(p);
        assert_int_equal(p->pid, 20);
        assert_null(p->cgroup); /* unreadable cgroup: no hint, no failure */
        assert_null(nd_socket_owners_lookup(&o, 77));
        assert_null(nd_socket_owners_lookup(&o, 0));
        nd_socket_owners_done(&o);

        nd_socket_owners_init(&o);
        assert_int_equal(nd_socket_owners_scan(&o, "/nonexistent-proc"), -ENOENT);
        nd_socket_owners_done(&o);

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_link),
                cmocka_unit_test(test_real_proc_finds_own_socket),
                cmocka_unit_test(test_fake_proc),
                cmocka_unit_test(test_incremental_refresh),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
