/* libFuzzer target for nd_read_request_make(): a URL's path, method and
 * query parameters in, the argv of the netdep verb that answers it out.
 *
 * The input is "PATH\0METHOD\0NAME=VALUE&NAME=VALUE...": NUL ends the two
 * strings that can never hold one, '&' and the first '=' split the rest,
 * and a pair without '=' has no value (NULL, as a bare "?json" gives).
 * Beyond the parser's limit of ND_READ_MAX_PARAMS, so that the limit is
 * reached too.
 *
 * What must hold when a request is accepted: the argv is a well-formed
 * command line for the netdep binary, and no query parameter can become
 * an operand or an option of its own — every argument the caller chose is
 * one "--name=value" word, and the only operands are the fixed ones or the
 * one after "--". */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "serve/read_request.h"

#define MAX_PAIRS 40

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_control(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static void check_argv(const struct nd_read_request *r)
{
        size_t i = 2;

        check(r->argv);
        check(r->argc >= 2);
        check(r->argv[r->argc] == NULL);
        for (size_t k = 0; k < r->argc; k++) {
                check(r->argv[k]);
                check(!has_control(r->argv[k]));
        }
        check(strcmp(r->argv[0], "netdep") == 0);
        check(r->verb && strcmp(r->argv[1], r->verb) == 0);
        check(r->content_type);

        /* The action, for the verbs that have one. */
        if (strcmp(r->verb, "roles") == 0) {
                check(r->argc >= 3);
                check(strcmp(r->argv[2], "list") == 0 || strcmp(r->argv[2], "import") == 0);
                check(r->takes_body == (strcmp(r->argv[2], "import") == 0));
                i = 3;
        }
        for (; i < r->argc; i++) {
                if (strcmp(r->argv[i], "--") == 0) {
                        /* One operand, the last word. */
                        check(i + 2 == r->argc);
                        check(r->argv[i + 1][0] != '\0');
                        return;
                }
                if (r->takes_body && i + 1 == r->argc) {
                        check(strcmp(r->argv[i], "/dev/stdin") == 0);
                        return;
                }
                check(strncmp(r->argv[i], "--", 2) == 0 && r->argv[i][2] != '\0' && r->argv[i][2] != '-');
        }
        /* Only roles import reads its body, and it always names it. */
        check(!r->takes_body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct nd_param params[MAX_PAIRS];
        struct nd_read_request r = {};
        const char *path, *method;
        char why[256], *text, *p, *end;
        size_t n = 0;
        int rr;

        /* A copy with a NUL after it: every piece below is a C string. */
        text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        end = text + size;

        path = text;
        p = text + strlen(text);
        method = p < end ? p + 1 : p;
        p = (char *)method + strlen(method);
        if (p < end)
                p++;
        /* What is left after the second NUL, NULs included, is the query;
         * a NUL inside it cuts the value, as it would in a C string. */
        while (p < end && n < MAX_PAIRS) {
                char *amp = memchr(p, '&', (size_t)(end - p)), *eq;

                if (amp)
                        *amp = '\0';
                eq = strchr(p, '=');
                if (eq)
                        *eq = '\0';
                params[n++] = (struct nd_param){ .name = p, .value = eq ? eq + 1 : NULL };
                if (!amp)
                        break;
                p = amp + 1;
        }

        why[0] = '\0';
        rr = nd_read_request_make(path, method, params, n, &r, why, sizeof(why));
        if (rr < 0) {
                check(rr == -ENOENT || rr == -EOPNOTSUPP || rr == -EINVAL || rr == -ENOMEM);
                check(rr == -ENOMEM || why[0] != '\0');
                /* why goes back to the client, and to the log, as one line,
                 * though it may quote the path or a name. */
                check(!has_control(why));
                /* A refusal leaves nothing to free. */
                check(!r.argv && r.argc == 0);
        } else {
                check(rr == 0);
                check_argv(&r);
                nd_read_request_done(&r);
                check(!r.argv && r.argc == 0);
        }
        free(text);
        return 0;
}
