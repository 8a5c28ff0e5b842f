/* See new-conn-client.h. */
#include "new-conn-client.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "shared/cleanup.h"

#define MAX_ERRORS 1000
#define REAP_GRACE_S 30

/* Written by the child, read by the parent once the child is gone. */
struct shared_counts {
        uint64_t counts[LATENCY_HIST_MAX_US + 1];
        uint64_t errors;
        double seconds;
};

static uint64_t now_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One request on a new connection; true when the answer began with expect. */
static bool one_request(const struct sockaddr_in *server, const char *request, size_t request_len, const char *expect,
                        size_t expect_len)
{
        char buf[4096];
        size_t got = 0;
        bool ok = false;
        ssize_t n;
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        if (connect(fd, (const struct sockaddr *)server, sizeof(*server)) < 0 ||
            write(fd, request, request_len) != (ssize_t)request_len)
                goto out;
        /* To the end: the server closes after its answer. */
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
                if (got < expect_len) {
                        size_t k = (size_t)n < expect_len - got ? (size_t)n : expect_len - got;

                        if (memcmp(buf, expect + got, k) != 0)
                                goto out;
                }
                got += (size_t)n;
        }
        ok = n == 0 && got >= expect_len;
out:
        close(fd);
        return ok;
}

static _Noreturn void client_loop(const struct sockaddr_in *server, const char *request, const char *expect,
                                  unsigned duration_s, int cpu, struct shared_counts *out)
{
        size_t request_len = strlen(request), expect_len = strlen(expect);
        uint64_t start = now_ns(), end = start + (uint64_t)duration_s * 1000000000u, t0, t1;

        prctl(PR_SET_NAME, "new-conn-client");
        if (pin_to_cpu(cpu) < 0)
                _exit(1);
        for (t0 = start; t0 < end && out->errors < MAX_ERRORS; t0 = t1) {
                uint64_t us;

                if (!one_request(server, request, request_len, expect, expect_len)) {
                        out->errors++;
                        t1 = now_ns();
                        continue;
                }
                t1 = now_ns();
                us = (t1 - t0 + 500) / 1000;
                out->counts[us < LATENCY_HIST_MAX_US ? us : LATENCY_HIST_MAX_US]++;
        }
        out->seconds = (double)(now_ns() - start) / 1e9;
        _exit(0);
}

int new_conn_client_run(const struct sockaddr_in *server, const char *request, const char *expect, unsigned duration_s,
                        int cpu, const volatile sig_atomic_t *interrupted, struct new_conn_result *ret)
{
        struct shared_counts *shared;
        struct new_conn_result res = {};
        struct rusage ru = {};
        pid_t pid;
        int status = 0, r;

        shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED)
                return bench_error(-errno, "Failed to map the client's counts: %m");
        pid = fork_child();
        if (pid < 0) {
                r = bench_error(pid, "Failed to start the client: %m");
                goto out;
        }
        if (pid == 0)
                client_loop(server, request, expect, duration_s, cpu, shared);
        r = reap(pid, monotonic_s() + duration_s + REAP_GRACE_S, interrupted, &status, &ru);
        if (r < 0)
                goto out;
        if (!exited_ok(status)) {
                r = bench_error(-EPROTO, "The client failed (status 0x%x)", status);
                goto out;
        }
        res.latencies = malloc(sizeof(*res.latencies));
        if (!res.latencies) {
                r = -ENOMEM;
                goto out;
        }
        r = latency_hist_from_counts(shared->counts, res.latencies);
        if (r < 0) {
                free(res.latencies);
                r = bench_error(r, "The client made no request (%llu failed)", (unsigned long long)shared->errors);
                goto out;
        }
        res.requests = res.latencies->total;
        res.errors = shared->errors;
        res.seconds = shared->seconds;
        res.cpu_s = cpu_seconds(&ru);
        *ret = res;
out:
        munmap(shared, sizeof(*shared));
        return r;
}
