#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/sort.h"

#define MAGIC "NDSPOOL\n"
#define HEADER_SIZE 32
#define SUFFIX ".flush"
#define SET_ASIDE_SUFFIX ".bad"
/* Far above any hostname or address; a longer string is damage. */
#define STRING_MAX 4096
/* What one row takes at least: two endpoints of empty strings, and the
 * fixed fields. Counts are checked against the bytes left with it, so a
 * damaged count never makes a huge allocation. */
#define ROW_MIN (2 * (4 + 2 + 4 + 4) + 1 + 4 * 4 + 3 * 8 + 4)

#if defined(__LP64__)
/* Every field of an observation is in the format: one added to struct
 * nd_edge_observation goes into put and get below too, and, once
 * spooled files may exist that lack it, into a new version. */
_Static_assert(sizeof(struct nd_edge_observation) == 192,
               "struct nd_edge_observation changed: extend the spool format");
#endif

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}

/* Encoding: a growing buffer that remembers a failed allocation, so the
 * puts need no checks of their own. */
struct out {
        uint8_t *p;
        size_t n, allocated;
        bool failed;
};

static void put(struct out *o, const void *v, size_t n)
{
        if (o->failed)
                return;
        if (o->n + n > o->allocated) {
                size_t want = o->allocated ? o->allocated : 4096;
                while (want < o->n + n)
                        want *= 2;
                uint8_t *p = realloc(o->p, want);
                if (!p) {
                        o->failed = true;
                        return;
                }
                o->p = p;
                o->allocated = want;
        }
        memcpy(o->p + o->n, v, n);
        o->n += n;
}

static void put_le(struct out *o, uint64_t v, size_t bytes)
{
        uint8_t b[8];

        for (size_t i = 0; i < bytes; i++)
                b[i] = (uint8_t)(v >> (8 * i));
        put(o, b, bytes);
}

static void put_str(struct out *o, const char *s)
{
        size_t n = strlen(s);

        put_le(o, n, 4);
        put(o, s, n);
}

static void put_strs(struct out *o, char *const *s, size_t n)
{
        put_le(o, n, 4);
        for (size_t i = 0; i < n; i++)
                put_str(o, s[i]);
}

static void put_endpoint(struct out *o, const struct nd_endpoint *e)
{
        put_str(o, e->addr);
        put_le(o, e->port, 2);
        put_str(o, e->process);
        put_le(o, (uint32_t)e->pgid, 4);
}

int nd_spool_encode(const struct nd_flush *f, uint8_t **ret, size_t *ret_size)
{
        struct out o = {};
        uint64_t body_size, sum;

        put(&o, MAGIC, 8);
        put_le(&o, ND_SPOOL_VERSION, 4);
        put_le(&o, 0, 4);
        put_le(&o, 0, 8); /* body length and checksum, filled in below */
        put_le(&o, 0, 8);
        put_str(&o, f->hostname);
        put_le(&o, (uint64_t)f->ts, 8);
        put_le(&o, (uint64_t)f->first_ts, 8);
        put_strs(&o, f->addrs.addrs, f->addrs.n_addrs);
        put_le(&o, f->addrs.n_named, 4);
        for (size_t i = 0; i < f->addrs.n_named; i++) {
                put_str(&o, f->addrs.named[i].name);
                put_strs(&o, f->addrs.named[i].addrs, f->addrs.named[i].n_addrs);
        }
        put_le(&o, f->n_rows, 4);
        for (size_t i = 0; i < f->n_rows; i++) {
                const struct nd_edge_observation *r = &f->rows[i];

                put_endpoint(&o, &r->client);
                put_endpoint(&o, &r->server);
                put_le(&o, (uint64_t)r->side, 1);
                put_le(&o, r->connections, 4);
                put_le(&o, r->opened, 4);
                put_le(&o, r->failed, 4);
                put_le(&o, r->rtt_us, 4);
                put_le(&o, r->retrans, 8);
                put_le(&o, r->bytes_sent, 8);
                put_le(&o, r->bytes_received, 8);
                put_le(&o, r->processes, 4);
        }
        if (o.failed) {
                free(o.p);
                return -ENOMEM;
        }
        body_size = o.n - HEADER_SIZE;
        sum = fnv1a64(o.p + HEADER_SIZE, body_size);
        for (size_t i = 0; i < 8; i++) {
                o.p[16 + i] = (uint8_t)(body_size >> (8 * i));
                o.p[24 + i] = (uint8_t)(sum >> (8 * i));
        }
        *ret = o.p;
        *ret_size = o.n;
        return 0;
}

/* Decoding: a cursor that turns bad once it would read past the end; every
 * get then returns zeros and the caller checks once. */
struct in {
        const uint8_t *p;
        size_t left;
        bool bad;
};

