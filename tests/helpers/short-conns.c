/* short-conns: many short TCP connections at a steady rate, for the eBPF
 * end-to-end tests. Bounded in count and in time.
 *
 *   short-conns [--name NAME] --listen ADDR:PORT [--reply BYTES] [--ready FILE]
 *       Serves until SIGTERM/SIGINT: accept, read until the request is
 *       complete (--request BYTES, default 100), write BYTES (default 50),
 *       close. One connection at a time.
 *
 *   short-conns [--name NAME] --connect ADDR:PORT --count N [--over SECONDS]
 *               [--request BYTES] [--expect ok|refused] [--timeout SECONDS]
 *       Opens N connections spread evenly over SECONDS (default 1), one at
 *       a time: connect, send the request, read the reply until EOF, close.
 *       With --expect refused every connect must be refused instead.
 *       Prints "ok N failed M max_lifetime_us U median_lifetime_us D" and
 *       exits 0 when every
 *       connection went as expected within --timeout (default 60 s).
 *
 * ADDR:PORT is 1.2.3.4:80 or [::1]:80. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 1000000
#define MAX_BYTES (1 << 20)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static void die(const char *what, const char *arg)
{
        fprintf(stderr, "short-conns: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
        exit(1);
}

static void usage(void)
{
        fprintf(stderr, "usage: short-conns --listen ADDR:PORT | --connect ADDR:PORT --count N [options]\n");
        exit(2);
}

static socklen_t parse_sockaddr(const char *s, struct sockaddr_storage *ss)
{
        char buf[256], *port, *host = buf;

        if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
                return 0;
        port = strrchr(buf, ':');
        if (!port)
                return 0;
        *port++ = 0;
        memset(ss, 0, sizeof(*ss));
        if (host[0] == '[') {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
                size_t n = strlen(host);

                if (n < 2 || host[n - 1] != ']')
                        return 0;
                host[n - 1] = 0;
                sin6->sin6_family = AF_INET6;
                sin6->sin6_port = htons((uint16_t)atoi(port));
                return inet_pton(AF_INET6, host + 1, &sin6->sin6_addr) == 1 ? sizeof(*sin6) : 0;
        }
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)atoi(port));
        return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? sizeof(*sin) : 0;
}

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void sleep_until_us(uint64_t when)
{
        uint64_t now = now_us();

        if (when > now) {
                struct timespec ts = { .tv_sec = (time_t)((when - now) / 1000000),
                                       .tv_nsec = (long)((when - now) % 1000000) * 1000 };
                nanosleep(&ts, NULL);
        }
}

/* Reads exactly n bytes, or until EOF when n < 0. Returns bytes read, -1 on error. */
static long read_bytes(int fd, long n)
{
        static char buf[65536];
        long total = 0;

        while (n < 0 || total < n) {
                size_t want = n < 0 || n - total > (long)sizeof(buf) ? sizeof(buf) : (size_t)(n - total);
                ssize_t k = read(fd, buf, want);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -1;
                if (k == 0)
                        break;
                total += k;
        }
        return total;
}

static int write_bytes(int fd, long n)
{
        static char buf[65536];

        memset(buf, 'x', sizeof(buf));
        while (n > 0) {
                ssize_t k = write(fd, buf, n > (long)sizeof(buf) ? sizeof(buf) : (size_t)n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -1;
                n -= k;
        }
        return 0;
}

static int serve(const struct sockaddr_storage *ss, socklen_t len, long request, long reply, const char *ready)
{
        int one = 1, l;

        l = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0)
                die("socket", NULL);
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(l, (const struct sockaddr *)ss, len) < 0)
                die("bind", NULL);
        if (listen(l, 4096) < 0)
                die("listen", NULL);
        if (ready) {
                int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        die("open", ready);
                close(fd);
        }
        while (!stop) {
                int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        die("accept", NULL);
                }
                /* A client that misbehaves only loses its own connection. */
                if (read_bytes(fd, request) == request)
                        write_bytes(fd, reply);
                close(fd);
        }
        close(l);
        return 0;
}

static int compare_u32(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

        return x < y ? -1 : x > y;
}

