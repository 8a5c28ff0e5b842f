#include "serve-proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent-posts.h"
#include "bench-util.h"
#include "shared/cleanup.h"

#define SERVE_START_S 20
#define SERVE_STOP_S 15

static int run_quiet(const char *const *argv, unsigned timeout_s)
{
        _cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        int status, r;
        pid_t pid;

        if (devnull < 0)
                return -errno;
        r = spawn(argv, devnull, devnull, &pid);
        if (r < 0)
                return bench_error(r, "Failed to start %s: %m", argv[0]);
        r = reap(pid, monotonic_s() + timeout_s, &bench_interrupted, &status, NULL);
        if (r < 0)
                return r;
        return exited_ok(status) ? 0 : bench_error(-EPROTO, "%s %s failed", argv[0], argv[1]);
}

int serve_make_certificate(struct serve_setup *setup)
{
        const char *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                               "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                               "subjectAltName=IP:127.0.0.1", "-keyout", setup->key, "-out", setup->cert, NULL };

        snprintf(setup->cert, sizeof(setup->cert), "%s/cert.pem", setup->dir);
        snprintf(setup->key, sizeof(setup->key), "%s/key.pem", setup->dir);
        return run_quiet(argv, 30);
}

static void print_log_tail(const char *path)
{
        char text[2048];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
        ssize_t n;

        if (size < 0)
                return;
        n = pread(fd, text, sizeof(text) - 1, size > (off_t)sizeof(text) - 1 ? size - (off_t)sizeof(text) + 1 : 0);
        if (n > 0) {
                text[n] = '\0';
                fprintf(stderr, "--- %s:\n%s", path, text);
        }
}

int serve_stop(struct serve_proc *s)
{
        int status, r;

        if (s->pid <= 0)
                return 0;
        kill(s->pid, SIGTERM);
        r = reap(s->pid, monotonic_s() + SERVE_STOP_S, NULL, &status, NULL);
        s->pid = 0;
        if (r == -ETIMEDOUT)
                return bench_error(r, "serve on port %u did not stop within %d s", s->port, SERVE_STOP_S);
        return 0;
}

int serve_start(struct serve_setup *setup, const char *tokens, const char *max_connections, struct serve_proc *ret)
{
        uint16_t port = setup->next_port++;
        char listen[32], pool[16];
        const char *argv[] = { setup->netdep, "serve", "--store", setup->store_uri, "--listen", listen, "--tokens", tokens,
                               "--tls-cert", setup->cert, "--tls-key", setup->key, "--pool", pool, "--max-connections",
                               max_connections, NULL };
        _cleanup_close_ int log_fd = -EBADF;
        struct serve_proc s = { .port = port };
        char ready_url[128];
        double deadline = monotonic_s() + SERVE_START_S;
        long status = 0;
        int r;

        snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
        snprintf(pool, sizeof(pool), "%u", setup->pool);
        snprintf(s.base, sizeof(s.base), "https://127.0.0.1:%u", port);
        snprintf(s.flush_url, sizeof(s.flush_url), "%s/api/v1/flush", s.base);
        snprintf(s.log, sizeof(s.log), "%s/serve-%u.log", setup->dir, port);
        snprintf(ready_url, sizeof(ready_url), "%s/readyz", s.base);
        log_fd = open(s.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0)
                return bench_error(-errno, "Failed to create %s: %m", s.log);
        r = spawn(argv, -1, log_fd, &s.pid);
        if (r < 0)
                return bench_error(r, "Failed to start %s serve: %m", setup->netdep);
        for (;;) {
                if (waitpid(s.pid, NULL, WNOHANG) == s.pid) {
                        print_log_tail(s.log);
                        return bench_error(-ECHILD, "serve on port %u exited at start", port);
                }
                if (http_get_status(ready_url, setup->cert, 1000, &status) >= 0 && status == 200)
                        break;
                if (monotonic_s() > deadline || bench_interrupted) {
                        serve_stop(&s);
                        print_log_tail(s.log);
                        return bench_error(-ETIMEDOUT, "serve on port %u not ready within %d s", port,
                                           SERVE_START_S);
                }
                usleep(50 * 1000);
        }
        *ret = s;
        return 0;
}

uint64_t serves_cpu_ticks(const struct serve_proc *s, size_t n)
{
        uint64_t ticks = 0;

        for (size_t i = 0; i < n; i++) {
                struct proc_sample p;
                if (sample_proc(s[i].pid, &p) >= 0)
                        ticks += p.cpu_ticks;
        }
        return ticks;
}

