/* Network namespaces: finding them, and entering one to dump its sockets. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct nd_netns {
        uint64_t inode;
        char *path; /* a file that refers to it: /run/netns/NAME or /proc/PID/ns/net */
        char *name; /* the name under /run/netns, or NULL */
};

struct nd_netns_list {
        struct nd_netns *items;
        size_t n, allocated;
};

void nd_netns_list_done(struct nd_netns_list *list);

/* Finds the distinct namespaces in use by processes under proc_root and the
 * ones named under run_netns_dir (either may be NULL to skip it), sorted by
 * inode. Unreadable entries are skipped. */
int nd_netns_discover(const char *proc_root, const char *run_netns_dir, struct nd_netns_list *ret);

/* The inode of the calling thread's network namespace. */
int nd_netns_current(uint64_t *ret);

/* Moves the calling thread into the namespace that path refers to.
 * Returns 0 or -errno (EPERM without CAP_SYS_ADMIN). */
int nd_netns_enter_path(const char *path);
/* Same, through an open namespace fd (borrowed). */
int nd_netns_enter_fd(int fd);
