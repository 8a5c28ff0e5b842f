/* Which process owns which socket: socket inode -> process, from the fds
 * listed under /proc/<pid>/fd.
 *
 * Entries that cannot be read (permission denied; a process that exits
 * mid-scan) are skipped and counted, never fatal. A socket held by several
 * processes (shared across fork) belongs to the lowest pid.
 *
 * A daemon keeps one of these across scans and calls refresh: a process
 * whose number of open fds (the size /proc/<pid>/fd reports, Linux 6.2+)
 * has not changed keeps the sockets it had, without a readlink per fd. A
 * socket that then turns out to have no known owner makes the next refresh
 * a full scan, so a swapped fd is found one scan later. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "collect/inode_map.h"
#include "model/process.h"

struct nd_owner_record {
        struct nd_process proc;
        uint32_t *inodes;
        size_t n_inodes, allocated;
        long long fd_count; /* -1 when the kernel does not say */
        bool seen; /* found in the current scan */
};

struct nd_socket_owners {
        struct nd_owner_record *records; /* sorted by pid after a scan */
        size_t n_records, allocated;
        struct nd_inode_map sockets; /* inode -> record index */
        struct nd_inode_map pids; /* pid -> record index */
        /* Socket inodes a full scan found no owner for (an unreadable
         * process's): missing them again is no reason to rescan. */
        struct nd_inode_map known_unowned;
        bool last_scan_full;
        bool stale; /* a lookup missed: the next refresh is a full scan */
        unsigned denied; /* processes whose fds could not be read */
        unsigned vanished; /* processes that exited during the scan */
        unsigned reread, reused; /* processes whose fds were read / kept */
};

void nd_socket_owners_init(struct nd_socket_owners *o);
void nd_socket_owners_done(struct nd_socket_owners *o);

/* Reads every process's fds, replacing what an earlier scan found.
 * Returns 0, or -errno when proc_root itself cannot be read. */
int nd_socket_owners_scan(struct nd_socket_owners *o, const char *proc_root);
/* The incremental scan described above; a full one the first time. */
int nd_socket_owners_refresh(struct nd_socket_owners *o, const char *proc_root);

/* The owner of a socket inode, or NULL when unknown. The pointer stays valid
 * until the next scan or nd_socket_owners_done(). A miss is remembered (see
 * above), hence not const. */
const struct nd_process *nd_socket_owners_lookup(struct nd_socket_owners *o, uint32_t inode);

/* Parses "socket:[12345]" as readlink(2) returns it for a socket fd.
 * Returns the inode, or 0 when the link is not a socket. */
uint32_t nd_parse_socket_link(const char *link, size_t len);
