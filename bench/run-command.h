/* Running a command under a benchmark: timed from fork to wait4, with its
 * CPU and peak RSS, bounded in time, stopped early when the bench is
 * interrupted. */
#pragma once

#include <signal.h>
#include <stdbool.h>

struct command_result {
        double seconds;
        double cpu_s; /* utime + stime */
        long maxrss_kib;
};

/* Runs argv with stdout on out_fd (borrowed). Returns 0, -ETIMEDOUT after
 * timeout_s (the command is killed), -EINTR once *interrupted is set,
 * -EPROTO when it fails; logs why. ret may be NULL. */
int run_command(const char *const *argv, int out_fd, unsigned timeout_s, const volatile sig_atomic_t *interrupted,
                struct command_result *ret);

/* Runs argv as run_command() does and tells whether its standard output
 * contains needle. */
int command_output_contains(const char *const *argv, const char *needle, unsigned timeout_s,
                            const volatile sig_atomic_t *interrupted, bool *ret);
