#include "indicators/cpu_load.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"

/* /proc/stat grows with the CPU count and interrupt lines; the aggregate
 * line comes first, so its head is enough. */
#define PROC_READ_MAX 4096

/* Reads the head of proc_root/name, NUL-terminated, into buf. */
static int read_proc_file(const char *proc_root, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = -EBADF;
        char path[4096];
        size_t len = 0;

        if (snprintf(path, sizeof(path), "%s/%s", proc_root ? proc_root : "/proc", name) >= (int)sizeof(path))
                return -ENAMETOOLONG;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (len < size - 1) {
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = '\0';
        return 0;
}

int nd_loadavg_parse(const char *text, struct nd_loadavg *ret)
{
        struct nd_loadavg l;
        int consumed = 0;

        if (sscanf(text, "%lf %lf %lf %*u/%*u %*u%n", &l.load1, &l.load5, &l.load15, &consumed) != 3 || consumed == 0)
                return -EINVAL;
        if (l.load1 < 0 || l.load5 < 0 || l.load15 < 0)
                return -EINVAL;
        *ret = l;
        return 0;
}

int nd_loadavg_read(const char *proc_root, struct nd_loadavg *ret)
{
        char buf[256];
        int r;

        r = read_proc_file(proc_root, "loadavg", buf, sizeof(buf));
        if (r < 0)
                return r;
        return nd_loadavg_parse(buf, ret);
}

int nd_cpu_times_parse(const char *text, struct nd_cpu_times *ret)
{
        uint64_t v[8] = {}; /* user nice system idle iowait irq softirq steal */
        uint64_t total = 0, idle;
        const char *p = text;
        char *end;
        size_t n;

        /* The aggregate line is "cpu" and blanks; "cpu0" and the rest are
         * single CPUs. */
        while (!(strncmp(p, "cpu", 3) == 0 && (p[3] == ' ' || p[3] == '\t'))) {
                p = strchr(p, '\n');
                if (!p)
                        return -EINVAL;
                p++;
        }
        p += 3;
        for (n = 0; n < ELEMENTSOF(v); n++) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p < '0' || *p > '9')
                        break;
                errno = 0;
                v[n] = strtoull(p, &end, 10);
                if (errno != 0)
                        return -EINVAL;
                p = end;
        }
        /* Kernels since 2.6.11 give at least eight; four is the floor. */
        if (n < 4)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                total += v[i];
        idle = v[3] + v[4];
        *ret = (struct nd_cpu_times){ .busy = total - idle, .total = total };
        return 0;
}

int nd_cpu_times_read(const char *proc_root, struct nd_cpu_times *ret)
{
        char buf[PROC_READ_MAX];
        int r;

        r = read_proc_file(proc_root, "stat", buf, sizeof(buf));
        if (r < 0)
                return r;
        return nd_cpu_times_parse(buf, ret);
}

int nd_cpu_busy_between(const struct nd_cpu_times *before, const struct nd_cpu_times *after, double *ret)
{
        uint64_t total, busy;

        if (after->total <= before->total || after->busy < before->busy)
                return -ERANGE;
        total = after->total - before->total;
        busy = after->busy - before->busy;
        if (busy > total)
                return -ERANGE;
        *ret = (double)busy / (double)total;
        return 0;
}
