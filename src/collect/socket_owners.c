#include "collect/socket_owners.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/log.h"

void nd_socket_owners_init(struct nd_socket_owners *o)
{
        *o = (struct nd_socket_owners){};
        nd_inode_map_init(&o->sockets);
}

static void clear_procs(struct nd_socket_owners *o)
{
        for (size_t i = 0; i < o->n_procs; i++)
                free(o->procs[i].cgroup);
        o->n_procs = 0;
}

void nd_socket_owners_done(struct nd_socket_owners *o)
{
        clear_procs(o);
        free(o->procs);
        nd_inode_map_done(&o->sockets);
        nd_socket_owners_init(o);
}

uint32_t nd_parse_socket_link(const char *link, size_t len)
{
        static const char prefix[] = "socket:[";
        uint64_t inode = 0;
        size_t i = sizeof(prefix) - 1;

        if (len <= i + 1 || memcmp(link, prefix, i) != 0 || link[len - 1] != ']')
                return 0;
        for (; i < len - 1; i++) {
                if (link[i] < '0' || link[i] > '9')
                        return 0;
                inode = inode * 10 + (uint64_t)(link[i] - '0');
                if (inode > UINT32_MAX)
                        return 0;
        }
        return (uint32_t)inode;
}

/* Reads a small /proc file relative to dir_fd into buf, NUL-terminated.
 * Returns the length or -errno. */
static ssize_t read_small_file(int dir_fd, const char *name, char *buf, size_t size)
{
        _cleanup_close_ int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = 0;
        return n;
}

static void read_identity(int pid_fd, struct nd_process *p)
{
        char buf[4096];
        ssize_t n;

        n = read_small_file(pid_fd, "comm", buf, sizeof(buf));
        if (n > 0) {
                buf[strcspn(buf, "\n")] = 0;
                buf[sizeof(p->name) - 1] = 0; /* comm is at most 15 characters */
                memcpy(p->name, buf, sizeof(p->name));
        }

        /* "pid (comm) state ppid pgrp ...": comm may hold spaces and ')'. */
        n = read_small_file(pid_fd, "stat", buf, sizeof(buf));
        if (n > 0) {
                const char *close = strrchr(buf, ')');
                char state;
                int ppid, pgrp;

                if (close && sscanf(close + 1, " %c %d %d", &state, &ppid, &pgrp) == 3)
                        p->pgid = pgrp;
        }

        /* Prefer the unified (v2) hierarchy line "0::/path". */
        n = read_small_file(pid_fd, "cgroup", buf, sizeof(buf));
        if (n > 0) {
                const char *path = NULL;
                for (char *line = buf; line && *line; ) {
                        char *next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        char *c = strchr(line, ':');
                        c = c ? strchr(c + 1, ':') : NULL;
                        if (c && (!path || strncmp(line, "0::", 3) == 0))
                                path = c + 1;
                        line = next;
                }
                if (path)
                        p->cgroup = strdup(path);
        }
}

static int add_proc(struct nd_socket_owners *o, pid_t pid, uint32_t *ret_index)
{
        if (o->n_procs == o->allocated) {
                size_t want = o->allocated ? o->allocated * 2 : 64;
                struct nd_process *p = reallocarray(o->procs, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                o->procs = p;
                o->allocated = want;
        }
        o->procs[o->n_procs] = (struct nd_process){ .pid = pid, .pgid = -1 };
        *ret_index = (uint32_t)o->n_procs++;
        return 0;
}

/* Maps every socket fd of one process. A process without sockets leaves no
 * trace in the table. */
static int scan_process(struct nd_socket_owners *o, int proc_fd, const char *pid_name, pid_t pid)
{
        _cleanup_close_ int pid_fd = -EBADF;
        _cleanup_closedir_ DIR *fds = NULL;
        uint32_t index = UINT32_MAX;
        struct dirent *de;
        int fd_dir;
        int r;

        pid_fd = openat(proc_fd, pid_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pid_fd < 0) {
                o->vanished++;
                return 0;
        }
        fd_dir = openat(pid_fd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd_dir < 0) {
                if (errno == EACCES || errno == EPERM)
                        o->denied++;
                else
                        o->vanished++;
                return 0;
        }
        fds = fdopendir(fd_dir);
        if (!fds) {
                close(fd_dir);
                return -errno;
        }

        while ((errno = 0, de = readdir(fds))) {
                char link[64];
                ssize_t n;
                uint32_t inode;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(fd_dir, de->d_name, link, sizeof(link));
                if (n <= 0 || (size_t)n >= sizeof(link))
                        continue; /* closed meanwhile, or not a socket */
                inode = nd_parse_socket_link(link, (size_t)n);
                if (!inode)
                        continue;
                if (index == UINT32_MAX) {
                        r = add_proc(o, pid, &index);
                        if (r < 0)
                                return r;
                }
                r = nd_inode_map_add(&o->sockets, inode, index);
                if (r < 0)
                        return r;
                if (r == 0) {
                        /* Shared across fork: the lowest pid keeps it, so the
                         * answer does not depend on directory order. */
                        uint32_t other;
                        if (nd_inode_map_get(&o->sockets, inode, &other) && o->procs[other].pid > pid)
                                (void)nd_inode_map_replace(&o->sockets, inode, index);
                }
        }
        if (errno != 0 && errno != ENOENT) {
                /* The process exited while we read its fds: keep what we saw. */
                o->vanished++;
        }
        if (index != UINT32_MAX)
                read_identity(pid_fd, &o->procs[index]);
        return 0;
}

static bool parse_pid(const char *s, pid_t *ret)
{
        long v = 0;

        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (*s - '0');
                if (v > INT32_MAX)
                        return false;
        }
        *ret = (pid_t)v;
        return true;
}

int nd_socket_owners_scan(struct nd_socket_owners *o, const char *proc_root)
{
        _cleanup_closedir_ DIR *proc = NULL;
        struct dirent *de;
        int r;

        clear_procs(o);
        nd_inode_map_clear(&o->sockets);
        o->denied = o->vanished = 0;

        proc = opendir(proc_root);
        if (!proc)
                return -errno;

        while ((errno = 0, de = readdir(proc))) {
                pid_t pid;

                if (!parse_pid(de->d_name, &pid))
                        continue;
                r = scan_process(o, dirfd(proc), de->d_name, pid);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return -errno;
        log_debug("process scan: %zu processes own %zu sockets; %u unreadable, %u exited",
                  o->n_procs, o->sockets.n, o->denied, o->vanished);
        return 0;
}

const struct nd_process *nd_socket_owners_lookup(const struct nd_socket_owners *o, uint32_t inode)
{
        uint32_t index;

        if (!nd_inode_map_get(&o->sockets, inode, &index))
                return NULL;
        return &o->procs[index];
}
