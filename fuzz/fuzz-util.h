/* What the libFuzzer harnesses share. */
#pragma once

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "shared/gzip.h"

/* Not assert(): it must hold in every build, NDEBUG or not. */
#define check(expr)                                                                     \
        do {                                                                            \
                if (!(expr)) {                                                          \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                        \
                }                                                                       \
        } while (0)

/* The server's bound on an inflated body is larger; 1 MiB keeps each run
 * fast while still far past the gzip member sizes libFuzzer produces. */
#define FUZZ_MAX_INFLATED (1u << 20)

/* A posted body as serve reads it: the first byte picks the path (odd:
 * gzip, even: plain), so that one corpus reaches both the inflater and
 * the reader with the rest of the input. */
static inline void fuzz_posted_body(const uint8_t *data, size_t size, void (*read)(const char *text, size_t size))
{
        char *inflated = NULL;
        size_t inflated_size = 0;
        int r;

        if (size < 1)
                return;
        if (!(data[0] & 1)) {
                read((const char *)data + 1, size - 1);
                return;
        }
        r = nd_gunzip(data + 1, size - 1, FUZZ_MAX_INFLATED, &inflated, &inflated_size);
        if (r < 0) {
                check(r == -EBADMSG || r == -EFBIG || r == -ENOMEM);
                return;
        }
        check(inflated_size <= FUZZ_MAX_INFLATED);
        check(inflated[inflated_size] == '\0');
        read(inflated, inflated_size);
        free(inflated);
}
