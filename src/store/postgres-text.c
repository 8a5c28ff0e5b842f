/* Text as PostgreSQL takes it: valid UTF-8 only, and lists as array
 * literals, one parameter whatever their length. */
#include <stdlib.h>
#include <string.h>

#include "store/postgres-internal.h"

/* Length of the valid UTF-8 sequence at p, 0 when it is not one. */
static size_t utf8_sequence_length(const unsigned char *p)
{
        size_t n;

        if (p[0] < 0x80)
                return 1;
        if (p[0] < 0xc2 || p[0] > 0xf4)
                return 0;
        n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
        for (size_t i = 1; i < n; i++)
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
        if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) || /* overlong, surrogate */
            (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90)) /* overlong, past U+10FFFF */
                return 0;
        return n;
}

/* Copies text as PostgreSQL takes it: a byte that is not UTF-8 (process
 * names and hostnames may be any bytes) becomes '?', where the raw byte
 * would fail the whole flush; with quote, '"' and '\\' are escaped for an
 * array element. Writes at most 2 * strlen(text) bytes; returns the end. */
static char *put_text(char *out, const char *text, bool quote)
{
        for (const unsigned char *p = (const unsigned char *)text; *p;) {
                size_t n = utf8_sequence_length(p);

                if (n == 0) {
                        *out++ = '?';
                        p++;
                        continue;
                }
                if (quote && (*p == '"' || *p == '\\'))
                        *out++ = '\\';
                memcpy(out, p, n);
                out += n;
                p += n;
        }
        return out;
}

void utf8_sanitize_into(char *out, const char *text)
{
        *put_text(out, text, false) = 0;
}

char *utf8_sanitized(const char *text)
{
        char *out = malloc(strlen(text) + 1);

        if (out)
                *put_text(out, text, false) = 0;
        return out;
}

/* Room for need more bytes (and the closing "}\0"). */
static bool text_array_room(struct text_array *a, size_t need)
{
        need += a->len + 2;
        if (a->failed)
                return false;
        if (need > a->size) {
                size_t size = need > 2 * a->size ? need + 256 : 2 * a->size;
                char *data = realloc(a->data, size);

                if (!data) {
                        a->failed = true;
                        return false;
                }
                a->data = data;
                a->size = size;
        }
        return true;
}

void text_array_add(struct text_array *a, const char *item)
{
        if (!text_array_room(a, 2 * strlen(item) + 3))
                return;
        a->data[a->len] = a->len == 0 ? '{' : ',';
        a->data[a->len + 1] = '"';
        a->len = (size_t)(put_text(a->data + a->len + 2, item, true) - a->data);
        a->data[a->len++] = '"';
}

/* A number needs no quotes; arrays of them are most of an ingest's text,
 * so no printf either. */
void text_array_add_i64(struct text_array *a, int64_t v)
{
        uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
        char digits[20];
        size_t n = 0;

        if (!text_array_room(a, 22))
                return;
        do {
                digits[n++] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        a->data[a->len] = a->len == 0 ? '{' : ',';
        a->len++;
        if (v < 0)
                a->data[a->len++] = '-';
        while (n)
                a->data[a->len++] = digits[--n];
}

char *text_array_finish(struct text_array *a)
{
        if (a->failed) {
                free(a->data);
                return NULL;
        }
        if (a->len == 0) {
                free(a->data);
                return strdup("{}");
        }
        a->data[a->len++] = '}';
        a->data[a->len] = 0;
        return a->data;
}