static uint64_t get_le(struct in *in, size_t bytes)
{
        uint64_t v = 0;

        if (in->bad || in->left < bytes) {
                in->bad = true;
                return 0;
        }
        for (size_t i = 0; i < bytes; i++)
                v |= (uint64_t)in->p[i] << (8 * i);
        in->p += bytes;
        in->left -= bytes;
        return v;
}

/* A count of items at least min_size bytes each: no more than fit. */
static size_t get_count(struct in *in, size_t min_size)
{
        size_t n = (size_t)get_le(in, 4);

        if (n > in->left / min_size)
                in->bad = true;
        return in->bad ? 0 : n;
}

/* A string into buf; one that does not fit (with its NUL) or holds a NUL
 * is damage. */
static void get_str_into(struct in *in, char *buf, size_t size)
{
        size_t n = (size_t)get_le(in, 4);

        buf[0] = '\0';
        if (in->bad || n >= size || n > in->left || memchr(in->p, '\0', n)) {
                in->bad = true;
                return;
        }
        memcpy(buf, in->p, n);
        buf[n] = '\0';
        in->p += n;
        in->left -= n;
}

/* A string copied out; NULL when bad or out of memory (nomem says which). */
static char *get_str(struct in *in, bool *nomem)
{
        char buf[STRING_MAX + 1];
        char *s;

        get_str_into(in, buf, sizeof(buf));
        if (in->bad)
                return NULL;
        s = strdup(buf);
        if (!s)
                *nomem = true;
        return s;
}

static int get_strs(struct in *in, char ***ret, size_t *ret_n, bool *nomem)
{
        size_t n = get_count(in, 4);
        char **s;

        *ret = NULL;
        *ret_n = 0;
        if (in->bad || n == 0)
                return 0;
        s = calloc(n, sizeof(*s));
        if (!s) {
                *nomem = true;
                return -ENOMEM;
        }
        *ret = s;
        for (size_t i = 0; i < n; i++) {
                s[i] = get_str(in, nomem);
                if (!s[i])
                        return -EBADMSG;
                (*ret_n)++;
        }
        return 0;
}

static void get_endpoint(struct in *in, struct nd_endpoint *e)
{
        get_str_into(in, e->addr, sizeof(e->addr));
        e->port = (uint16_t)get_le(in, 2);
        get_str_into(in, e->process, sizeof(e->process));
        e->pgid = (int32_t)(uint32_t)get_le(in, 4);
}

static int decode_body(struct in *in, struct nd_flush *f, bool *nomem)
{
        size_t n;

        f->hostname = get_str(in, nomem);
        f->ts = (int64_t)get_le(in, 8);
        f->first_ts = (int64_t)get_le(in, 8);
        if (!f->hostname)
                return -EBADMSG;
        get_strs(in, &f->addrs.addrs, &f->addrs.n_addrs, nomem);
        n = get_count(in, 8);
        if (n > 0 && !(f->addrs.named = calloc(n, sizeof(*f->addrs.named)))) {
                *nomem = true;
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && !in->bad && !*nomem; i++) {
                struct nd_named_addrs *g = &f->addrs.named[i];

                g->name = get_str(in, nomem);
                if (!g->name)
                        break;
                f->addrs.n_named++;
                get_strs(in, &g->addrs, &g->n_addrs, nomem);
        }
        n = get_count(in, ROW_MIN);
        if (*nomem || in->bad)
                return -EBADMSG;
        f->rows = calloc(n ? n : 1, sizeof(*f->rows));
        if (!f->rows) {
                *nomem = true;
                return -ENOMEM;
        }
        for (size_t i = 0; i < n && !in->bad; i++) {
                struct nd_edge_observation *r = &f->rows[i];

                get_endpoint(in, &r->client);
                get_endpoint(in, &r->server);
                r->side = (enum nd_edge_side)get_le(in, 1);
                r->connections = (uint32_t)get_le(in, 4);
                r->opened = (uint32_t)get_le(in, 4);
                r->failed = (uint32_t)get_le(in, 4);
                r->rtt_us = (uint32_t)get_le(in, 4);
                r->retrans = get_le(in, 8);
                r->bytes_sent = get_le(in, 8);
                r->bytes_received = get_le(in, 8);
                r->processes = (uint32_t)get_le(in, 4);
                if (r->side != ND_SIDE_CLIENT && r->side != ND_SIDE_SERVER)
                        in->bad = true;
        }
        f->n_rows = n;
        return in->bad || in->left > 0 ? -EBADMSG : 0;
}

