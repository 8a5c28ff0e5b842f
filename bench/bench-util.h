/* What every benchmark needs: errors, clocks, children started and reaped
 * with a deadline, their CPU and memory read from /proc and wait4().
 *
 * A benchmark stops when its signal handler sets a flag; the waits here
 * take a pointer to that flag (NULL: never interrupted) and give up with
 * -EINTR once it is set. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
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

/* netdep agent's --mode values. */
#define AGENT_MODES_MAX 3

/* Parses a comma-separated list of agent modes (polling, streaming,
 * hybrid) into ret[], pointing at static strings, and their count into
 * *ret_n; -EINVAL for an unknown, an empty or a too long list. */
int parse_agent_modes(const char *s, const char *ret[static AGENT_MODES_MAX], size_t *ret_n);

/* Sleeps until the monotonic time `until`; -EINTR once *interrupted is set. */
int sleep_until(double until, const volatile sig_atomic_t *interrupted);

/* utime + stime. */
double cpu_seconds(const struct rusage *ru);

/* fork() for every child of a bench: stdio flushed first; the child dies
 * with the bench (PR_SET_PDEATHSIG) and starts with default dispositions of
 * SIGINT, SIGTERM and SIGHUP (SIGPIPE stays ignored). Returns the child's
 * pid in the parent, 0 in the child, or -errno. */
pid_t fork_child(void);

/* Forks argv (searched on PATH) with stdout on out_fd and stderr on err_fd
 * (both borrowed; -1 keeps the bench's), by fork_child(), SIGPIPE back to
 * its default. */
int spawn(const char *const *argv, int out_fd, int err_fd, pid_t *ret);

/* Waits for pid until deadline (monotonic seconds), then SIGKILLs it; reaps
 * it whatever happens. Returns 0 when it exited in time, -ETIMEDOUT, or
 * -EINTR once *interrupted is set. ret_status and ret_ru may be NULL. */
int reap(pid_t pid, double deadline, const volatile sig_atomic_t *interrupted, int *ret_status,
         struct rusage *ret_ru);

bool exited_ok(int status);

/* SIGKILLs every pids[i] > 0, reaps it and sets it to 0. */
void kill_and_reap(pid_t *pids, size_t n);

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

/* qsort() order of doubles. */
int compare_double(const void *a, const void *b);

/* The median of v[0..n) (sorted in place); 0 when n is 0. */
double median(double *v, size_t n);

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

/* Loopback sockets, for the load generators (call from inside a network
 * namespace of the bench's own, see hold_enter_fresh_netns()): tcp_listen()
 * and tcp_socket() of tests/helpers/load-util.h on the bench's addresses. Clients
 * spread over LOOPBACK_SOURCES source addresses, 127.0.0.2 and on: each
 * has its own ephemeral ports, LOOPBACK_SOURCES times as many tuples. */
#define LOOPBACK_SOURCES 8

/* A TCP socket listening on 127.0.0.1:port with SO_REUSEADDR and the
 * deepest backlog somaxconn allows; flags as socket()'s type (SOCK_CLOEXEC
 * is always set). Returns the fd or -errno. */
int loopback_listen(uint16_t port, int flags);

/* A TCP socket bound to source address k % LOOPBACK_SOURCES, its port
 * left to connect() (IP_BIND_ADDRESS_NO_PORT). Returns the fd or -errno. */
int loopback_socket(uint64_t k);
