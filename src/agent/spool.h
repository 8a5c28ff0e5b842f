/* The agent's spool: flushes the store had not taken when the agent
 * stopped, kept on disk until the next start delivers them.
 *
 * One file per flush, NANOSECONDS-PID-SEQ.flush, so that names sort oldest
 * first; written under a dot-name and renamed, so that a reader never sees
 * half a file. A file is claimed with flock() while it is delivered and
 * removed once the store has it, so agents may share a directory. Delivery
 * is at least once: a crash between the store's commit and the removal
 * delivers that flush again.
 *
 * The file format, version 1; integers little-endian, a string is a u32
 * length and its bytes (no NUL):
 *
 *   header    "NDSPOOL\n", u32 version, u32 flags (0), u64 body length,
 *             u64 FNV-1a 64 of the body                      (32 bytes)
 *   body      str hostname, i64 ts, i64 first_ts,
 *             u32 n, n str: the addresses under hostname,
 *             u32 n, n (str name, u32 m, m str): named namespaces,
 *             u32 n, n rows
 *   row       endpoint client, endpoint server, u8 side,
 *             u32 connections, opened, failed, rtt_us,
 *             u64 retrans, bytes_sent, bytes_received, u32 processes
 *   endpoint  str addr, u16 port, str process, i32 pgid
 *
 * A reader refuses any other version, flags, length or checksum whole. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "agent/writer.h"

#define ND_SPOOL_VERSION 1
/* The bound of a spool directory, spooled files of every agent using it. */
#define ND_SPOOL_MAX_FILES 1000
#define ND_SPOOL_MAX_BYTES ((uint64_t)64 << 20)

struct nd_spool_limits {
        size_t max_files;
        uint64_t max_bytes;
};

/* A flush as a spool file's bytes. Caller owns *ret. */
int nd_spool_encode(const struct nd_flush *f, uint8_t **ret, size_t *ret_size);
/* Pure: bytes in, a flush out. -EBADMSG: not a spool file, or damaged;
 * -EPROTONOSUPPORT: a version or flags this netdep does not read. Either
 * way why says which, in a few words. Caller owns *ret. */
int nd_spool_decode(const uint8_t *buf, size_t size, struct nd_flush **ret, char *why, size_t why_size);

struct nd_spool_report {
        size_t spooled; /* flushes written to files */
        size_t failed; /* flushes that could not be written: lost */
        size_t dropped; /* files or flushes left out for the bound: lost */
        int error; /* why the first failed one failed */
};

/* Writes flushes[0..n) (oldest first) to dir, made (0700) if missing,
 * then keeps the directory within limits by dropping the oldest flushes,
 * spooled before or now. Returns 0 when nothing was lost, else the error
 * of the first flush that could not be written, or -ENOBUFS when only the
 * bound dropped some; *ret says how many of each. */
int nd_spool_save(const char *dir, struct nd_flush *const *flushes, size_t n, const struct nd_spool_limits *limits,
                  struct nd_spool_report *ret);

/* The spooled files in dir, oldest first (none when dir does not exist).
 * Caller owns *ret; free with nd_spool_names_free(). */
int nd_spool_list(const char *dir, char ***ret, size_t *ret_n);
void nd_spool_names_free(char **names, size_t n);

/* Claims a spooled file and reads its flush; *ret_fd holds the claim until
 * nd_spool_remove() or close(). -ENOENT: gone (delivered by another
 * agent); -EBUSY: another agent is delivering it; -EBADMSG or
 * -EPROTONOSUPPORT, with why: unreadable, for nd_spool_set_aside(). */
int nd_spool_take(const char *dir, const char *name, int *ret_fd, struct nd_flush **ret, char *why,
                  size_t why_size);
/* The store has it: removes the file, then drops the claim (closes fd). */
int nd_spool_remove(const char *dir, const char *name, int fd);
/* Renames an unreadable file NAME.bad, where nd_spool_list() and the bound
 * leave it alone, for a human to look at. */
int nd_spool_set_aside(const char *dir, const char *name);