int nd_spool_decode(const uint8_t *buf, size_t size, struct nd_flush **ret, char *why, size_t why_size)
{
        struct in header = { buf, size }, body;
        struct nd_flush *f;
        uint32_t version, flags;
        uint64_t body_size, sum;
        bool nomem = false;
        int r;

        if (size < 8 || memcmp(buf, MAGIC, 8) != 0) {
                snprintf(why, why_size, "not a netdep spool file");
                return -EBADMSG;
        }
        header.p += 8;
        header.left -= 8;
        version = (uint32_t)get_le(&header, 4);
        flags = (uint32_t)get_le(&header, 4);
        body_size = get_le(&header, 8);
        sum = get_le(&header, 8);
        if (header.bad) {
                snprintf(why, why_size, "truncated header");
                return -EBADMSG;
        }
        if (version != ND_SPOOL_VERSION || flags != 0) {
                snprintf(why, why_size, "format version %u flags %#x, this netdep reads version %u", version,
                         flags, ND_SPOOL_VERSION);
                return -EPROTONOSUPPORT;
        }
        if (body_size != header.left) {
                snprintf(why, why_size, "%zu bytes of body, the header says %llu", header.left,
                         (unsigned long long)body_size);
                return -EBADMSG;
        }
        if (fnv1a64(header.p, header.left) != sum) {
                snprintf(why, why_size, "checksum mismatch");
                return -EBADMSG;
        }

        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        body = header;
        r = decode_body(&body, f, &nomem);
        if (nomem) {
                nd_flush_free(f);
                return -ENOMEM;
        }
        if (r < 0) {
                /* The checksum held: written so by something else. */
                snprintf(why, why_size, "malformed body");
                nd_flush_free(f);
                return -EBADMSG;
        }
        *ret = f;
        return 0;
}

static bool is_spool_name(const char *name)
{
        size_t n = strlen(name), s = strlen(SUFFIX);

        return name[0] != '.' && n > s && strcmp(name + n - s, SUFFIX) == 0;
}

