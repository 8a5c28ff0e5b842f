/* A read on a netdep server, from its URL's query parameters to the
 * command line of the netdep verb that answers it: GET
 * /api/v1/look?host=db1&depth=2 is `netdep look --host=db1 --depth=2`, so
 * that the API answers exactly what the CLI does, option for option.
 *
 * Pure: names are checked against each endpoint's own list, values for
 * length and control characters; the verb itself then checks the values
 * as it does on the command line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "serve/tokens.h"

#define ND_READ_MAX_PARAMS 32
#define ND_READ_MAX_VALUE 1024

struct nd_param {
        const char *name, *value;
};

struct nd_read_request {
        const char *verb; /* "look" */
        enum nd_scope scope; /* what the token must allow */
        bool takes_body; /* POST: the body is the verb's standard input */
        /* argv for the netdep binary: "netdep", verb, options...; NULL
         * ended. The strings are owned. */
        char **argv;
        size_t argc;
        const char *content_type; /* of the verb's output */
};

/* path: "/api/v1/look" and so on; method: "GET" or "POST". -ENOENT: no
 * such endpoint (404); -EOPNOTSUPP: not with that method (405); -EINVAL:
 * a bad parameter (400); why says which in one line. */
int nd_read_request_make(const char *path, const char *method, const struct nd_param *params, size_t n,
                         struct nd_read_request *ret, char *why, size_t why_size);
void nd_read_request_done(struct nd_read_request *r);
