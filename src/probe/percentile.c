#include "probe/percentile.h"

#include "shared/sort.h"

static int compare_int64(const void *a, const void *b)
{
        int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

        return (x > y) - (x < y);
}

int64_t nd_percentile(int64_t *v, size_t n, unsigned p)
{
        size_t rank;

        if (n == 0)
                return -1;
        if (p > 100)
                p = 100;
        qsort_safe(v, n, sizeof(*v), compare_int64);
        /* ceil(p * n / 100), at least 1 */
        rank = ((size_t)p * n + 99) / 100;
        if (rank == 0)
                rank = 1;
        return v[rank - 1];
}
