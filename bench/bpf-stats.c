#include "bpf-stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "shared/cleanup.h"

int bpf_run_stats_enable(void)
{
        int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

        return fd < 0 ? -errno : fd;
}

#define MAX_PROGRAMS 64

/* The program ids in /proc/PID/fdinfo ("prog_id:" of program and link
 * fds), each once. */
static int process_prog_ids(pid_t pid, uint32_t *ids, size_t max, size_t *ret_n)
{
        char path[64];
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        size_t n = 0;

        snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_fclose_ FILE *f = NULL;
                char line[128];
                unsigned id;
                int fd;

                if (de->d_name[0] == '.')
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || !(f = fdopen(fd, "re"))) {
                        if (fd >= 0)
                                close(fd);
                        continue; /* closed meanwhile */
                }
                while (fgets(line, sizeof(line), f))
                        if (sscanf(line, "prog_id: %u", &id) == 1) {
                                size_t i = 0;

                                while (i < n && ids[i] != id)
                                        i++;
                                if (i == n && n < max)
                                        ids[n++] = id;
                        }
        }
        *ret_n = n;
        return 0;
}

int bpf_run_stats_of(pid_t pid, const char *name_prefix, struct bpf_run_stats *ret)
{
        struct bpf_run_stats sum = {};
        size_t prefix_len = strlen(name_prefix), n = 0;
        uint32_t ids[MAX_PROGRAMS];
        int r = process_prog_ids(pid, ids, MAX_PROGRAMS, &n);

        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                struct bpf_prog_info info = {};
                uint32_t len = sizeof(info);
                _cleanup_close_ int fd = bpf_prog_get_fd_by_id(ids[i]);

                if (fd < 0)
                        continue; /* unloaded meanwhile */
                if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                        return -errno;
                if (strncmp(info.name, name_prefix, prefix_len) != 0)
                        continue;
                sum.run_time_ns += info.run_time_ns;
                sum.run_cnt += info.run_cnt;
                sum.recursion_misses += info.recursion_misses;
                sum.programs++;
        }
        *ret = sum;
        return 0;
}

struct bpf_run_stats bpf_run_stats_diff(const struct bpf_run_stats *after, const struct bpf_run_stats *before)
{
        return (struct bpf_run_stats){
                .run_time_ns = after->run_time_ns - before->run_time_ns,
                .run_cnt = after->run_cnt - before->run_cnt,
                .recursion_misses = after->recursion_misses - before->recursion_misses,
                .programs = after->programs,
        };
}
