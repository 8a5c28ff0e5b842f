#include "load-util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

socklen_t parse_sockaddr(const char *s, struct sockaddr_storage *ret)
{
        char buf[256], *port, *host = buf;
        bool v6;

        if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
                return 0;
        port = strrchr(buf, ':');
        if (!port)
                return 0;
        *port++ = 0;
        v6 = strchr(host, ':');
        if (host[0] == '[') {
                size_t n = strlen(host);

                if (n < 2 || host[n - 1] != ']')
                        return 0;
                host[n - 1] = 0;
                host++;
                v6 = true;
        }
        memset(ret, 0, sizeof(*ret));
        if (v6) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;

                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t)atoi(port));
                return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? sizeof(*sin6) : 0;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *)ret;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)atoi(port));
        return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? sizeof(*sin) : 0;
}

/* Closes fd and returns -error, naming the call that failed. */
static int fail(int fd, int error, const char *call, const char **ret_failed)
{
        if (fd >= 0)
                close(fd);
        if (ret_failed)
                *ret_failed = call;
        return -error;
}

int tcp_listen(const struct sockaddr *addr, socklen_t len, int flags, int v6only, int backlog,
               const char **ret_failed)
{
        int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | flags, 0), one = 1;

        if (fd < 0)
                return fail(fd, errno, "socket", ret_failed);
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            (addr->sa_family == AF_INET6 && v6only >= 0 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0))
                return fail(fd, errno, "setsockopt", ret_failed);
        if (bind(fd, addr, len) < 0)
                return fail(fd, errno, "bind", ret_failed);
        if (listen(fd, backlog) < 0)
                return fail(fd, errno, "listen", ret_failed);
        return fd;
}

int tcp_socket(int family, const struct sockaddr *src, socklen_t src_len, const char **ret_failed)
{
        int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

        if (fd < 0)
                return fail(fd, errno, "socket", ret_failed);
        if (!src)
                return fd;
        if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) < 0)
                return fail(fd, errno, "setsockopt", ret_failed);
        if (bind(fd, src, src_len) < 0)
                return fail(fd, errno, "bind", ret_failed);
        return fd;
}

int tcp_connect(int fd, const struct sockaddr *to, socklen_t len)
{
        int r;

        do
                r = connect(fd, to, len);
        while (r < 0 && errno == EINTR);
        return r < 0 ? -errno : 0;
}

int tcp_reset_on_close(int fd)
{
        static const struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };

        return setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close)) < 0 ? -errno : 0;
}

long accept_pending(int listen_fd, bool reset)
{
        long n = 0;
        int r;

        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

                if (fd < 0) {
                        if (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR)
                                return n;
                        return -errno;
                }
                n++;
                if (reset) {
                        r = tcp_reset_on_close(fd);
                        if (r < 0)
                                return r;
                }
        }
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t k = write(fd, p, len);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                p += k;
                len -= (size_t)k;
        }
        return 0;
}

long read_drop(int fd, long limit, const void *expect, size_t expect_len)
{
        char buf[65536];
        long total = 0;

        while (limit < 0 || total < limit) {
                size_t want = limit < 0 || limit - total > (long)sizeof(buf) ? sizeof(buf) : (size_t)(limit - total);
                ssize_t k = read(fd, buf, want);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                if (expect && (size_t)total < expect_len) {
                        size_t left = expect_len - (size_t)total, m = (size_t)k < left ? (size_t)k : left;

                        if (memcmp(buf, (const char *)expect + total, m) != 0)
                                return -EBADMSG;
                }
                total += k;
        }
        return expect && (size_t)total < expect_len ? -EBADMSG : total;
}

long tcp_request(const struct tcp_request *rq, const char **ret_failed)
{
        int fd = tcp_socket(rq->to->sa_family, NULL, 0, ret_failed);
        long r;

        if (fd < 0)
                return fd;
        r = tcp_connect(fd, rq->to, rq->to_len);
        if (r < 0)
                return fail(fd, (int)-r, "connect", ret_failed);
        r = write_all(fd, rq->data, rq->len);
        if (r == 0)
                r = read_drop(fd, -1, rq->expect, rq->expect_len);
        if (r < 0)
                return fail(fd, (int)-r, "exchange", ret_failed);
        close(fd);
        return r;
}

rlim_t raise_fd_limit(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return 0;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }
        return getrlimit(RLIMIT_NOFILE, &rl) < 0 ? 0 : rl.rlim_cur;
}

int create_empty_file(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0)
                return -errno;
        close(fd);
        return 0;
}

uint64_t monotonic_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int sleep_until_ns(uint64_t when)
{
        struct timespec ts = { .tv_sec = (time_t)(when / 1000000000u), .tv_nsec = (long)(when % 1000000000u) };

        if (monotonic_ns() >= when)
                return 0;
        return -clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}
