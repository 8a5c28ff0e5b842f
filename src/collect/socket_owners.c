#include "collect/socket_owners.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/log.h"
#include "shared/sort.h"

void nd_socket_owners_init(struct nd_socket_owners *o)
{
        *o = (struct nd_socket_owners){};
        nd_inode_map_init(&o->sockets);
        nd_inode_map_init(&o->pids);
        nd_inode_map_init(&o->known_unowned);
}

static void record_done(struct nd_owner_record *rec)
{
        free(rec->proc.cgroup);
        free(rec->inodes);
}

void nd_socket_owners_done(struct nd_socket_owners *o)
{
        for (size_t i = 0; i < o->n_records; i++)
                record_done(&o->records[i]);
        free(o->records);
        nd_inode_map_done(&o->sockets);
        nd_inode_map_done(&o->pids);
        nd_inode_map_done(&o->known_unowned);
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

        free(p->cgroup);
        p->cgroup = NULL;
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
                for (char *line = buf; line && *line;) {
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

static int push_inode(struct nd_owner_record *rec, uint32_t inode)
{
        if (rec->n_inodes == rec->allocated) {
                size_t want = rec->allocated ? rec->allocated * 2 : 16;
                uint32_t *p = reallocarray(rec->inodes, want, sizeof(*p));
                if (!p)
                        return -ENOMEM;
                rec->inodes = p;
                rec->allocated = want;
        }
        rec->inodes[rec->n_inodes++] = inode;
        return 0;
}

/* The record of a pid, made if new. */
static int record_for(struct nd_socket_owners *o, pid_t pid, struct nd_owner_record **ret)
{
        uint32_t index;

        if (nd_inode_map_get(&o->pids, (uint32_t)pid, &index)) {
                *ret = &o->records[index];
                return 0;
        }
        if (o->n_records == o->allocated) {
                size_t want = o->allocated ? o->allocated * 2 : 64;
                struct nd_owner_record *r = reallocarray(o->records, want, sizeof(*r));
                if (!r)
                        return -ENOMEM;
                o->records = r;
                o->allocated = want;
        }
        o->records[o->n_records] = (struct nd_owner_record){ .proc = { .pid = pid, .pgid = -1 }, .fd_count = -1 };
        if (nd_inode_map_add(&o->pids, (uint32_t)pid, (uint32_t)o->n_records) < 0)
                return -ENOMEM;
        *ret = &o->records[o->n_records++];
        return 0;
}

/* Reads one process's socket fds into its record. */
static int read_fds(struct nd_socket_owners *o, int pid_fd, struct nd_owner_record *rec)
{
        _cleanup_closedir_ DIR *fds = NULL;
        struct dirent *de;
        int fd_dir;
        int r;

        rec->n_inodes = 0;
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
                if (inode && (r = push_inode(rec, inode)) < 0)
                        return r;
        }
        if (errno != 0 && errno != ENOENT)
                o->vanished++; /* exited while we read: keep what we saw */
        if (rec->n_inodes > 0)
                read_identity(pid_fd, &rec->proc);
        o->reread++;
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

static int compare_pid(const void *a, const void *b)
{
        const struct nd_owner_record *x = a, *y = b;
        return x->proc.pid < y->proc.pid ? -1 : x->proc.pid > y->proc.pid;
}

/* Drops the records of exited processes (those without sockets stay, so an
 * unchanged one is not read again), sorts by pid, and rebuilds both maps:
 * the lowest pid keeps a shared socket. */
static int rebuild(struct nd_socket_owners *o)
{
        size_t out = 0;
        int r;

        for (size_t i = 0; i < o->n_records; i++) {
                if (o->records[i].seen)
                        o->records[out++] = o->records[i];
                else
                        record_done(&o->records[i]);
        }
        o->n_records = out;
        qsort_safe(o->records, o->n_records, sizeof(*o->records), compare_pid);

        nd_inode_map_clear(&o->sockets);
        nd_inode_map_clear(&o->pids);
        size_t n_inodes = 0;
        for (size_t i = 0; i < o->n_records; i++)
                n_inodes += o->records[i].n_inodes;
        r = nd_inode_map_reserve(&o->sockets, n_inodes);
        if (r >= 0)
                r = nd_inode_map_reserve(&o->pids, o->n_records);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n_records; i++) {
                r = nd_inode_map_add(&o->pids, (uint32_t)o->records[i].proc.pid, (uint32_t)i);
                for (size_t k = 0; r >= 0 && k < o->records[i].n_inodes; k++)
                        r = nd_inode_map_add(&o->sockets, o->records[i].inodes[k], (uint32_t)i);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan(struct nd_socket_owners *o, const char *proc_root, bool full)
{
        _cleanup_closedir_ DIR *proc = NULL;
        struct dirent *de;
        int r;

        o->denied = o->vanished = o->reread = o->reused = 0;
        for (size_t i = 0; i < o->n_records; i++)
                o->records[i].seen = false;

        proc = opendir(proc_root);
        if (!proc)
                return -errno;
        while ((errno = 0, de = readdir(proc))) {
                _cleanup_close_ int pid_fd = -EBADF;
                struct nd_owner_record *rec;
                struct stat st;
                long long fd_count;
                pid_t pid;

                if (!parse_pid(de->d_name, &pid))
                        continue;
                pid_fd = openat(dirfd(proc), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (pid_fd < 0) {
                        o->vanished++;
                        continue;
                }
                /* Linux 6.2+ gives the number of open fds as the size. */
                fd_count = fstatat(pid_fd, "fd", &st, 0) == 0 && st.st_size > 0 ? (long long)st.st_size : -1;
                r = record_for(o, pid, &rec);
                if (r < 0)
                        return r;
                rec->seen = true;
                if (!full && fd_count >= 0 && rec->fd_count == fd_count) {
                        o->reused++;
                        continue;
                }
                rec->fd_count = fd_count;
                r = read_fds(o, pid_fd, rec);
                if (r < 0)
                        return r;
        }
        if (errno != 0)
                return -errno;
        r = rebuild(o);
        if (r < 0)
                return r;

        o->last_scan_full = full;
        o->stale = false;
        if (full)
                nd_inode_map_clear(&o->known_unowned);
        log_debug("process scan (%s): %zu processes own %zu sockets; %u read, %u kept, %u unreadable, %u exited",
                  full ? "full" : "incremental", o->n_records, o->sockets.n, o->reread, o->reused, o->denied,
                  o->vanished);
        return 0;
}

int nd_socket_owners_scan(struct nd_socket_owners *o, const char *proc_root)
{
        return scan(o, proc_root, true);
}

int nd_socket_owners_refresh(struct nd_socket_owners *o, const char *proc_root)
{
        return scan(o, proc_root, o->stale || o->n_records == 0);
}

const struct nd_process *nd_socket_owners_lookup(struct nd_socket_owners *o, uint32_t inode)
{
        uint32_t index;

        if (nd_inode_map_get(&o->sockets, inode, &index))
                return &o->records[index].proc;
        if (inode == 0)
                return NULL;
        if (o->last_scan_full)
                (void)nd_inode_map_add(&o->known_unowned, inode, 0);
        else if (!nd_inode_map_get(&o->known_unowned, inode, &index))
                o->stale = true;
        return NULL;
}
