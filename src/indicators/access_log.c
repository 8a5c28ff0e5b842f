#include "indicators/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

#define CHUNK_SIZE ((size_t)64 << 10)
/* Of a line longer than this only the start is kept, which holds the
 * status: nginx bounds the request line by its header buffers (8 KiB). */
#define LINE_KEEP_MAX ((size_t)32 << 10)

struct nd_access_log {
        char *path;
        size_t read_max;
        int fd;
        dev_t dev;
        ino_t ino;
        uint64_t offset;
        bool started;    /* a first read was tried */
        bool discarding; /* mid-line after a skip: drop up to the newline */
        char *line;      /* the start of a line still without its newline */
        size_t line_len;
};

int nd_access_log_parse_status(const char *line, size_t len)
{
        const char *end = line + len, *open, *close, *p;
        int status = 0;

        open = memchr(line, '"', len);
        if (!open)
                return -EBADMSG;
        close = memchr(open + 1, '"', (size_t)(end - open - 1));
        if (!close)
                return -EBADMSG;
        p = close + 1;
        if (end - p < 4 || *p != ' ')
                return -EBADMSG;
        p++;
        for (int i = 0; i < 3; i++, p++) {
                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                status = status * 10 + (*p - '0');
        }
        if (p < end && *p != ' ')
                return -EBADMSG;
        if (status < 100)
                return -EBADMSG;
        return status;
}

struct nd_access_log *nd_access_log_free(struct nd_access_log *l)
{
        if (!l)
                return NULL;
        if (l->fd >= 0)
                close(l->fd);
        free(l->path);
        free(l->line);
        free(l);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_access_log *, nd_access_log_free);

int nd_access_log_new(const char *path, size_t read_max, struct nd_access_log **ret)
{
        _cleanup_(nd_access_log_freep) struct nd_access_log *l = NULL;

        l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->fd = -EBADF;
        l->path = strdup(path);
        l->line = malloc(LINE_KEEP_MAX);
        if (!l->path || !l->line)
                return -ENOMEM;
        l->read_max = read_max ? read_max : ND_ACCESS_LOG_READ_MAX_DEFAULT;
        *ret = TAKE_PTR(l);
        return 0;
}

static void count_line(struct nd_access_log_counts *c, const char *line, size_t len)
{
        int status;

        if (len > 0 && line[len - 1] == '\r')
                len--;
        if (len == 0)
                return;
        status = nd_access_log_parse_status(line, len);
        if (status < 0) {
                c->unparsed++;
                return;
        }
        c->requests++;
        if (status >= ND_ACCESS_LOG_ERROR_MIN)
                c->errors[status - ND_ACCESS_LOG_ERROR_MIN]++;
}

/* Keeps the start of an unfinished line, up to LINE_KEEP_MAX. */
static void keep_partial(struct nd_access_log *l, struct nd_access_log_counts *c, const char *p, size_t len)
{
        size_t room = LINE_KEEP_MAX - l->line_len;

        if (l->discarding) {
                c->bytes_skipped += len;
                return;
        }
        memcpy(l->line + l->line_len, p, len < room ? len : room);
        l->line_len += len < room ? len : room;
}

static void feed(struct nd_access_log *l, struct nd_access_log_counts *c, const char *data, size_t len)
{
        const char *p = data, *end = data + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t seg;

                if (!nl) {
                        keep_partial(l, c, p, (size_t)(end - p));
                        return;
                }
                seg = (size_t)(nl - p);
                if (l->discarding) {
                        c->bytes_skipped += seg + 1;
                        l->discarding = false;
                } else if (l->line_len > 0) {
                        keep_partial(l, c, p, seg);
                        count_line(c, l->line, l->line_len);
                        l->line_len = 0;
                } else
                        count_line(c, p, seg);
                p = nl + 1;
        }
}

/* Positions at off; mid-line, the rest of that line is dropped. */
static int start_at(struct nd_access_log *l, uint64_t off)
{
        char before = '\n';

        l->offset = off;
        l->line_len = 0;
        l->discarding = false;
        if (off > 0) {
                ssize_t n = pread(l->fd, &before, 1, (off_t)off - 1);
                if (n < 0)
                        return -errno;
                l->discarding = n == 1 && before != '\n';
        }
        return 0;
}

static int open_current(struct nd_access_log *l, bool at_end)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        int r;

        fd = open(l->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EOPNOTSUPP; /* a pipe or a device cannot be followed by offset */
        l->fd = TAKE_FD(fd);
        l->dev = st.st_dev;
        l->ino = st.st_ino;
        r = start_at(l, at_end ? (uint64_t)st.st_size : 0);
        if (r < 0) {
                close(l->fd);
                l->fd = -EBADF;
        }
        return r;
}

static void close_current(struct nd_access_log *l, struct nd_access_log_counts *c)
{
        /* A finished file's last line without a newline is a torn line. */
        if (l->line_len > 0)
                c->unparsed++;
        l->line_len = 0;
        l->discarding = false;
        close(l->fd);
        l->fd = -EBADF;
}

/* Reads the open file from offset to its present size, within *budget. */
static int drain(struct nd_access_log *l, struct nd_access_log_counts *c, size_t *budget)
{
        _cleanup_free_ char *buf = NULL;
        uint64_t size, avail, skipped;
        struct stat st;
        int r;

        if (fstat(l->fd, &st) < 0)
                return -errno;
        size = (uint64_t)st.st_size;
        if (size < l->offset) {
                r = start_at(l, 0); /* truncated in place */
                if (r < 0)
                        return r;
        }
        avail = size - l->offset;
        if (avail == 0)
                return 0;
        if (avail > *budget) {
                uint64_t skip = avail - *budget;

                c->bytes_skipped += skip + l->line_len;
                r = start_at(l, l->offset + skip);
                if (r < 0)
                        return r;
                avail = *budget;
        }
        buf = malloc(CHUNK_SIZE);
        if (!buf)
                return -ENOMEM;
        while (avail > 0) {
                ssize_t n = pread(l->fd, buf, avail < CHUNK_SIZE ? avail : CHUNK_SIZE, (off_t)l->offset);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                skipped = c->bytes_skipped;
                feed(l, c, buf, (size_t)n);
                l->offset += (uint64_t)n;
                /* Bytes dropped up to a newline are skipped, not read. */
                c->bytes_read += (uint64_t)n - (c->bytes_skipped - skipped);
                *budget -= (size_t)n;
                avail -= (uint64_t)n;
        }
        return 0;
}

int nd_access_log_read(struct nd_access_log *l, struct nd_access_log_counts *ret)
{
        struct nd_access_log_counts c = {};
        size_t budget = l->read_max;
        struct stat st;
        int r;

        if (l->fd < 0) {
                bool first = !l->started;

                l->started = true;
                r = open_current(l, first);
                if (r < 0)
                        return r;
        } else {
                r = stat(l->path, &st) < 0 ? -errno : 0;
                if (r < 0 && r != -ENOENT)
                        return r;
                if (r == -ENOENT || st.st_dev != l->dev || st.st_ino != l->ino) {
                        /* Rotated: what was written to the old file before
                         * nginx reopened its log is still to count. */
                        r = drain(l, &c, &budget);
                        if (r < 0)
                                return r;
                        close_current(l, &c);
                        r = open_current(l, false);
                        if (r == -ENOENT) {
                                *ret = c; /* renamed away, the new one not there yet */
                                return 0;
                        }
                        if (r < 0)
                                return r;
                }
        }
        r = drain(l, &c, &budget);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}
