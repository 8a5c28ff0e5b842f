/* qsort() that accepts an empty array: passing NULL with 0 elements is
 * undefined behaviour for qsort itself (and UBSan says so). */
#pragma once

#include <stdlib.h>

static inline void qsort_safe(void *base, size_t n, size_t size, int (*compare)(const void *, const void *))
{
        if (n > 1)
                qsort(base, n, size, compare);
}
