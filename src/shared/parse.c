#include "shared/parse.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>

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

static int parse_rfc3339(const char *s, int64_t *ret)
{
        struct tm tm = {};
        const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        int64_t t, offset = 0;

        if (!p)
                p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') /* fractional seconds: ignored */
                for (p++; *p >= '0' && *p <= '9'; p++)
                        ;
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                int sign = *p == '-' ? -1 : 1, hh, mm;
                if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6 || hh > 23 || mm > 59)
                        return -EINVAL;
                offset = sign * (hh * 3600 + mm * 60);
                p += 6;
        } else
                return -EINVAL; /* RFC 3339 requires a zone */
        if (*p)
                return -EINVAL;
        t = (int64_t)timegm(&tm);
        *ret = t - offset;
        return 0;
}

int parse_time_point(const char *s, int64_t now, int64_t *ret)
{
        uint64_t ms;

        if (parse_duration_ms(s, &ms) == 0) {
                if (ms / 1000 > (uint64_t)INT64_MAX / 2)
                        return -ERANGE;
                *ret = now - (int64_t)(ms / 1000);
                return 0;
        }
        return parse_rfc3339(s, ret);
}

int parse_time_range(const char *s, int64_t now, int64_t *ret_since, int64_t *ret_until)
{
        const char *dots = strstr(s, "..");
        char first[128];
        int64_t since, until;

        if (!dots || (size_t)(dots - s) >= sizeof(first))
                return -EINVAL;
        memcpy(first, s, (size_t)(dots - s));
        first[dots - s] = 0;
        if (parse_time_point(first, now, &since) < 0 || parse_time_point(dots + 2, now, &until) < 0)
                return -EINVAL;
        if (since > until)
                return -ERANGE;
        *ret_since = since;
        *ret_until = until;
        return 0;
}

int parse_size(const char *s, uint64_t *ret)
{
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = {
                { "", 1 }, { "k", 1ull << 10 }, { "K", 1ull << 10 }, { "KiB", 1ull << 10 },
                { "M", 1ull << 20 }, { "MiB", 1ull << 20 }, { "G", 1ull << 30 }, { "GiB", 1ull << 30 },
        };
        unsigned long long v;
        char *end;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (strcmp(end, units[i].suffix) == 0) {
                        if (v > UINT64_MAX / units[i].factor)
                                return -ERANGE;
                        *ret = v * units[i].factor;
                        return 0;
                }
        return -EINVAL;
}
