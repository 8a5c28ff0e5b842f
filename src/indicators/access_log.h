/* Following an nginx access log: the lines appended since the last read,
 * counted by status.
 *
 * The format is nginx's default "combined":
 *   $remote_addr - $remote_user [$time_local] "$request" $status ...
 * so the status is the field after the quoted request line (nginx escapes a
 * quote inside it as \x22, so the first two quotes delimit it).
 *
 * The follower keeps its file open and remembers where it stopped. When
 * the path names a different file (rotated), it finishes the old one and
 * starts the new one at its beginning; when the file got shorter than where
 * it stopped (copytruncate), it starts again at 0. A last line without its
 * newline yet waits for the next read. At most read_max bytes are read per
 * call: beyond that the oldest of the new bytes are skipped, and counted. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define ND_ACCESS_LOG_READ_MAX_DEFAULT ((size_t)8 << 20)
#define ND_ACCESS_LOG_ERROR_MIN 400
#define ND_ACCESS_LOG_STATUS_MAX 999

struct nd_access_log;

struct nd_access_log_counts {
        uint64_t requests;      /* lines with a status, whatever it is */
        uint64_t unparsed;      /* lines without one */
        uint64_t bytes_read;    /* what the counts above come from */
        uint64_t bytes_skipped; /* over read_max: not counted at all */
        /* errors[s - ND_ACCESS_LOG_ERROR_MIN]: lines with status s >= 400 */
        uint64_t errors[ND_ACCESS_LOG_STATUS_MAX - ND_ACCESS_LOG_ERROR_MIN + 1];
};

/* Pure: the status of one "combined" line (no newline), or -EBADMSG. */
int nd_access_log_parse_status(const char *line, size_t len);

/* read_max 0 means ND_ACCESS_LOG_READ_MAX_DEFAULT. Opens nothing yet.
 * Caller owns *ret; free with nd_access_log_free(). */
int nd_access_log_new(const char *path, size_t read_max, struct nd_access_log **ret);
struct nd_access_log *nd_access_log_free(struct nd_access_log *l);

/* Counts what was appended since the last call. The first call starts at
 * the end of the file, so that what was logged before the follower existed
 * is not counted as new; a file that appears later (it was missing, or
 * rotated) is read from its start. -ENOENT when the file is missing, or
 * another -errno; the next call retries. */
int nd_access_log_read(struct nd_access_log *l, struct nd_access_log_counts *ret);
