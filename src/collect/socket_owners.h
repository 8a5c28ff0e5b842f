/* Which process owns which socket: socket inode -> process, from the fds
 * listed under /proc/<pid>/fd.
 *
 * Entries that cannot be read (permission denied; a process that exits
 * mid-scan) are skipped and counted, never fatal. A socket held by several
 * processes (shared across fork) belongs to the lowest pid. */
#pragma once

#include <stddef.h>

#include "collect/inode_map.h"
#include "model/process.h"

struct nd_socket_owners {
        struct nd_process *procs;
        size_t n_procs, allocated;
        struct nd_inode_map sockets; /* inode -> index in procs */
        unsigned denied; /* processes whose fds could not be read */
        unsigned vanished; /* processes that exited during the scan */
};

void nd_socket_owners_init(struct nd_socket_owners *o);
void nd_socket_owners_done(struct nd_socket_owners *o);

/* Scans proc_root (normally "/proc"), replacing what an earlier scan found.
 * Returns 0, or -errno when proc_root itself cannot be read. */
int nd_socket_owners_scan(struct nd_socket_owners *o, const char *proc_root);

/* The owner of a socket inode, or NULL when unknown. The pointer stays valid
 * until the next scan or nd_socket_owners_done(). */
const struct nd_process *nd_socket_owners_lookup(const struct nd_socket_owners *o, uint32_t inode);

/* Parses "socket:[12345]" as readlink(2) returns it for a socket fd.
 * Returns the inode, or 0 when the link is not a socket. */
uint32_t nd_parse_socket_link(const char *link, size_t len);
