#include "hold.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"
#include "load-util.h"
#include "shared/cleanup.h"

#define BASE_PORT 5000 /* below the widened ephemeral range */
#define EPHEMERAL_PORTS "10000 65535"
#define CONNECT_TIMEOUT_S 5

struct hold_layout hold_layout_for(uint32_t connections)
{
        struct hold_layout l = {
                .connections = connections,
                .per_side = (connections + HOLD_CONNECTIONS_PER_PROCESS - 1) / HOLD_CONNECTIONS_PER_PROCESS,
        };

        if (l.per_side < HOLD_MIN_PROCESSES_PER_SIDE)
                l.per_side = HOLD_MIN_PROCESSES_PER_SIDE;
        return l;
}

static int write_file(const char *path, const char *value)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(value);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = write(fd, value, len);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EIO;
}

static int loopback_up(void)
{
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {};

        if (fd < 0)
                return -errno;
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return -errno;
        return 0;
}

/* A fresh namespace per size: the previous size's sockets go with the old
 * one, and the host's never show up in a count. These sysctls are per
 * namespace. */
int hold_enter_fresh_netns(void)
{
        static const struct {
                const char *path, *value;
        } sysctls[] = {
                { "/proc/sys/net/ipv4/ip_local_port_range", EPHEMERAL_PORTS },
                { "/proc/sys/net/core/somaxconn", "65535" },
                { "/proc/sys/net/ipv4/tcp_max_syn_backlog", "65535" },
        };
        int r;

        if (unshare(CLONE_NEWNET) < 0)
                return bench_error(-errno, "Failed to create a network namespace: %m (run as root)");
        r = loopback_up();
        if (r < 0)
                return bench_error(r, "Failed to bring lo up: %m");
        for (size_t i = 0; i < ELEMENTSOF(sysctls); i++) {
                r = write_file(sysctls[i].path, sysctls[i].value);
                if (r < 0)
                        return bench_error(r, "Failed to write %s: %m", sysctls[i].path);
        }
        return 0;
}

enum holder_event {
        HOLDER_LISTENING,
        HOLDER_DONE,
        HOLDER_FAILED,
};

/* Sent whole over a pipe: smaller than PIPE_BUF, so writes never interleave. */
struct holder_report {
        uint32_t index;
        uint32_t event;
        int32_t error;
        uint32_t count;
};

static uint32_t layout_share(const struct hold_layout *l, uint32_t i)
{
        return l->connections / l->per_side + (i < l->connections % l->per_side ? 1 : 0);
}

static uint16_t server_port(uint32_t server, uint32_t j)
{
        return (uint16_t)(BASE_PORT + server * HOLD_PORTS_PER_SERVER + j);
}

static void report(int fd, uint32_t index, enum holder_event event, int error, uint32_t count)
{
        struct holder_report m = { index, event, error, count };

        (void)!write(fd, &m, sizeof(m));
}

/* Listens and accepts until killed, keeping every accepted fd open: holding
 * them is the point. Returns only on failure. */
static int serve(uint32_t index, uint32_t expected, int report_fd)
{
        struct pollfd listeners[HOLD_PORTS_PER_SERVER];
        uint32_t accepted = 0;

        for (uint32_t j = 0; j < HOLD_PORTS_PER_SERVER; j++) {
                int fd = loopback_listen(server_port(index, j), SOCK_NONBLOCK);

                if (fd < 0)
                        return fd;
                listeners[j] = (struct pollfd){ .fd = fd, .events = POLLIN };
        }
        report(report_fd, index, HOLDER_LISTENING, 0, 0);

        /* Bounded in time by the alarm set in holder_main(). */
        for (;;) {
                if (poll(listeners, HOLD_PORTS_PER_SERVER, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (uint32_t j = 0; j < HOLD_PORTS_PER_SERVER; j++) {
                        /* Closing with RST leaves no TIME_WAIT behind when the holders are
                         * killed. Ends at EAGAIN, or at EMFILE after at most RLIMIT_NOFILE. */
                        long n = accept_pending(listeners[j].fd, true);

                        if (n < 0)
                                return (int)n;
                        if (accepted < expected && accepted + (uint64_t)n >= expected)
                                report(report_fd, index, HOLDER_DONE, 0, expected);
                        accepted += (uint32_t)n;
                }
        }
}

/* Opens count connections to server index's ports, rotating over the source
 * addresses, then holds them until killed. Returns only on failure. */
static int connect_all(uint32_t index, uint32_t count, double deadline, int report_fd)
{
        struct timeval connect_timeout = { .tv_sec = CONNECT_TIMEOUT_S };
        int r;

        for (uint32_t k = 0; k < count; k++) {
                struct sockaddr_in dst = {
                        .sin_family = AF_INET,
                        .sin_port = htons(server_port(index, (k / LOOPBACK_SOURCES) % HOLD_PORTS_PER_SERVER)),
                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                };
                int fd;

                if (k % 256 == 0 && monotonic_s() > deadline)
                        return -ETIMEDOUT;
                fd = loopback_socket(k);
                if (fd < 0)
                        return fd;
                /* SO_SNDTIMEO bounds a blocking connect(). */
                if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &connect_timeout, sizeof(connect_timeout)) < 0)
                        return -errno;
                r = tcp_reset_on_close(fd);
                if (r < 0)
                        return r;
                r = tcp_connect(fd, (struct sockaddr *)&dst, sizeof(dst));
                if (r < 0)
                        return r == -EINPROGRESS ? -ETIMEDOUT : r;
        }
        report(report_fd, index, HOLDER_DONE, 0, count);

        /* Bounded in time by the alarm set in holder_main(). */
        for (;;)
                pause();
}

