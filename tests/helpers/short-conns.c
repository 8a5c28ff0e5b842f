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
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load-util.h"

#define MAX_COUNT 1000000
#define MAX_BYTES (1 << 20)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

/* error: an errno value. */
static void die(int error, const char *what, const char *arg)
{
        fprintf(stderr, "short-conns: %s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(error));
        exit(1);
}

static void usage(void)
{
        fprintf(stderr, "usage: short-conns --listen ADDR:PORT | --connect ADDR:PORT --count N [options]\n");
        exit(2);
}

static uint64_t now_us(void)
{
        return monotonic_ns() / 1000;
}

/* The bytes of a request or a reply: 'x's, as many as asked. */
static char payload[MAX_BYTES];

static int serve(const struct sockaddr_storage *ss, socklen_t len, long request, long reply, const char *ready)
{
        const char *failed;
        int l = tcp_listen((const struct sockaddr *)ss, len, 0, -1, 4096, &failed), r;

        if (l < 0)
                die(-l, failed, NULL);
        if (ready) {
                r = create_empty_file(ready);
                if (r < 0)
                        die(-r, "open", ready);
        }
        while (!stop) {
                int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        die(errno, "accept", NULL);
                }
                /* A client that misbehaves only loses its own connection. */
                if (read_drop(fd, request, NULL, 0) == request)
                        write_all(fd, payload, (size_t)reply);
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
        const struct tcp_request rq = { .to = (const struct sockaddr *)ss, .to_len = len, .data = payload,
                                        .len = (size_t)request };

        if (!lives)
                die(errno, "calloc", NULL);
        for (long i = 0; i < count && !stop; i++) {
                const char *step;
                uint64_t born;
                long r;

                if (now_us() > deadline) {
                        fprintf(stderr, "short-conns: timed out after %ld connections\n", i);
                        break;
                }
                sleep_until_ns((start + (uint64_t)i * interval) * 1000);
                born = now_us();
                r = tcp_request(&rq, &step);
                if (r < 0 && strcmp(step, "socket") == 0)
                        die((int)-r, "socket", NULL);
                if (r < 0) {
                        if (strcmp(step, "exchange") == 0 || !(expect_refused && r == -ECONNREFUSED))
                                fprintf(stderr, "short-conns: %s: %s\n", step, strerror((int)-r));
                        failed++;
                        continue;
                }
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

        memset(payload, 'x', (size_t)(request > reply ? request : reply));
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
