/* What libbpf says when the kernel refuses a BPF program, read back into
 * the program's name and the verifier's one line of reason: pure
 * functions over libbpf's message text, so that a kernel's refusal (kept
 * as recorded text) can be tested without that kernel. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct nd_bpf_load_failure {
        char prog[64]; /* "" until a message names a refused program */
        char reason[256]; /* the verifier's last word on it; "" if none came */
};

/* Reads one libbpf message (one print callback's text, which for a
 * verifier log holds the whole log). Returns true when the message is
 * about a program the kernel refused (its log, "BPF program load failed",
 * "failed to load"), having noted the program, and the reason where the
 * message has one, in *f. Other messages leave *f as it was. */
bool nd_bpf_load_failure_note(struct nd_bpf_load_failure *f, const char *msg);
