/* What every benchmark needs: errors, clocks, children started and reaped
 * with a deadline, their CPU and memory read from /proc and wait4().
 *
 * A benchmark stops when its signal handler sets a flag; the waits here
 * take a pointer to that flag (NULL: never interrupted) and give up with
 * -EINTR once it is set. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

static inline double monotonic_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Prints "PROGRAM: MESSAGE" to stderr, with %m standing for -r (or r), and
 * returns -|r|: `return bench_error(r, "Failed to …: %m");`. */
__attribute__((format(printf, 2, 3)))
int bench_error(int r, const char *fmt, ...);

/* Parses an integer in [min, max] into *ret; -EINVAL or -ERANGE otherwise. */
int bench_parse_uint(const char *s, long long min, long long max, unsigned *ret);

/* Sleeps until the monotonic time `until`; -EINTR once *interrupted is set. */
int sleep_until(double until, const volatile sig_atomic_t *interrupted);

/* utime + stime. */
double cpu_seconds(const struct rusage *ru);

/* Forks argv (searched on PATH) with stdout on out_fd and stderr on err_fd
 * (both borrowed; -1 keeps the bench's). The child dies with the bench
 * (PR_SET_PDEATHSIG) and starts with default signal dispositions. */
int spawn(const char *const *argv, int out_fd, int err_fd, pid_t *ret);

/* Waits for pid until deadline (monotonic seconds), then SIGKILLs it; reaps
 * it whatever happens. Returns 0 when it exited in time, -ETIMEDOUT, or
 * -EINTR once *interrupted is set. ret_status and ret_ru may be NULL. */
int reap(pid_t pid, double deadline, const volatile sig_atomic_t *interrupted, int *ret_status,
         struct rusage *ret_ru);

bool exited_ok(int status);

/* Keeps the calling process on one CPU; cpu < 0 leaves it free. Returns 0
 * or -errno. */
int pin_to_cpu(int cpu);

struct proc_sample {
        long rss_kib, hwm_kib; /* VmRSS, VmHWM */
        uint64_t cpu_ticks; /* utime + stime of every thread, in clock ticks */
};

/* Reads /proc/PID/status and /proc/PID/stat. -ESRCH (or another -errno)
 * when the process is gone. */
int sample_proc(pid_t pid, struct proc_sample *ret);

/* Clock ticks to seconds (sysconf(_SC_CLK_TCK)). */
double ticks_to_seconds(uint64_t ticks);

static inline double mib(long kib)
{
        return (double)kib / 1024.0;
}

/* The bench's own peak RSS: a forked child's ru_maxrss starts from it. */
long self_maxrss_kib(void);

/* Prints the load average: other work on the machine skews every figure. */
void print_load(const char *when);

/* Set by the signal handler bench_catch_signals() installs: the signal
 * that asked the bench to stop, 0 until then. The one mutable global. */
extern volatile sig_atomic_t bench_interrupted;

/* SIGINT, SIGTERM and SIGHUP set bench_interrupted (without SA_RESTART, so
 * that waits see EINTR); SIGPIPE is ignored. */
void bench_catch_signals(void);

/* Removes the files in dir (a temporary directory of the bench's own), then dir. */
void remove_temp_dir(const char *dir);

/* CPU ticks of the ksoftirqd threads: on a busy machine the kernel hands
 * softirq work (loopback packets, and the BPF programs they fire) to them,
 * and it is charged to nobody else. */
uint64_t ksoftirqd_ticks(void);

/* Ticks every CPU spent busy (user, nice, system, irq, softirq, steal) and
 * in all, from /proc/stat. Sampled at each tick: exact enough for busy
 * processes, blind to short bursts that happen between ticks. */
int machine_ticks(uint64_t *ret_busy, uint64_t *ret_total);
