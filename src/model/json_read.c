#include "model/json_read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model/addr.h"

int nd_json_bad(struct nd_json_reader *rd, const char *fmt, ...)
{
        va_list ap;

        if (!rd->failed) {
                if (rd->why_size > 0) {
                        va_start(ap, fmt);
                        vsnprintf(rd->why, rd->why_size, fmt, ap);
                        va_end(ap);
                }
                rd->failed = true;
        }
        return -EBADMSG;
}

int nd_json_load(struct nd_json_reader *rd, const char *buf, size_t size, json_t **ret)
{
        json_error_t error;
        json_t *root;

        /* No duplicate keys; and the text must be one JSON value. */
        root = json_loadb(buf, size, JSON_REJECT_DUPLICATES, &error);
        if (!root)
                return nd_json_bad(rd, "invalid JSON at line %d column %d: %s", error.line, error.column,
                                   error.text);
        *ret = root;
        return 0;
}

static bool printable(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

int nd_json_get_name(struct nd_json_reader *rd, json_t *v, const char *what, size_t max, bool may_be_empty,
                     char *out)
{
        size_t len;

        if (!json_is_string(v))
                return nd_json_bad(rd, "%s: want a string", what);
        len = json_string_length(v);
        if (len >= max || (!may_be_empty && len == 0) || !printable(json_string_value(v), len) ||
            strlen(json_string_value(v)) != len)
                return nd_json_bad(rd, "%s: want %s%zu bytes of printable text", what,
                                   may_be_empty ? "0 to " : "1 to ", max - 1);
        memcpy(out, json_string_value(v), len + 1);
        return 0;
}

int nd_json_get_int(struct nd_json_reader *rd, json_t *v, const char *what, long long min, long long max,
                    long long *ret)
{
        if (!json_is_integer(v))
                return nd_json_bad(rd, "%s: want an integer", what);
        if (json_integer_value(v) < min || json_integer_value(v) > max)
                return nd_json_bad(rd, "%s: %lld out of range %lld..%lld", what,
                                   (long long)json_integer_value(v), min, max);
        *ret = json_integer_value(v);
        return 0;
}

int nd_json_get_number(struct nd_json_reader *rd, json_t *v, const char *what, double min, double max,
                       double *ret)
{
        double x;

        if (!json_is_number(v))
                return nd_json_bad(rd, "%s: want a number", what);
        x = json_number_value(v);
        if (!isfinite(x) || x < min || x > max)
                return nd_json_bad(rd, "%s: %g out of range %g..%g", what, x, min, max);
        *ret = x;
        return 0;
}

int nd_json_get_addr(struct nd_json_reader *rd, json_t *v, const char *what, char out[ND_ADDR_TEXT_MAX])
{
        struct nd_addr a;
        char canonical[ND_ADDR_STRLEN];

        if (nd_json_get_name(rd, v, what, ND_ADDR_TEXT_MAX, false, out) < 0)
                return -EBADMSG;
        if (nd_addr_parse(out, &a) < 0)
                return nd_json_bad(rd, "%s: '%s' is not an IP address", what, out);
        /* Dotted quads that parse are canonical already (no leading zeros,
         * four parts); only IPv6 text, which has many spellings, is
         * written back to compare. */
        if (strchr(out, ':') && strcmp(nd_addr_format(&a, canonical), out) != 0)
                return nd_json_bad(rd, "%s: '%s' is not in canonical form ('%s')", what, out, canonical);
        return 0;
}

int nd_json_only_known(struct nd_json_reader *rd, json_t *obj, const char *const *known, size_t n)
{
        const char *key;
        json_t *v;

        json_object_foreach(obj, key, v) {
                bool ok = false;

                for (size_t i = 0; !ok && i < n; i++)
                        ok = strcmp(key, known[i]) == 0;
                if (!ok)
                        return nd_json_bad(rd, "unknown field '%.64s'", key);
        }
        return 0;
}
