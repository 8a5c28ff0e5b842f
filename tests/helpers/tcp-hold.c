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
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load-util.h"

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

/* error: an errno value. */
static void die(int error, const char *what, const char *arg)
{
        fprintf(stderr, "tcp-hold: %s %s: %s\n", what, arg ? arg : "", strerror(error));
        exit(1);
}

/* "ADDR:PORT:COUNT" -> sockaddr and count. */
static socklen_t parse_connect(const char *s, struct sockaddr_storage *ss, long *ret_count)
{
        char buf[256], *count;

        snprintf(buf, sizeof(buf), "%s", s);
        count = strrchr(buf, ':');
        if (!count)
                return 0;
        *count++ = 0;
        *ret_count = strtol(count, NULL, 10);
        return parse_sockaddr(buf, ss);
}

int main(int argc, char **argv)
{
        struct pollfd listeners[MAX_LISTENERS];
        struct sockaddr_storage binds[MAX_BINDS];
        socklen_t bind_lens[MAX_BINDS];
        int n_listeners = 0, n_binds = 0, bind_next = 0, r;
        const char *ready = NULL, *failed;
        bool v6only = false;

        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGUSR1, on_signal);
        signal(SIGPIPE, SIG_IGN);
        raise_fd_limit();

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
                        bind_lens[n_binds] = parse_sockaddr(spec, &binds[n_binds]);
                        if (!bind_lens[n_binds])
                                die(errno, "bad --bind", argv[i]);
                        n_binds++;
                }
        }

        for (int i = 1; i < argc; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                int fd;

                if (strcmp(argv[i], "--listen") != 0 || i + 1 >= argc)
                        continue;
                len = parse_sockaddr(argv[++i], &ss);
                if (!len)
                        die(errno, "bad --listen", argv[i]);
                fd = tcp_listen((struct sockaddr *)&ss, len, SOCK_NONBLOCK, v6only, 4096, &failed);
                if (fd < 0)
                        die(-fd, failed, strcmp(failed, "socket") == 0 ? NULL : argv[i]);
                if (n_listeners == MAX_LISTENERS)
                        die(errno, "too many listeners", NULL);
                listeners[n_listeners++] = (struct pollfd){ .fd = fd, .events = POLLIN };
        }

        for (int i = 1; i < argc; i++) {
                struct sockaddr_storage ss;
                socklen_t len;
                long count;

                if (strcmp(argv[i], "--connect") != 0 || i + 1 >= argc)
                        continue;
                len = parse_connect(argv[++i], &ss, &count);
                if (!len)
                        die(errno, "bad --connect", argv[i]);
                for (long k = 0; k < count && !stop; k++) {
                        const struct sockaddr *src = NULL;
                        socklen_t src_len = 0;
                        int fd;

                        if (n_binds > 0) {
                                int b = bind_next++ % n_binds;
                                src = (struct sockaddr *)&binds[b];
                                src_len = bind_lens[b];
                        }
                        fd = tcp_socket(ss.ss_family, src, src_len, &failed);
                        if (fd < 0)
                                die(-fd, strcmp(failed, "socket") == 0 ? "socket" : "bind source", NULL);
                        r = tcp_connect(fd, (struct sockaddr *)&ss, len);
                        if (r < 0)
                                die(-r, "connect", argv[i]);
                        /* Our own listeners may be the peers: keep them drained. */
                        for (int l = 0; l < n_listeners; l++)
                                accept_pending(listeners[l].fd, false);
                }
        }

        if (ready) {
                r = create_empty_file(ready);
                if (r < 0)
                        die(-r, "open", ready);
        }

        while (!stop) {
                if (close_listeners && n_listeners > 0) {
                        for (int l = 0; l < n_listeners; l++) {
                                accept_pending(listeners[l].fd, false);
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
                                accept_pending(listeners[l].fd, false);
        }
        return 0;
}