static int compare_names(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

void nd_spool_names_free(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

int nd_spool_list(const char *dir, char ***ret, size_t *ret_n)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        char **names = NULL;
        size_t n = 0;
        struct dirent *de;

        if (!d) {
                if (errno != ENOENT)
                        return -errno;
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        while ((de = readdir(d))) {
                char **p;

                if (!is_spool_name(de->d_name))
                        continue;
                p = reallocarray(names, n + 1, sizeof(*p));
                if (!p || !(p[n] = strdup(de->d_name))) {
                        nd_spool_names_free(p ? p : names, n);
                        return -ENOMEM;
                }
                names = p;
                n++;
        }
        qsort_safe(names, n, sizeof(*names), compare_names);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* mkdir -p; the last component 0700: flushes name processes and hosts. */
static int make_dir(const char *dir)
{
        char path[PATH_MAX];
        size_t n = strlen(dir);

        if (n == 0 || n >= sizeof(path))
                return -ENAMETOOLONG;
        memcpy(path, dir, n + 1);
        for (char *p = path + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(path, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* One file, whole or not at all: a dot-name, synced, then renamed. */
static int write_file(int dir_fd, const char *name, const uint8_t *buf, size_t size)
{
        char tmp[NAME_MAX + 8]; /* "." NAME ".tmp" */
        _cleanup_close_ int fd = -EBADF;
        int r;

        snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = write_all(fd, buf, size);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0)
                (void)unlinkat(dir_fd, tmp, 0);
        return r;
}

struct spooled_file {
        char *name;
        uint64_t size;
};

/* The files spooled already, oldest first, with their sizes. */
static int list_sizes(int dir_fd, const char *dir, struct spooled_file **ret, size_t *ret_n)
{
        char **names;
        size_t n;
        struct spooled_file *files;
        int r = nd_spool_list(dir, &names, &n);

        if (r < 0)
                return r;
        files = calloc(n ? n : 1, sizeof(*files));
        if (!files) {
                nd_spool_names_free(names, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                struct stat st;

                files[i].name = names[i];
                files[i].size = fstatat(dir_fd, names[i], &st, 0) == 0 ? (uint64_t)st.st_size : 0;
        }
        free(names);
        *ret = files;
        *ret_n = n;
        return 0;
}

int nd_spool_save(const char *dir, struct nd_flush *const *flushes, size_t n, const struct nd_spool_limits *limits,
                  struct nd_spool_report *ret)
{
        struct nd_spool_report rep = {};
        _cleanup_close_ int dir_fd = -EBADF;
        struct spooled_file *old = NULL;
        size_t n_old = 0, files = 0, first = 0;
        uint64_t bytes = 0;
        struct timespec now;
        int r;

        if (n == 0) { /* nothing to keep: no directory made */
                *ret = rep;
                return 0;
        }
        r = make_dir(dir);
        if (r >= 0) {
                dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dir_fd < 0)
                        r = -errno;
        }
        if (r >= 0)
                r = list_sizes(dir_fd, dir, &old, &n_old);
        if (r < 0) {
                rep.failed = n;
                rep.error = r;
                *ret = rep;
                return r;
        }

        /* The newest flushes that fit in the bound on their own; older ones
         * are dropped before they are written. */
        uint8_t **bufs = calloc(n ? n : 1, sizeof(*bufs));
        size_t *sizes = calloc(n ? n : 1, sizeof(*sizes));
        if (!bufs || !sizes) {
                free(bufs);
                free(sizes);
                for (size_t i = 0; i < n_old; i++)
                        free(old[i].name);
                free(old);
                rep.failed = n;
                rep.error = -ENOMEM;
                *ret = rep;
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = nd_spool_encode(flushes[i], &bufs[i], &sizes[i]);
                if (r < 0)
                        bufs[i] = NULL; /* counted as failed below */
        }
        first = n;
        for (size_t i = n; i > 0; i--) {
                if (!bufs[i - 1])
                        continue;
                if (files + 1 > limits->max_files || bytes + sizes[i - 1] > limits->max_bytes)
                        break;
                files++;
                bytes += sizes[i - 1];
                first = i - 1;
        }
        for (size_t i = 0; i < first; i++)
                if (bufs[i])
                        rep.dropped++;

        clock_gettime(CLOCK_REALTIME, &now);
        files = bytes = 0;
        for (size_t i = 0; i < n; i++) {
                char name[NAME_MAX + 1];

                if (!bufs[i]) {
                        if (!rep.error)
                                rep.error = -ENOMEM;
                        rep.failed++;
                        continue;
                }
                if (i < first)
                        continue;
                snprintf(name, sizeof(name), "%020llu-%010d-%06zu" SUFFIX,
                         (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec,
                         (int)getpid(), i);
                r = write_file(dir_fd, name, bufs[i], sizes[i]);
                if (r < 0) {
                        if (!rep.error)
                                rep.error = r;
                        rep.failed++;
                        continue;
                }
                rep.spooled++;
                files++;
                bytes += sizes[i];
        }
        if (rep.spooled > 0)
                (void)fsync(dir_fd); /* the renames too */

        /* Then the bound, over what is there now: the oldest go first. */
        for (size_t i = 0; i < n_old; i++) {
                files++;
                bytes += old[i].size;
        }
        for (size_t i = 0; i < n_old && (files > limits->max_files || bytes > limits->max_bytes); i++) {
                files--;
                bytes -= old[i].size;
                if (unlinkat(dir_fd, old[i].name, 0) == 0)
                        rep.dropped++;
                /* ENOENT: another agent delivered it meanwhile. */
        }

        for (size_t i = 0; i < n; i++)
                free(bufs[i]);
        free(bufs);
        free(sizes);
        for (size_t i = 0; i < n_old; i++)
                free(old[i].name);
        free(old);
        *ret = rep;
        if (rep.failed)
                return rep.error;
        return rep.dropped ? -ENOBUFS : 0;
}

static int path_of(const char *dir, const char *name, char *buf, size_t size)
{
        if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size)
                return -ENAMETOOLONG;
        return 0;
}

int nd_spool_take(const char *dir, const char *name, int *ret_fd, struct nd_flush **ret, char *why,
                  size_t why_size)
{
        char path[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ uint8_t *buf = NULL;
        struct stat st;
        size_t got = 0;
        int r;

        r = path_of(dir, name, path, sizeof(path));
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0)
                return errno == EWOULDBLOCK ? -EBUSY : -errno;
        /* Delivered and removed between our open and our lock. */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_nlink == 0)
                return -ENOENT;
        if (!S_ISREG(st.st_mode)) {
                snprintf(why, why_size, "not a regular file");
                return -EBADMSG;
        }
        /* Not read into memory: none of ours is larger than a spool. */
        if ((uint64_t)st.st_size > ND_SPOOL_MAX_BYTES) {
                snprintf(why, why_size, "larger than a whole spool");
                return -EBADMSG;
        }
        buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
        if (!buf)
                return -ENOMEM;
        while (got < (size_t)st.st_size) {
                ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                got += (size_t)n;
        }
        r = nd_spool_decode(buf, got, ret, why, why_size);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int nd_spool_remove(const char *dir, const char *name, int fd)
{
        char path[PATH_MAX];
        int r = path_of(dir, name, path, sizeof(path));

        if (r >= 0 && unlink(path) < 0)
                r = -errno;
        close(fd);
        return r;
}

int nd_spool_set_aside(const char *dir, const char *name)
{
        char from[PATH_MAX], to[PATH_MAX];
        int r = path_of(dir, name, from, sizeof(from));

        if (r >= 0)
                r = path_of(dir, name, to, sizeof(to) - strlen(SET_ASIDE_SUFFIX));
        if (r < 0)
                return r;
        strcat(to, SET_ASIDE_SUFFIX);
        if (rename(from, to) < 0)
                return -errno;
        return 0;
}
