#include "collect/bpf_load_log.h"

#include <stdio.h>
#include <string.h>

static bool starts_with(const char *s, size_t len, const char *prefix)
{
        size_t n = strlen(prefix);

        return len >= n && strncmp(s, prefix, n) == 0;
}

/* The last line of a verifier log that says what is wrong: not the
 * statistics and trailers the verifier and libbpf end every log with. */
static void note_verifier_log(struct nd_bpf_load_failure *f, const char *prog, const char *log)
{
        const char *line = log, *best = NULL, *end;
        size_t best_len = 0;

        for (; *line; line = *end ? end + 1 : end) {
                end = strchrnul(line, '\n');
                size_t len = (size_t)(end - line);
                if (len == 0 || starts_with(line, len, "processed ") || starts_with(line, len, "verification time") ||
                    starts_with(line, len, "func#") || starts_with(line, len, "stack depth") ||
                    starts_with(line, len, "-- END"))
                        continue;
                best = line;
                best_len = len;
        }
        snprintf(f->prog, sizeof(f->prog), "%s", prog);
        f->reason[0] = 0;
        if (best)
                snprintf(f->reason, sizeof(f->reason), "%.*s", (int)best_len, best);
}

bool nd_bpf_load_failure_note(struct nd_bpf_load_failure *f, const char *msg)
{
        char prog[64];
        int at = 0;

        if (sscanf(msg, "libbpf: prog '%63[^']': -- BEGIN PROG LOAD LOG --%n", prog, &at) == 1 && at > 0) {
                note_verifier_log(f, prog, msg + at);
                return true;
        }
        if (sscanf(msg, "libbpf: prog '%63[^']': %n", prog, &at) != 1 || at == 0)
                return false;
        msg += at;
        if (strncmp(msg, "failed to load", 14) == 0) {
                /* Its log, if any, came first and named the same program. */
                if (strcmp(prog, f->prog) != 0) {
                        snprintf(f->prog, sizeof(f->prog), "%s", prog);
                        f->reason[0] = 0;
                }
                return true;
        }
        return strncmp(msg, "BPF program load failed", 23) == 0;
}
