#include "bpf-stats.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "shared/cleanup.h"

int bpf_run_stats_enable(void)
{
        int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

        return fd < 0 ? -errno : fd;
}

uint32_t bpf_run_stats_last_id(void)
{
        uint32_t id = 0, next;

        while (bpf_prog_get_next_id(id, &next) == 0)
                id = next;
        return id;
}

int bpf_run_stats_sum(const char *name_prefix, uint32_t after_id, uint32_t up_to_id, struct bpf_run_stats *ret)
{
        struct bpf_run_stats sum = {};
        size_t prefix_len = strlen(name_prefix);
        uint32_t id = after_id, next;

        while (bpf_prog_get_next_id(id, &next) == 0 && next <= up_to_id) {
                struct bpf_prog_info info = {};
                uint32_t len = sizeof(info);
                _cleanup_close_ int fd = -EBADF;

                id = next;
                fd = bpf_prog_get_fd_by_id(id);
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
