/* Strict readers for JSON that arrives from the network (agents' flushes
 * and probe reports): every getter checks type and range, and the first
 * failure leaves a one-line reason naming the field ("links[3] port:
 * 70000 out of range 1..65535"). Later failures keep the first reason. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/edge.h" /* ND_ADDR_TEXT_MAX */

struct nd_json_reader {
        char *why;
        size_t why_size;
        bool failed;
};

/* Records the reason (the first one wins); returns -EBADMSG. */
int nd_json_bad(struct nd_json_reader *rd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses one JSON value, rejecting duplicate keys. Caller owns *ret. */
int nd_json_load(struct nd_json_reader *rd, const char *buf, size_t size, json_t **ret);

/* A name: printable, no NUL or control characters, fits in max bytes with
 * its NUL; empty only when may_be_empty. Copied into out. */
int nd_json_get_name(struct nd_json_reader *rd, json_t *v, const char *what, size_t max, bool may_be_empty,
                     char *out);
int nd_json_get_int(struct nd_json_reader *rd, json_t *v, const char *what, long long min, long long max,
                    long long *ret);
/* An integer or a real, finite, in min..max. */
int nd_json_get_number(struct nd_json_reader *rd, json_t *v, const char *what, double min, double max,
                       double *ret);
/* An IP address in the canonical form nd_addr_format() writes. */
int nd_json_get_addr(struct nd_json_reader *rd, json_t *v, const char *what, char out[ND_ADDR_TEXT_MAX]);
/* Refuses an object with a key that is not in known[0..n-1]. */
int nd_json_only_known(struct nd_json_reader *rd, json_t *obj, const char *const *known, size_t n);
