/* The agent's spool: a flush survives its file byte for byte; any damaged
 * or foreign file is refused, never half read; the bound drops the oldest;
 * a file is delivered by one agent only. */
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

#include "agent/spool.h"

static char *dup_or_die(const char *s)
{
        char *d = strdup(s);

        assert_non_null(d);
        return d;
}

static char **addrs_of(size_t n, const char *const *a)
{
        char **v = calloc(n, sizeof(*v));

        assert_non_null(v);
        for (size_t i = 0; i < n; i++)
                v[i] = dup_or_die(a[i]);
        return v;
}

/* A flush with every field away from zero, and rows at the limits of
 * their fields. */
static struct nd_flush *sample(const char *hostname, size_t n_rows)
{
        static const char *const host[] = { "10.0.0.1", "fd00::1" };
        static const char *const vm[] = { "10.9.0.2" };
        struct nd_flush *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        f->hostname = dup_or_die(hostname);
        f->ts = 1700000060;
        f->first_ts = -5;
        f->addrs.addrs = addrs_of(2, host);
        f->addrs.n_addrs = 2;
        f->addrs.named = calloc(2, sizeof(*f->addrs.named));
        assert_non_null(f->addrs.named);
        f->addrs.named[0].name = dup_or_die("vm");
        f->addrs.named[0].addrs = addrs_of(1, vm);
        f->addrs.named[0].n_addrs = 1;
        f->addrs.named[1].name = dup_or_die("empty"); /* no addresses */
        f->addrs.n_named = 2;
        f->rows = calloc(n_rows ? n_rows : 1, sizeof(*f->rows));
        assert_non_null(f->rows);
        f->n_rows = n_rows;
        for (size_t i = 0; i < n_rows; i++) {
                struct nd_edge_observation *r = &f->rows[i];

                snprintf(r->client.addr, sizeof(r->client.addr), "ffff:ffff:ffff:ffff:ffff:ffff:255.255.%zu.1",
                         i % 256);
                snprintf(r->client.process, sizeof(r->client.process), "fifteen-chars%02zu", i % 100);
                r->client.pgid = -1;
                snprintf(r->server.addr, sizeof(r->server.addr), "10.0.%zu.%zu", i / 256 % 256, i % 256);
                r->server.port = 65535;
                r->server.pgid = 2147483647;
                r->side = i % 2 ? ND_SIDE_SERVER : ND_SIDE_CLIENT;
                r->connections = 4294967295u;
                r->opened = (uint32_t)i;
                r->failed = 7;
                r->rtt_us = 123456;
                r->retrans = UINT64_MAX;
                r->bytes_sent = (uint64_t)1 << 40;
                r->bytes_received = 1;
                r->processes = r->side == ND_SIDE_CLIENT ? 3 : 0;
        }
        return f;
}

static void assert_same_strs(char **a, size_t na, char **b, size_t nb)
{
        assert_int_equal(na, nb);
        for (size_t i = 0; i < na; i++)
                assert_string_equal(a[i], b[i]);
}

static void assert_same_flush(const struct nd_flush *a, const struct nd_flush *b)
{
        assert_string_equal(a->hostname, b->hostname);
        assert_int_equal(a->ts, b->ts);
        assert_int_equal(a->first_ts, b->first_ts);
        assert_same_strs(a->addrs.addrs, a->addrs.n_addrs, b->addrs.addrs, b->addrs.n_addrs);
        assert_int_equal(a->addrs.n_named, b->addrs.n_named);
        for (size_t i = 0; i < a->addrs.n_named; i++) {
                assert_string_equal(a->addrs.named[i].name, b->addrs.named[i].name);
                assert_same_strs(a->addrs.named[i].addrs, a->addrs.named[i].n_addrs, b->addrs.named[i].addrs,
                                 b->addrs.named[i].n_addrs);
        }
        assert_int_equal(a->n_rows, b->n_rows);
        /* calloc'd on both sides: the padding is zero too. */
        if (a->n_rows)
                assert_memory_equal(a->rows, b->rows, a->n_rows * sizeof(*a->rows));
}

static void test_round_trip(void **state)
{
        for (size_t n = 0; n <= 300; n += 150) {
                struct nd_flush *f = sample("db1.example", n), *g = NULL;
                uint8_t *buf;
                size_t size;
                char why[200];

                assert_int_equal(nd_spool_encode(f, &buf, &size), 0);
                assert_memory_equal(buf, "NDSPOOL\n", 8);
                assert_int_equal(nd_spool_decode(buf, size, &g, why, sizeof(why)), 0);
                assert_same_flush(f, g);
                free(buf);
                nd_flush_free(f);
                nd_flush_free(g);
        }
}

