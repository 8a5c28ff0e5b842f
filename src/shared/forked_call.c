/* nd_forked_call(): fork, run, pass the result and fds back over a
 * SOCK_SEQPACKET pair (one message: the header, then SCM_RIGHTS). */
#include "shared/forked_call.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/why.h"

#define WHY_MAX 512

struct reply {
        int32_t result;
        char why[WHY_MAX];
};

union fd_control {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * ND_FORKED_CALL_MAX_FDS)];
};

static int send_reply(int sock, const struct reply *reply, const int *fds, size_t n_fds)
{
        union fd_control control = {};
        struct iovec iov = { .iov_base = (void *)reply, .iov_len = sizeof(*reply) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (n_fds > 0) {
                struct cmsghdr *c;

                msg.msg_control = control.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

static _Noreturn void child_main(int sock, nd_forked_fn fn, void *userdata, size_t max_fds)
{
        struct reply reply = {};
        int fds[ND_FORKED_CALL_MAX_FDS];
        size_t n_fds = 0;

        reply.result = fn(userdata, fds, max_fds, &n_fds, reply.why, sizeof(reply.why));
        if (reply.result >= 0 && n_fds > max_fds) {
                reply.result = -ENOBUFS;
                nd_why_set(reply.why, sizeof(reply.why), "the child process made %zu fds, room for %zu", n_fds,
                        max_fds);
        }
        if (reply.result < 0)
                n_fds = 0;
        /* _exit: no atexit handlers, no stdio flush of the parent's buffers. */
        _exit(send_reply(sock, &reply, fds, n_fds) < 0 ? 1 : 0);
}

/* Receives the child's one message; the fds are close-on-exec on arrival. */
static int receive_reply(int sock, struct reply *reply, int *fds, size_t max_fds, size_t *n_fds)
{
        union fd_control control = {};
        struct iovec iov = { .iov_base = reply, .iov_len = sizeof(*reply) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        ssize_t n;

        *n_fds = 0;
        while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0)
                if (errno != EINTR)
                        return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                size_t got;

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                got = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < got; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (*n_fds < max_fds)
                                fds[(*n_fds)++] = fd;
                        else
                                close(fd);
                }
        }
        if (n == 0)
                return -ECHILD; /* the child exited without a word */
        if ((size_t)n != sizeof(*reply) || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
                for (size_t i = 0; i < *n_fds; i++)
                        close(fds[i]);
                *n_fds = 0;
                return -EBADMSG;
        }
        reply->why[sizeof(reply->why) - 1] = 0;
        return 0;
}

static void describe_exit(int status, char *why, size_t why_size)
{
        if (WIFSIGNALED(status))
                nd_why_set(why, why_size, "the child process died of signal %d (%s)", WTERMSIG(status),
                        strsignal(WTERMSIG(status)));
        else
                nd_why_set(why, why_size, "the child process exited with status %d before it reported",
                        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int nd_forked_call(nd_forked_fn fn, void *userdata, int *ret_fds, size_t max_fds, size_t *ret_n_fds, char *why,
                   size_t why_size)
{
        _cleanup_close_ int ours = -EBADF, theirs = -EBADF;
        struct reply reply = {};
        int fds[ND_FORKED_CALL_MAX_FDS], sv[2], status = 0, r;
        size_t n_fds = 0;
        pid_t pid;

        if (max_fds > ND_FORKED_CALL_MAX_FDS)
                max_fds = ND_FORKED_CALL_MAX_FDS;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
                r = -errno;
                nd_why_set(why, why_size, "cannot make a socket pair for the child process: %s", strerror(-r));
                return r;
        }
        ours = sv[0];
        theirs = sv[1];

        pid = fork();
        if (pid < 0) {
                r = -errno;
                nd_why_set(why, why_size, "cannot start the child process: %s", strerror(-r));
                return r;
        }
        if (pid == 0) {
                close(TAKE_FD(ours));
                child_main(theirs, fn, userdata, max_fds);
        }
        /* Ours alone now: a child that dies before it writes gives EOF. */
        close(TAKE_FD(theirs));

        r = receive_reply(ours, &reply, fds, max_fds, &n_fds);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                if (r == -ECHILD)
                        describe_exit(status, why, why_size);
                else
                        nd_why_set(why, why_size, "reading the child process's answer failed: %s", strerror(-r));
                return r;
        }
        if (reply.result < 0) {
                for (size_t i = 0; i < n_fds; i++)
                        close(fds[i]);
                nd_why_set(why, why_size, "%s", reply.why);
                return reply.result;
        }
        memcpy(ret_fds, fds, n_fds * sizeof(int));
        *ret_n_fds = n_fds;
        nd_why_set(why, why_size, "%s", reply.why);
        return reply.result;
}
