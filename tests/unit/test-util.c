#include "test-util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

void *test_read_data(const char *name, size_t *ret_len)
{
        const char *dir = getenv("ND_TEST_DATA");
        char path[4096];
        FILE *f;
        char *buf;
        long len;

        snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/unit/data", name);
        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)len + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
        buf[len] = 0;
        fclose(f);
        *ret_len = (size_t)len;
        return buf;
}