static _Noreturn void holder_main(const struct hold *h, bool server, uint32_t index, uint32_t share,
                                  unsigned lifetime_s, double deadline)
{
        int r;

        /* Dies with the bench however it ends (fork_child()), and on its own after lifetime_s. */
        alarm(lifetime_s);
        prctl(PR_SET_NAME, server ? "bench-server" : "bench-client");
        close(h->report_read);

        if (raise_fd_limit() < (rlim_t)share + 64)
                r = -EMFILE;
        else if (server)
                r = serve(index, share, h->report_write);
        else
                r = connect_all(index, share, deadline, h->report_write);
        report(h->report_write, index, HOLDER_FAILED, r, 0);
        _exit(EXIT_FAILURE);
}

static int spawn_holder(struct hold *h, bool server, uint32_t index, uint32_t share,
                        unsigned lifetime_s, double deadline)
{
        pid_t pid;

        if (h->n == ELEMENTSOF(h->pids))
                return -E2BIG;
        pid = fork_child();
        if (pid < 0)
                return pid;
        if (pid == 0)
                holder_main(h, server, index, share, lifetime_s, deadline);
        h->pids[h->n++] = pid;
        return 0;
}

/* Waits until want holders have reported event. */
static int wait_for_holders(struct hold *h, enum holder_event event, uint32_t want, double deadline,
                            const volatile sig_atomic_t *interrupted)
{
        uint32_t seen = 0;

        while (seen < want) {
                struct pollfd p = { .fd = h->report_read, .events = POLLIN };
                struct holder_report m;
                double left = deadline - monotonic_s();
                ssize_t n;
                pid_t pid;
                int status;

                if (interrupted && *interrupted)
                        return -EINTR;
                if (left <= 0)
                        return bench_error(-ETIMEDOUT, "Only %u of %u holder processes were ready in time",
                                          seen, want);
                pid = waitpid(-1, &status, WNOHANG);
                if (pid > 0) {
                        for (size_t i = 0; i < h->n; i++)
                                if (h->pids[i] == pid)
                                        h->pids[i] = 0;
                        return bench_error(-ECHILD, "Holder process %d exited early (status 0x%x)",
                                          (int)pid, (unsigned)status);
                }
                if (poll(&p, 1, left > 0.25 ? 250 : (int)(left * 1000) + 1) <= 0)
                        continue; /* timeout, or EINTR: both checked above */
                n = read(h->report_read, &m, sizeof(m));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(m))
                        return bench_error(n < 0 ? -errno : -EIO, "Failed to read a holder's report: %m");
                if (m.event == HOLDER_FAILED)
                        return bench_error(m.error, "Holder process %u failed: %m", m.index);
                if (m.event == event)
                        seen++;
        }
        return 0;
}

void hold_stop(struct hold *h)
{
        kill_and_reap(h->pids, h->n);
        h->n = 0;
        if (h->report_read >= 0)
                close(h->report_read);
        if (h->report_write >= 0)
                close(h->report_write);
        h->report_read = h->report_write = -EBADF;
}

int hold_start(struct hold *h, const struct hold_layout *l, const struct hold_options *o)
{
        double deadline = monotonic_s() + o->setup_timeout_s;
        int fds[2];
        int r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        h->report_read = fds[0];
        h->report_write = fds[1];

        for (uint32_t i = 0; i < l->per_side; i++) {
                r = spawn_holder(h, true, i, layout_share(l, i), o->lifetime_s, deadline);
                if (r < 0)
                        return bench_error(r, "Failed to start a server process: %m");
        }
        r = wait_for_holders(h, HOLDER_LISTENING, l->per_side, deadline, o->interrupted);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < l->per_side; i++) {
                r = spawn_holder(h, false, i, layout_share(l, i), o->lifetime_s, deadline);
                if (r < 0)
                        return bench_error(r, "Failed to start a client process: %m");
        }
        return wait_for_holders(h, HOLDER_DONE, 2 * l->per_side, deadline, o->interrupted);
}

