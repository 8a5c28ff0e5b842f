/* Running a command under a benchmark: timed from fork to wait4, with its
 * CPU and peak RSS, bounded in time, stopped early when the bench is
 * interrupted. */
#pragma once

#include <limits.h>
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

struct agent_files {
        char uri[PATH_MAX + 16]; /* sqlite:DIR/NAME.db */
        char log_path[PATH_MAX]; /* DIR/NAME.log */
};

/* For a `netdep agent` run: the store DIR/NAME.db, migrated with
 * `netdep db migrate`, and DIR/NAME.log created for its stderr. Returns
 * the log's fd, or -errno (logged). */
int agent_files_make(const char *netdep, const char *dir, const char *name, const volatile sig_atomic_t *interrupted,
                     struct agent_files *ret);

/* The store's file, from its URI. */
static inline const char *agent_files_db(const struct agent_files *f)
{
        return f->uri + sizeof("sqlite:") - 1;
}
