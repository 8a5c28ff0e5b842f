#include "shared/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int parse_duration_ms(const char *s, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                double ms;
        } units[] = {
                { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "d", 86400000 }, { "", 1000 },
        };
        char *end;
        double v;

        if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || errno || !isfinite(v) || v < 0)
                return -EINVAL;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (strcmp(end, units[i].suffix) == 0) {
                        double ms = v * units[i].ms;
                        if (ms > (double)UINT64_MAX / 2)
                                return -ERANGE;
                        *ret = (uint64_t)(ms + 0.5);
                        return 0;
                }
        return -EINVAL;
}

int parse_int_range(const char *s, long long min, long long max, long long *ret)
{
        char *end;
        long long v;

        if (!s || !*s || *s == ' ')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (*end || end == s)
                return -EINVAL;
        if (errno == ERANGE || v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_choice(const char *s, const char *const *names)
{
        for (int i = 0; names[i]; i++)
                if (strcmp(s, names[i]) == 0)
                        return i;
        return -EINVAL;
}
