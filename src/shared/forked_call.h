/* Runs a function in a short-lived child process and takes back what it
 * made: its result, a one-line reason, and file descriptors.
 *
 * For work whose memory peak would otherwise stay in a long-lived process's
 * high-water mark, and whose useful result is a handful of kernel objects
 * (fds): loading eBPF programs parses the kernel's whole BTF (megabytes) to
 * end up with a few map and link fds. The child is a fork: it sees our
 * memory, and whatever it allocates dies with it. */
#pragma once

#include <stddef.h>

#define ND_FORKED_CALL_MAX_FDS 16

/* Runs in the child. Puts at most max_fds fds into fds and their number
 * into *n_fds (the child closes nothing: exiting does), and on error a
 * reason into why (on success, why may carry a note). Returns a
 * non-negative result or -errno; the fds are passed back only on success. */
typedef int (*nd_forked_fn)(void *userdata, int *fds, size_t max_fds, size_t *n_fds, char *why,
                            size_t why_size);

/* Forks, runs fn in the child, waits for it. Returns fn's return, or a
 * -errno of its own with why set when the child could not run or report
 * (it died of a signal, say). On success why holds fn's note (or is
 * empty), and *ret_n_fds fds (at most max_fds,
 * at most ND_FORKED_CALL_MAX_FDS) are in ret_fds, close-on-exec, owned by
 * the caller. Call it before starting threads: the child inherits only the
 * calling thread, and locks other threads held stay held. */
int nd_forked_call(nd_forked_fn fn, void *userdata, int *ret_fds, size_t max_fds, size_t *ret_n_fds, char *why,
                   size_t why_size);