static int run_clients(const struct sockaddr_storage *ss, socklen_t len, long count, double over_s, long request,
                       bool expect_refused, double timeout_s)
{
        uint64_t start = now_us(), deadline = start + (uint64_t)(timeout_s * 1e6), max_life = 0;
        uint64_t interval = count > 1 ? (uint64_t)(over_s * 1e6) / (uint64_t)count : 0;
        long ok = 0, failed = 0;
        uint32_t *lives = calloc((size_t)count, sizeof(*lives)); /* of the connections that went well */

        if (!lives)
                die("calloc", NULL);
        for (long i = 0; i < count && !stop; i++) {
                uint64_t born;
                int fd, r;

                if (now_us() > deadline) {
                        fprintf(stderr, "short-conns: timed out after %ld connections\n", i);
                        break;
                }
                sleep_until_us(start + (uint64_t)i * interval);
                born = now_us();
                fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        die("socket", NULL);
                do
                        r = connect(fd, (const struct sockaddr *)ss, len);
                while (r < 0 && errno == EINTR);
                if (r < 0) {
                        if (!(expect_refused && errno == ECONNREFUSED))
                                fprintf(stderr, "short-conns: connect: %s\n", strerror(errno));
                        failed++;
                        close(fd);
                        continue;
                }
                if (write_bytes(fd, request) < 0 || read_bytes(fd, -1) < 0) {
                        fprintf(stderr, "short-conns: exchange: %s\n", strerror(errno));
                        failed++;
                        close(fd);
                        continue;
                }
                close(fd);
                uint64_t life = now_us() - born;
                lives[ok++] = life > UINT32_MAX ? UINT32_MAX : (uint32_t)life;
                if (life > max_life)
                        max_life = life;
        }
        qsort(lives, (size_t)ok, sizeof(*lives), compare_u32);
        printf("ok %ld failed %ld max_lifetime_us %llu median_lifetime_us %u\n", ok, failed,
               (unsigned long long)max_life, ok ? lives[ok / 2] : 0);
        free(lives);
        fflush(stdout);
        if (expect_refused)
                return failed == count ? 0 : 1;
        return ok == count ? 0 : 1;
}

int main(int argc, char **argv)
{
        const char *listen_at = NULL, *connect_to = NULL, *ready = NULL;
        long count = -1, request = 100, reply = 50;
        double over_s = 1, timeout_s = 60;
        bool expect_refused = false;
        struct sockaddr_storage ss;
        struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: accept() returns EINTR */
        socklen_t len;

        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

                if (!value)
                        usage();
                i++;
                if (strcmp(arg, "--name") == 0)
                        prctl(PR_SET_NAME, value);
                else if (strcmp(arg, "--listen") == 0)
                        listen_at = value;
                else if (strcmp(arg, "--connect") == 0)
                        connect_to = value;
                else if (strcmp(arg, "--ready") == 0)
                        ready = value;
                else if (strcmp(arg, "--count") == 0)
                        count = atol(value);
                else if (strcmp(arg, "--over") == 0)
                        over_s = atof(value);
                else if (strcmp(arg, "--timeout") == 0)
                        timeout_s = atof(value);
                else if (strcmp(arg, "--request") == 0)
                        request = atol(value);
                else if (strcmp(arg, "--reply") == 0)
                        reply = atol(value);
                else if (strcmp(arg, "--expect") == 0 && strcmp(value, "ok") == 0)
                        expect_refused = false;
                else if (strcmp(arg, "--expect") == 0 && strcmp(value, "refused") == 0)
                        expect_refused = true;
                else
                        usage();
        }
        if (!listen_at == !connect_to || request < 0 || request > MAX_BYTES || reply < 0 || reply > MAX_BYTES ||
            over_s < 0 || over_s > 3600 || timeout_s <= 0 || timeout_s > 3600)
                usage();

        if (listen_at) {
                len = parse_sockaddr(listen_at, &ss);
                if (!len)
                        usage();
                return serve(&ss, len, request, reply, ready);
        }
        if (count < 0 || count > MAX_COUNT)
                usage();
        len = parse_sockaddr(connect_to, &ss);
        if (!len)
                usage();
        return run_clients(&ss, len, count, over_s, request, expect_refused, timeout_s);
}
