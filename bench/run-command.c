#include "run-command.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hold.h"
#include "shared/cleanup.h"

int run_command(const char *prog, const char *const *argv, int out_fd, unsigned timeout_s,
                const volatile sig_atomic_t *interrupted, struct command_result *ret)
{
        _cleanup_close_ int pidfd = -EBADF;
        pid_t parent = getpid();
        double start = monotonic_s(), deadline = start + timeout_s;
        struct rusage ru;
        int status, r = 0;
        pid_t pid;

        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(127);
                signal(SIGPIPE, SIG_DFL);
                if (dup2(out_fd, STDOUT_FILENO) < 0)
                        _exit(127);
                execvp(argv[0], (char *const *)argv);
                fprintf(stderr, "%s: Failed to run %s: %m\n", prog, argv[0]);
                _exit(127);
        }

        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0)
                r = -errno;
        while (r == 0) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                double left = deadline - monotonic_s();

                if (interrupted && *interrupted)
                        r = -EINTR;
                else if (left <= 0)
                        r = -ETIMEDOUT;
                else if (poll(&p, 1, (int)(left * 1000) + 1) > 0)
                        break; /* it exited */
        }
        if (r < 0)
                kill(pid, SIGKILL);
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r == -ETIMEDOUT) {
                fprintf(stderr, "%s: %s took longer than %u s\n", prog, argv[0], timeout_s);
                return r;
        }
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "%s: %s %s failed (%s %d)\n", prog, argv[0], argv[1] ? argv[1] : "",
                        WIFEXITED(status) ? "exit status" : "signal",
                        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
                return -EPROTO;
        }
        *ret = (struct command_result){ .seconds = monotonic_s() - start, .maxrss_kib = ru.ru_maxrss };
        return 0;
}
