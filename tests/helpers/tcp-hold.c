/* tcp-hold: a real process that listens, connects, and holds connections
 * open until SIGTERM, for the end-to-end tests and benchmarks.
 *
 *   tcp-hold [--name NAME] [--listen ADDR:PORT]... [--v6only]
 *            [--connect ADDR:PORT:COUNT]... [--bind ADDR]... [--ready FILE]
 *
 * Listeners accept everything that arrives. Connections are opened in
 * order; with several --bind addresses, connections rotate over them as
 * source addresses (IP_BIND_ADDRESS_NO_PORT, so ports are shared per
 * destination). FILE is created once every listener is up and every
 * connection is established. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LISTENERS 64
#define MAX_BINDS 64

static volatile sig_atomic_t stop;

static volatile sig_atomic_t close_listeners;

static void on_signal(int sig)
{
        if (sig == SIGUSR1)
                close_listeners = 1;
        else
                stop = 1;
}

static void die(const char *what, const char *arg)
{
        fprintf(stderr, "tcp-hold: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
        exit(1);
}

/* "1.2.3.4:80", "[::1]:80", "::1:80" -> sockaddr. */
static socklen_t parse_sockaddr(const char *s, struct sockaddr_storage *ss, long *ret_count)
{
        char buf[256], *port, *count = NULL;
        int n_colon = 0;

        snprintf(buf, sizeof(buf), "%s", s);
        if (ret_count) {
                count = strrchr(buf, ':');
                if (!count)
                        return 0;
                *count++ = 0;
                *ret_count = strtol(count, NULL, 10);
        }
        port = strrchr(buf, ':');
        if (!port)
                return 0;
        *port++ = 0;
        for (char *p = buf; *p; p++)
                n_colon += *p == ':';
        char *host = buf;
        if (host[0] == '[') {
                host++;
                host[strlen(host) - 1] = 0;
        }
        memset(ss, 0, sizeof(*ss));
        if (n_colon == 0) {
                struct sockaddr_in *sin = (struct sockaddr_in *)ss;
                sin->sin_family = AF_INET;
                sin->sin_port = htons((uint16_t)atoi(port));
                if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
                        return 0;
                return sizeof(*sin);
        }
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)atoi(port));
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
                return 0;
        return sizeof(*sin6);
}

static int accept_all(int l)
{
        int n = 0;

        for (;;) {
                int fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        return n;
                n++;
        }
}

int main(int argc, char **argv)
{
        struct pollfd listeners[MAX_LISTENERS];
        struct sockaddr_storage binds[MAX_BINDS];
        socklen_t bind_lens[MAX_BINDS];
        int n_listeners = 0, n_binds = 0, bind_next = 0;
        const char *ready = NULL;
        bool v6only = false;
        struct rlimit rl;

        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGUSR1, on_signal);
        signal(SIGPIPE, SIG_IGN);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                setrlimit(RLIMIT_NOFILE, &rl);
        }

        /* First pass: options that shape the others. */
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
                        prctl(PR_SET_NAME, argv[++i]);
                else if (strcmp(argv[i], "--v6only") == 0)
                        v6only = true;
                else if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
                        ready = argv[++i];
                else if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc && n_binds < MAX_BINDS) {
                        char spec[300];
                        snprintf(spec, sizeof(spec), "%s:0", argv[++i]);
                        bind_lens[n_binds] = parse_sockaddr(spec, &binds[n_binds], NULL);
                        if (!bind_lens[n_binds])
                                die("bad --bind", argv[i]);
                        n_binds++;
                }
        }

        for (int i = 1; i < argc; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                int one = 1, fd;

                if (strcmp(argv[i], "--listen") != 0 || i + 1 >= argc)
                        continue;
                len = parse_sockaddr(argv[++i], &ss, NULL);
                if (!len)
                        die("bad --listen", argv[i]);
                fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0)
                        die("socket", NULL);
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (ss.ss_family == AF_INET6) {
                        int v = v6only;
                        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof(v));
                }
                if (bind(fd, (struct sockaddr *)&ss, len) < 0)
                        die("bind", argv[i]);
                if (listen(fd, 4096) < 0)
                        die("listen", argv[i]);
                if (n_listeners == MAX_LISTENERS)
                        die("too many listeners", NULL);
                listeners[n_listeners++] = (struct pollfd){ .fd = fd, .events = POLLIN };
        }

        for (int i = 1; i < argc; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                long count;

                if (strcmp(argv[i], "--connect") != 0 || i + 1 >= argc)
                        continue;
                len = parse_sockaddr(argv[++i], &ss, &count);
                if (!len)
                        die("bad --connect", argv[i]);
                for (long k = 0; k < count && !stop; k++) {
                        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                        if (fd < 0)
                                die("socket", NULL);
                        if (n_binds > 0) {
                                int one = 1;
                                int b = bind_next++ % n_binds;
                                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
                                if (bind(fd, (struct sockaddr *)&binds[b], bind_lens[b]) < 0)
                                        die("bind source", NULL);
                        }
                        while (connect(fd, (struct sockaddr *)&ss, len) < 0) {
                                if (errno != EINTR)
                                        die("connect", argv[i]);
                        }
                        /* Our own listeners may be the peers: keep them drained. */
                        for (int l = 0; l < n_listeners; l++)
                                accept_all(listeners[l].fd);
                }
        }

        if (ready) {
                int fd = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0)
                        die("open", ready);
                close(fd);
        }

        while (!stop) {
                if (close_listeners && n_listeners > 0) {
                        for (int l = 0; l < n_listeners; l++) {
                                accept_all(listeners[l].fd);
                                close(listeners[l].fd);
                        }
                        n_listeners = 0;
                }
                if (n_listeners == 0) {
                        pause();
                        continue;
                }
                if (poll(listeners, (nfds_t)n_listeners, 1000) <= 0)
                        continue;
                for (int l = 0; l < n_listeners; l++)
                        if (listeners[l].revents & POLLIN)
                                accept_all(listeners[l].fd);
        }
        return 0;
}
