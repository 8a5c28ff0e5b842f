#include "collect/netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/sort.h"

void nd_netns_list_done(struct nd_netns_list *list)
{
        for (size_t i = 0; i < list->n; i++) {
                free(list->items[i].path);
                free(list->items[i].name);
        }
        free(list->items);
        *list = (struct nd_netns_list){};
}

static struct nd_netns *find(struct nd_netns_list *list, uint64_t inode)
{
        for (size_t i = 0; i < list->n; i++)
                if (list->items[i].inode == inode)
                        return &list->items[i];
        return NULL;
}

/* Adds (inode, path, name) unless known; a named entry replaces the path of
 * an unnamed one, since /run/netns outlives any process. */
static int add(struct nd_netns_list *list, uint64_t inode, const char *path, const char *name)
{
        struct nd_netns *ns = find(list, inode);
        _cleanup_free_ char *p = NULL, *n = NULL;

        if (ns && (ns->name || !name))
                return 0;
        p = strdup(path);
        n = name ? strdup(name) : NULL;
        if (!p || (name && !n))
                return -ENOMEM;
        if (ns) {
                free(ns->path);
                ns->path = TAKE_PTR(p);
                ns->name = TAKE_PTR(n);
                return 0;
        }
        if (list->n == list->allocated) {
                size_t want = list->allocated ? list->allocated * 2 : 16;
                struct nd_netns *items = reallocarray(list->items, want, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                list->items = items;
                list->allocated = want;
        }
        list->items[list->n++] = (struct nd_netns){ inode, TAKE_PTR(p), TAKE_PTR(n) };
        return 0;
}

static int scan_named(struct nd_netns_list *list, const char *dir)
{
        _cleanup_closedir_ DIR *d = opendir(dir);
        struct dirent *de;

        if (!d)
                return errno == ENOENT ? 0 : -errno;
        while ((de = readdir(d))) {
                char path[PATH_MAX];
                struct stat st;
                int r;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (stat(path, &st) < 0)
                        continue; /* a stale name: not mounted any more */
                r = add(list, st.st_ino, path, de->d_name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int scan_processes(struct nd_netns_list *list, const char *proc_root)
{
        _cleanup_closedir_ DIR *d = opendir(proc_root);
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char rel[300], path[PATH_MAX];
                struct stat st;
                int r;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                snprintf(rel, sizeof(rel), "%s/ns/net", de->d_name);
                if (fstatat(dirfd(d), rel, &st, 0) < 0)
                        continue; /* exited, or not ours to see */
                snprintf(path, sizeof(path), "%s/%s", proc_root, rel);
                r = add(list, st.st_ino, path, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int compare_inode(const void *a, const void *b)
{
        const struct nd_netns *x = a, *y = b;
        return x->inode < y->inode ? -1 : x->inode > y->inode;
}

int nd_netns_discover(const char *proc_root, const char *run_netns_dir, struct nd_netns_list *ret)
{
        struct nd_netns_list list = {};
        int r = 0;

        if (run_netns_dir)
                r = scan_named(&list, run_netns_dir);
        if (r >= 0 && proc_root)
                r = scan_processes(&list, proc_root);
        if (r < 0) {
                nd_netns_list_done(&list);
                return r;
        }
        qsort_safe(list.items, list.n, sizeof(*list.items), compare_inode);
        *ret = list;
        return 0;
}

int nd_netns_current(uint64_t *ret)
{
        struct stat st;

        if (stat("/proc/thread-self/ns/net", &st) < 0)
                return -errno;
        *ret = st.st_ino;
        return 0;
}

int nd_netns_enter_fd(int fd)
{
        if (setns(fd, CLONE_NEWNET) < 0)
                return -errno;
        return 0;
}

int nd_netns_enter_path(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        return nd_netns_enter_fd(fd);
}
