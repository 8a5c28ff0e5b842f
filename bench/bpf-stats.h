/* The kernel's own accounting of BPF programs' run time (BPF_ENABLE_STATS),
 * to tell what an eBPF collector costs inside the kernel: that time is
 * charged to whichever task or softirq fired the hook, never to the
 * collector's process. */
#pragma once

#include <stdint.h>

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

/* The highest BPF program id in use now (0 if none): ids only grow, so the
 * programs loaded after this call have higher ones. */
uint32_t bpf_run_stats_last_id(void);

/* Sums the statistics of the programs with ids in (after_id, up_to_id]
 * whose name starts with name_prefix (names are cut at 15 characters). */
int bpf_run_stats_sum(const char *name_prefix, uint32_t after_id, uint32_t up_to_id, struct bpf_run_stats *ret);

/* after - before, counter by counter (programs: after's). */
struct bpf_run_stats bpf_run_stats_diff(const struct bpf_run_stats *after, const struct bpf_run_stats *before);
