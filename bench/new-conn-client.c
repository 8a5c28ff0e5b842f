/* See new-conn-client.h. */
#include "new-conn-client.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "load-util.h"
#include "shared/cleanup.h"

#define MAX_ERRORS 1000
#define REAP_GRACE_S 30

/* Written by the child, read by the parent once the child is gone. */
struct shared_counts {
        uint64_t counts[LATENCY_HIST_MAX_US + 1];
        uint64_t errors;
        double seconds;
};

static _Noreturn void client_loop(const struct sockaddr_in *server, const char *request, const char *expect,
                                  unsigned duration_s, int cpu, struct shared_counts *out)
{
        /* The answer is read until the server closes, which it does after answering. */
        const struct tcp_request rq = { .to = (const struct sockaddr *)server, .to_len = sizeof(*server),
                                        .data = request, .len = strlen(request),
                                        .expect = expect, .expect_len = strlen(expect) };
        uint64_t start = monotonic_ns(), end = start + (uint64_t)duration_s * 1000000000u, t0, t1;

        prctl(PR_SET_NAME, "new-conn-client");
        if (pin_to_cpu(cpu) < 0)
                _exit(1);
        for (t0 = start; t0 < end && out->errors < MAX_ERRORS; t0 = t1) {
                uint64_t us;

                if (tcp_request(&rq, NULL) < 0) {
                        out->errors++;
                        t1 = monotonic_ns();
                        continue;
                }
                t1 = monotonic_ns();
                us = (t1 - t0 + 500) / 1000;
                out->counts[us < LATENCY_HIST_MAX_US ? us : LATENCY_HIST_MAX_US]++;
        }
        out->seconds = (double)(monotonic_ns() - start) / 1e9;
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
