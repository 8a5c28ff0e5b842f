/* The kernel's own accounting of BPF programs' run time (BPF_ENABLE_STATS),
 * to tell what an eBPF collector costs inside the kernel: that time is
 * charged to whichever task or softirq fired the hook, never to the
 * collector's process. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct bpf_run_stats {
        uint64_t run_time_ns, run_cnt;
        /* Runs the kernel skipped because the program was already running
         * on that CPU (a softirq firing the hook while the program ran in
         * process context): their events are gone, and no counter of the
         * program's own says so. */
        uint64_t recursion_misses;
        unsigned programs; /* how many programs were summed */
};

/* Turns the statistics on for as long as the returned fd stays open (they
 * cost two clock reads per program run). Returns the fd or -errno. */
int bpf_run_stats_enable(void);

/* Sums the statistics of the programs that process pid holds (a program
 * or link fd of it, from /proc/PID/fdinfo) whose name starts with
 * name_prefix (names are cut at 15 characters): only that process's, so
 * the same programs of another process loaded meanwhile do not count.
 * Returns 0 (ret->programs 0 when none matched) or -errno. */
int bpf_run_stats_of(pid_t pid, const char *name_prefix, struct bpf_run_stats *ret);

/* after - before, counter by counter (programs: after's). */
struct bpf_run_stats bpf_run_stats_diff(const struct bpf_run_stats *after, const struct bpf_run_stats *before);
