#include "conn-load.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "collect/sockdiag.h"
#include "load-util.h"
#include "shared/cleanup.h"

#define START_DELAY_S 0.05 /* from the first fork to the common start: every client is up by then */
#define GRACE_S 10.0 /* past max_s, a client that has not exited is killed */

struct client_report {
        uint64_t made, failed;
        int first_error;
        bool timed_out;
        double end; /* monotonic seconds */
};

struct conn_load_shared {
        /* One cache line per server: no two processes write the same line. */
        struct {
                uint64_t n;
                char pad[56];
        } accepted[CONN_LOAD_MAX_PROCESSES];
        struct client_report clients[CONN_LOAD_MAX_PROCESSES];
};

/* Until monotonic_s() reaches when, signals or not. */
static void sleep_until_s(double when)
{
        while (sleep_until_ns((uint64_t)(when * 1e9)) == -EINTR)
                ;
}

static _Noreturn void serve(int listen_fd, uint64_t *accepted)
{
        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        _exit(1);
                }
                close(fd);
                __atomic_add_fetch(accepted, 1, __ATOMIC_RELAXED);
        }
}

int conn_load_open(struct conn_load *l, uint16_t port, unsigned n_servers)
{
        if (n_servers < 1 || n_servers > CONN_LOAD_MAX_PROCESSES)
                return bench_error(-EINVAL, "1 to %d server processes, not %u", CONN_LOAD_MAX_PROCESSES, n_servers);
        l->shared = mmap(NULL, sizeof(*l->shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (l->shared == MAP_FAILED) {
                l->shared = NULL;
                return bench_error(-errno, "Failed to map the shared counters: %m");
        }
        l->port = port;
        l->listen_fd = loopback_listen(port, 0);
        if (l->listen_fd < 0)
                return bench_error(l->listen_fd, "Failed to listen on 127.0.0.1:%u: %m", port);

        for (unsigned i = 0; i < n_servers; i++) {
                pid_t pid = fork_child();

                if (pid < 0)
                        return bench_error(pid, "Failed to start a server process: %m");
                if (pid == 0) {
                        prctl(PR_SET_NAME, "conn-server");
                        serve(l->listen_fd, &l->shared->accepted[i].n);
                }
                l->servers[l->n_servers++] = pid;
        }
        return 0;
}

static int connect_once(const struct conn_load *l, const struct conn_load_spec *spec, uint64_t i)
{
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(l->port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        _cleanup_close_ int fd = loopback_socket(i);
        int r;

        if (fd < 0)
                return fd;
        if (spec->reset) {
                r = tcp_reset_on_close(fd);
                if (r < 0)
                        return r;
        }
        return tcp_connect(fd, (struct sockaddr *)&dst, sizeof(dst));
}

/* Client k of spec->clients: connections k, k + K, k + 2K... of the run. */
static _Noreturn void run_client(const struct conn_load *l, const struct conn_load_spec *spec, unsigned k,
                                 double start)
{
        struct client_report *rep = &l->shared->clients[k];
        double deadline = start + spec->max_s;

        prctl(PR_SET_NAME, "conn-client");
        prctl(PR_SET_TIMERSLACK, 1000UL); /* 1 us: the default 50 us would skew the pacing */
        sleep_until_s(start);
        for (uint64_t i = k; i < spec->count; i += spec->clients) {
                double now = monotonic_s();
                int r;

                if (now > deadline) {
                        rep->timed_out = true;
                        break;
                }
                if (spec->rate > 0 && now < start + (double)i / spec->rate)
                        sleep_until_s(start + (double)i / spec->rate);
                r = connect_once(l, spec, i);
                if (r < 0) {
                        if (rep->failed++ == 0)
                                rep->first_error = -r;
                } else
                        rep->made++;
        }
        rep->end = monotonic_s();
        _exit(0);
}

static void close_pidfds(int *pidfds, unsigned n)
{
        for (unsigned k = 0; k < n; k++) {
                if (pidfds[k] >= 0)
                        close(pidfds[k]);
                pidfds[k] = -1;
        }
}

int conn_load_run(struct conn_load *l, const struct conn_load_spec *spec, int watch_fd, unsigned min_interval_ms,
                  conn_load_ready_fn fn, void *userdata, const volatile sig_atomic_t *interrupted,
                  struct conn_load_result *ret)
{
        unsigned n = spec->clients, running = 0;
        pid_t pids[CONN_LOAD_MAX_PROCESSES] = {};
        int pidfds[CONN_LOAD_MAX_PROCESSES];
        struct conn_load_result res = {};
        double start, hard_deadline, next_call = 0;
        int r = 0;

        if (n < 1 || n > CONN_LOAD_MAX_PROCESSES)
                return bench_error(-EINVAL, "1 to %d client processes, not %u", CONN_LOAD_MAX_PROCESSES, n);
        for (unsigned k = 0; k < n; k++)
                pidfds[k] = -1;
        memset(l->shared->clients, 0, sizeof(l->shared->clients));
        start = monotonic_s() + START_DELAY_S;
        hard_deadline = start + spec->max_s + GRACE_S;

        for (unsigned k = 0; k < n; k++) {
                pid_t pid = fork_child();

                if (pid < 0) {
                        r = bench_error(pid, "Failed to start a client process: %m");
                        break;
                }
                if (pid == 0)
                        run_client(l, spec, k, start);
                pids[k] = pid;
                pidfds[k] = (int)syscall(SYS_pidfd_open, pid, 0);
                if (pidfds[k] < 0) {
                        r = bench_error(-errno, "pidfd_open failed: %m");
                        break;
                }
                running++;
        }

        while (r == 0 && running > 0) {
                struct pollfd p[CONN_LOAD_MAX_PROCESSES + 1];
                double now = monotonic_s(), left = hard_deadline - now, wait = left > 0.2 ? 0.2 : left;
                bool watch = watch_fd >= 0 && fn && now >= next_call;

                if (interrupted && *interrupted) {
                        r = -EINTR;
                        break;
                }
                if (left <= 0) {
                        r = bench_error(-ETIMEDOUT, "A client was still running %.0f s after its time was up",
                                        GRACE_S);
                        break;
                }
                if (watch_fd >= 0 && fn && !watch && next_call - now < wait)
                        wait = next_call - now;
                p[0] = (struct pollfd){ .fd = watch ? watch_fd : -1, .events = POLLIN };
                for (unsigned k = 0; k < n; k++)
                        p[k + 1] = (struct pollfd){ .fd = pidfds[k], .events = POLLIN };
                if (poll(p, n + 1, (int)(wait * 1000) + 1) < 0) {
                        if (errno != EINTR)
                                r = -errno;
                        continue;
                }
                if (watch && (p[0].revents & POLLIN)) {
                        r = fn(userdata);
                        if (r < 0)
                                break;
                        next_call = monotonic_s() + min_interval_ms / 1000.0;
                }
                for (unsigned k = 0; k < n; k++) {
                        struct rusage ru;
                        int status;

                        if (pidfds[k] < 0 || !(p[k + 1].revents & POLLIN))
                                continue;
                        while (wait4(pids[k], &status, 0, &ru) < 0 && errno == EINTR)
                                ;
                        close(pidfds[k]);
                        pidfds[k] = -1;
                        pids[k] = 0;
                        running--;
                        res.cpu_s += cpu_seconds(&ru);
                        if (!exited_ok(status))
                                r = bench_error(-EPROTO, "Client process %u died (status 0x%x)", k, status);
                }
        }
        kill_and_reap(pids, n);
        close_pidfds(pidfds, n);
        if (r < 0)
                return r;

        for (unsigned k = 0; k < n; k++) {
                const struct client_report *c = &l->shared->clients[k];

                res.made += c->made;
                if (c->failed > 0 && res.failed == 0)
                        res.first_error = c->first_error;
                res.failed += c->failed;
                res.timed_out = res.timed_out || c->timed_out;
                if (c->end - start > res.seconds)
                        res.seconds = c->end - start;
        }
        *ret = res;
        return 0;
}

uint64_t conn_load_accepted(const struct conn_load *l)
{
        uint64_t sum = 0;

        for (unsigned i = 0; l->shared && i < l->n_servers; i++)
                sum += __atomic_load_n(&l->shared->accepted[i].n, __ATOMIC_RELAXED);
        return sum;
}

uint64_t conn_load_server_ticks(const struct conn_load *l)
{
        uint64_t sum = 0;

        for (unsigned i = 0; i < l->n_servers; i++) {
                struct proc_sample s;

                if (sample_proc(l->servers[i], &s) == 0)
                        sum += s.cpu_ticks;
        }
        return sum;
}

void conn_load_close(struct conn_load *l)
{
        kill_and_reap(l->servers, l->n_servers);
        l->n_servers = 0;
        if (l->listen_fd >= 0)
                close(l->listen_fd);
        l->listen_fd = -1;
        if (l->shared)
                munmap(l->shared, sizeof(*l->shared));
        l->shared = NULL;
}

static int count_socket(const struct nd_sock *s, void *userdata)
{
        (*(uint64_t *)userdata)++;
        return 0;
}

uint64_t conn_load_wait_closed(double max_s)
{
        const uint32_t closing = ND_TCPF_FLOW_STATES | ND_TCPF(ND_TCP_SYN_SENT) | ND_TCPF(ND_TCP_SYN_RECV);
        _cleanup_(nd_sockdiag_freep) struct nd_sockdiag *sd = NULL;
        double deadline = monotonic_s() + max_s;
        uint64_t n = 0;

        if (nd_sockdiag_open(&sd) < 0)
                return 0;
        for (;;) {
                n = 0;
                if (nd_sockdiag_dump(sd, AF_UNSPEC, closing, false, count_socket, &n) < 0 || n == 0 ||
                    monotonic_s() >= deadline)
                        return n;
                usleep(20 * 1000);
        }
}
