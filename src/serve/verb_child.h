/* Runs a netdep verb as a child process for a read request: the server's
 * own binary, the store in its environment, the request body (if any) as
 * its standard input, and its output kept in memory files.
 *
 * A child, not a call: a question over the whole store can take seconds
 * and tens of MiB; in a child it is killed at its deadline, its memory
 * goes back when it ends, and the server's stays bounded whatever is
 * asked. The answer is the CLI's, byte for byte. */
#pragma once

#include <stddef.h>

struct nd_verb_result {
        int exit_status; /* the verb's; -1 when killed at the deadline or by a signal */
        int out_fd; /* a memfd holding standard output, at offset 0; caller closes */
        size_t out_size;
        char error[512]; /* its first error line, without "netdep: error: " */
};

/* argv: "netdep", verb, ...; NULL-terminated. store_uri goes in
 * NETDEP_STORE (never on the command line, where ps shows it). -errno when
 * the child could not be started. */
int nd_verb_run(char *const *argv, const char *store_uri, const void *input, size_t input_size, unsigned timeout_ms,
                struct nd_verb_result *ret);
