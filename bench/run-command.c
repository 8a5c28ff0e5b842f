#include "run-command.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "shared/cleanup.h"

#define MIGRATE_TIMEOUT_S 60

int run_command(const char *const *argv, int out_fd, unsigned timeout_s, const volatile sig_atomic_t *interrupted,
                struct command_result *ret)
{
        double start = monotonic_s();
        struct rusage ru;
        int status, r;
        pid_t pid;

        r = spawn(argv, out_fd, -1, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start %s: %m", argv[0]);
        r = reap(pid, start + timeout_s, interrupted, &status, &ru);
        if (r == -ETIMEDOUT)
                return bench_error(r, "%s took longer than %u s", argv[0], timeout_s);
        if (r < 0)
                return r;
        if (!exited_ok(status))
                return bench_error(-EPROTO, "%s %s failed (%s %d)", argv[0], argv[1] ? argv[1] : "",
                                   WIFEXITED(status) ? "exit status" : "signal",
                                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        if (ret)
                *ret = (struct command_result){ .seconds = monotonic_s() - start,
                                                .cpu_s = cpu_seconds(&ru),
                                                .maxrss_kib = ru.ru_maxrss };
        return 0;
}

int command_output_contains(const char *const *argv, const char *needle, unsigned timeout_s,
                            const volatile sig_atomic_t *interrupted, bool *ret)
{
        _cleanup_close_ int fd = memfd_create("command-output", MFD_CLOEXEC);
        char text[16384];
        ssize_t n;
        int r;

        if (fd < 0)
                return bench_error(-errno, "memfd_create failed: %m");
        r = run_command(argv, fd, timeout_s, interrupted, NULL);
        if (r < 0)
                return r;
        n = pread(fd, text, sizeof(text) - 1, 0);
        if (n < 0)
                return -errno;
        text[n] = 0;
        *ret = strstr(text, needle) != NULL;
        return 0;
}

int agent_files_make(const char *netdep, const char *dir, const char *name, const volatile sig_atomic_t *interrupted,
                     struct agent_files *ret)
{
        const char *migrate[] = { netdep, "db", "migrate", "--store", ret->uri, NULL };
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), log_fd = -EBADF;
        int r;

        snprintf(ret->uri, sizeof(ret->uri), "sqlite:%s/%s.db", dir, name);
        snprintf(ret->log_path, sizeof(ret->log_path), "%s/%s.log", dir, name);
        if (devnull < 0)
                return -errno;
        log_fd = open(ret->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (log_fd < 0)
                return bench_error(-errno, "Failed to create %s: %m", ret->log_path);
        r = run_command(migrate, devnull, MIGRATE_TIMEOUT_S, interrupted, NULL);
        if (r < 0)
                return r;
        return TAKE_FD(log_fd);
}