/* Every prefix and every one-byte change is refused, with a reason. */
static void test_damage_refused(void **state)
{
        struct nd_flush *f = sample("h", 3), *g = NULL;
        uint8_t *buf;
        size_t size;
        char why[200];

        assert_int_equal(nd_spool_encode(f, &buf, &size), 0);
        for (size_t n = 0; n < size; n++) {
                why[0] = '\0';
                assert_int_equal(nd_spool_decode(buf, n, &g, why, sizeof(why)), -EBADMSG);
                assert_true(why[0] != '\0');
        }
        for (size_t i = 0; i < size; i++) {
                int r;

                buf[i] ^= 0x41;
                r = nd_spool_decode(buf, size, &g, why, sizeof(why));
                if (i >= 8 && i < 16) /* version, flags */
                        assert_int_equal(r, -EPROTONOSUPPORT);
                else
                        assert_int_equal(r, -EBADMSG);
                buf[i] ^= 0x41;
        }
        assert_int_equal(nd_spool_decode(buf, size, &g, why, sizeof(why)), 0);
        nd_flush_free(g);
        free(buf);
        nd_flush_free(f);
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* A body whose checksum holds but whose contents do not parse: counts
 * beyond the bytes there, a side that does not exist. */
static void test_malformed_body(void **state)
{
        uint8_t buf[64] = "NDSPOOL\n\x01";
        uint8_t body[] = { 1, 0, 0, 0, 'h', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                           0xff, 0xff, 0xff, 0x7f }; /* 2^31 addresses */
        uint64_t sum = fnv1a64(body, sizeof(body));
        struct nd_flush *g = NULL;
        char why[200] = "";

        buf[16] = sizeof(body);
        for (int i = 0; i < 8; i++)
                buf[24 + i] = (uint8_t)(sum >> (8 * i));
        memcpy(buf + 32, body, sizeof(body));
        assert_int_equal(nd_spool_decode(buf, 32 + sizeof(body), &g, why, sizeof(why)), -EBADMSG);
        assert_string_equal(why, "malformed body");
}

static char *make_temp_dir(void)
{
        char *dir = dup_or_die("/tmp/nd-spool-test.XXXXXX");

        assert_non_null(mkdtemp(dir));
        return dir;
}

static void remove_tree(const char *dir)
{
        char cmd[512];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        assert_int_equal(system(cmd), 0);
}

static void save_hosts(const char *dir, const char *const *hosts, size_t n, const struct nd_spool_limits *limits,
                       int want_r, struct nd_spool_report *ret)
{
        struct nd_flush **fs = calloc(n, sizeof(*fs));

        assert_non_null(fs);
        for (size_t i = 0; i < n; i++)
                fs[i] = sample(hosts[i], 2);
        assert_int_equal(nd_spool_save(dir, fs, n, limits, ret), want_r);
        for (size_t i = 0; i < n; i++)
                nd_flush_free(fs[i]);
        free(fs);
}

/* The hostnames of the spooled flushes, oldest first, joined by spaces;
 * each delivered (removed) when deliver. */
static void assert_spooled(const char *dir, const char *want, bool deliver)
{
        char got[512] = "", **names;
        size_t n;

        assert_int_equal(nd_spool_list(dir, &names, &n), 0);
        for (size_t i = 0; i < n; i++) {
                struct nd_flush *f = NULL;
                char why[200];
                int fd;

                assert_int_equal(nd_spool_take(dir, names[i], &fd, &f, why, sizeof(why)), 0);
                if (got[0])
                        strcat(got, " ");
                strcat(got, f->hostname);
                nd_flush_free(f);
                if (deliver)
                        assert_int_equal(nd_spool_remove(dir, names[i], fd), 0);
                else
                        close(fd);
        }
        nd_spool_names_free(names, n);
        assert_string_equal(got, want);
}

static void test_save_take_remove(void **state)
{
        static const char *const hosts[] = { "a", "b", "c" };
        const struct nd_spool_limits limits = { ND_SPOOL_MAX_FILES, ND_SPOOL_MAX_BYTES };
        struct nd_spool_report rep;
        char *top = make_temp_dir(), dir[300], **names;
        size_t n;

        /* Nothing to keep: no directory. */
        snprintf(dir, sizeof(dir), "%s/var/spool", top);
        assert_int_equal(nd_spool_save(dir, NULL, 0, &limits, &rep), 0);
        assert_int_equal(access(dir, F_OK), -1);
        assert_int_equal(nd_spool_list(dir, &names, &n), 0);
        assert_int_equal(n, 0);

        /* Made with its parents, private. */
        save_hosts(dir, hosts, 3, &limits, 0, &rep);
        assert_int_equal(rep.spooled, 3);
        assert_int_equal(rep.failed + rep.dropped, 0);
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        save_hosts(dir, hosts + 1, 1, &limits, 0, &rep);
        assert_spooled(dir, "a b c b", false);
        assert_spooled(dir, "a b c b", true);
        assert_spooled(dir, "", false);
        remove_tree(top);
        free(top);
}

/* One agent delivers a file: a second claim is refused while the first
 * holds it, and finds it gone once delivered. */
static void test_claims(void **state)
{
        static const char *const hosts[] = { "a" };
        const struct nd_spool_limits limits = { 10, 1 << 20 };
        struct nd_spool_report rep;
        struct nd_flush *f = NULL, *g = NULL;
        char *dir = make_temp_dir(), **names, why[200];
        size_t n;
        int fd, fd2;

        save_hosts(dir, hosts, 1, &limits, 0, &rep);
        assert_int_equal(nd_spool_list(dir, &names, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(nd_spool_take(dir, names[0], &fd, &f, why, sizeof(why)), 0);
        assert_int_equal(nd_spool_take(dir, names[0], &fd2, &g, why, sizeof(why)), -EBUSY);
        assert_int_equal(nd_spool_remove(dir, names[0], fd), 0);
        assert_int_equal(nd_spool_take(dir, names[0], &fd2, &g, why, sizeof(why)), -ENOENT);
        nd_flush_free(f);
        nd_spool_names_free(names, n);
        remove_tree(dir);
        free(dir);
}

/* Past the bound the oldest go, spooled before or now, and are counted. */
static void test_bound(void **state)
{
        static const char *const old[] = { "o1", "o2" }, *const now[] = { "n1", "n2", "n3", "n4" };
        const struct nd_spool_limits three = { 3, 1 << 20 };
        struct nd_spool_report rep;
        char *dir = make_temp_dir();
        uint8_t *buf;
        size_t size;

        save_hosts(dir, old, 2, &three, 0, &rep);
        save_hosts(dir, now, 2, &three, -ENOBUFS, &rep);
        assert_int_equal(rep.spooled, 2);
        assert_int_equal(rep.dropped, 1);
        assert_int_equal(rep.failed, 0);
        assert_spooled(dir, "o2 n1 n2", false);
        /* More new ones than the bound holds: the oldest new ones are not
         * even written. */
        save_hosts(dir, now, 4, &three, -ENOBUFS, &rep);
        assert_int_equal(rep.spooled, 3);
        assert_int_equal(rep.dropped, 4); /* o2 n1 n2 from before, n1 of now */
        assert_spooled(dir, "n2 n3 n4", true);

        /* By size: room for two flushes. */
        struct nd_flush *f = sample("n0", 2);
        assert_int_equal(nd_spool_encode(f, &buf, &size), 0);
        free(buf);
        nd_flush_free(f);
        const struct nd_spool_limits two = { 100, 2 * size + 1 };
        save_hosts(dir, now, 3, &two, -ENOBUFS, &rep);
        assert_int_equal(rep.spooled, 2);
        assert_int_equal(rep.dropped, 1);
        assert_spooled(dir, "n2 n3", true);
        remove_tree(dir);
        free(dir);
}

static void test_unwritable(void **state)
{
        static const char *const hosts[] = { "a", "b" };
        const struct nd_spool_limits limits = { 10, 1 << 20 };
        struct nd_spool_report rep;
        char *top = make_temp_dir(), file[300], dir[400];
        FILE *f;

        snprintf(file, sizeof(file), "%s/file", top);
        assert_non_null(f = fopen(file, "w"));
        fclose(f);
        snprintf(dir, sizeof(dir), "%s/spool", file);
        save_hosts(dir, hosts, 2, &limits, -ENOTDIR, &rep);
        assert_int_equal(rep.failed, 2);
        assert_int_equal(rep.spooled, 0);
        assert_int_equal(rep.error, -ENOTDIR);
        remove_tree(top);
        free(top);
}

/* A file that is not ours, or of another version: refused with a reason,
 * then set aside where listing and the bound ignore it. */
static void test_set_aside(void **state)
{
        char *dir = make_temp_dir(), path[300], why[200], **names;
        struct nd_flush *f = NULL;
        size_t n;
        int fd;
        FILE *out;

        snprintf(path, sizeof(path), "%s/00000000000000000001-0000000001-000000.flush", dir);
        assert_non_null(out = fopen(path, "w"));
        fputs("hello\n", out);
        fclose(out);
        assert_int_equal(nd_spool_list(dir, &names, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(nd_spool_take(dir, names[0], &fd, &f, why, sizeof(why)), -EBADMSG);
        assert_string_equal(why, "not a netdep spool file");
        assert_int_equal(nd_spool_set_aside(dir, names[0]), 0);
        nd_spool_names_free(names, n);
        assert_int_equal(nd_spool_list(dir, &names, &n), 0);
        assert_int_equal(n, 0);
        strcat(path, ".bad");
        assert_int_equal(access(path, F_OK), 0);

        snprintf(path, sizeof(path), "%s/00000000000000000002-0000000001-000000.flush", dir);
        assert_non_null(out = fopen(path, "w"));
        fwrite("NDSPOOL\n\x02\0\0\0\0\0\0\0", 1, 16, out);
        fwrite("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 1, 16, out);
        fclose(out);
        assert_int_equal(nd_spool_take(dir, "00000000000000000002-0000000001-000000.flush", &fd, &f, why,
                                       sizeof(why)),
                         -EPROTONOSUPPORT);
        assert_string_equal(why, "format version 2 flags 0, this netdep reads version 1");
        remove_tree(dir);
        free(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_damage_refused),
                cmocka_unit_test(test_malformed_body),
                cmocka_unit_test(test_save_take_remove),
                cmocka_unit_test(test_claims),
                cmocka_unit_test(test_bound),
                cmocka_unit_test(test_unwritable),
                cmocka_unit_test(test_set_aside),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
