#include "serve/verb_child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What a child inherits from the server's environment, besides the store. */
static const char *const passed_env[] = {
        "PATH", "LANG", "LC_ALL", "TZ", "HOME", "PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT",
        "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS",
};

static int write_all(int fd, const void *buf, size_t size)
{
        const char *p = buf;

        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

/* The first "netdep: error: " line of the child's standard error, or
 * else its first line. */
static void first_error(int fd, char *out, size_t out_size)
{
        char buf[4096];
        ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
        const char *line, *marker = "netdep: error: ";

        out[0] = '\0';
        if (n <= 0)
                return;
        buf[n] = '\0';
        line = strstr(buf, marker);
        line = line ? line + strlen(marker) : buf;
        snprintf(out, out_size, "%.*s", (int)strcspn(line, "\n"), line);
}

static int wait_deadline(pid_t pid, unsigned timeout_ms, int *ret_status)
{
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), status = 0;
        struct timespec start, now;
        bool killed = false;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                long elapsed;
                int r;

                if (pidfd >= 0) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                        if (elapsed >= (long)timeout_ms)
                                break;
                        r = poll(&(struct pollfd){ .fd = pidfd, .events = POLLIN }, 1, (int)(timeout_ms - elapsed));
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r == 0)
                                break;
                        if (waitpid(pid, &status, 0) == pid)
                                goto done;
                } else {
                        /* No pidfd (old kernel): poll the child every 10 ms. */
                        r = waitpid(pid, &status, WNOHANG);
                        if (r == pid)
                                goto done;
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
                        if (elapsed >= (long)timeout_ms)
                                break;
                        nanosleep(&(struct timespec){ 0, 10000000L }, NULL);
                }
        }
        kill(pid, SIGKILL);
        killed = true;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
done:
        if (pidfd >= 0)
                close(pidfd);
        *ret_status = killed ? -ETIMEDOUT : status;
        return 0;
}

int nd_verb_run(char *const *argv, const char *store_uri, const void *input, size_t input_size, unsigned timeout_ms,
                struct nd_verb_result *ret)
{
        int out = -1, err = -1, in = -1, status = 0, r;
        char *env[sizeof(passed_env) / sizeof(passed_env[0]) + 2] = {};
        size_t n_env = 0;
        posix_spawn_file_actions_t actions;
        struct stat st;
        pid_t pid;

        *ret = (struct nd_verb_result){ .exit_status = -1, .out_fd = -1 };
        out = memfd_create("netdep-out", MFD_CLOEXEC);
        err = memfd_create("netdep-err", MFD_CLOEXEC);
        in = memfd_create("netdep-in", MFD_CLOEXEC);
        if (out < 0 || err < 0 || in < 0) {
                r = -errno;
                goto fail;
        }
        if (input_size > 0) {
                r = write_all(in, input, input_size);
                if (r < 0)
                        goto fail;
                lseek(in, 0, SEEK_SET);
        }
        if (asprintf(&env[n_env], "NETDEP_STORE=%s", store_uri) < 0) {
                env[n_env] = NULL;
                r = -ENOMEM;
                goto fail;
        }
        n_env++;
        for (size_t i = 0; i < sizeof(passed_env) / sizeof(passed_env[0]); i++) {
                const char *v = getenv(passed_env[i]);
                if (v && asprintf(&env[n_env], "%s=%s", passed_env[i], v) >= 0)
                        n_env++;
        }

        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
        r = -posix_spawn(&pid, "/proc/self/exe", &actions, NULL, argv, env);
        posix_spawn_file_actions_destroy(&actions);
        if (r < 0)
                goto fail;
        wait_deadline(pid, timeout_ms, &status);

        if (status == -ETIMEDOUT)
                snprintf(ret->error, sizeof(ret->error), "no answer within %u ms: stopped", timeout_ms);
        else if (WIFEXITED(status))
                ret->exit_status = WEXITSTATUS(status);
        else
                snprintf(ret->error, sizeof(ret->error), "the answering process died of signal %d",
                         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        if (ret->exit_status > 0)
                first_error(err, ret->error, sizeof(ret->error));
        if (fstat(out, &st) < 0) {
                r = -errno;
                goto fail;
        }
        lseek(out, 0, SEEK_SET);
        ret->out_fd = out;
        ret->out_size = (size_t)st.st_size;
        out = -1;
        r = 0;
fail:
        for (size_t i = 0; i < n_env; i++)
                free(env[i]);
        if (out >= 0)
                close(out);
        if (err >= 0)
                close(err);
        if (in >= 0)
                close(in);
        return r;
}
