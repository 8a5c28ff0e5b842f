/* Parsing of command-line and configuration values. All return 0 or
 * -EINVAL/-ERANGE and write *ret only on success. */
#pragma once

#include <stdint.h>

/* "250ms", "2s", "1.5s", "3m", "1h", "7d"; a bare number is seconds. */
int parse_duration_ms(const char *s, uint64_t *ret);

/* A decimal integer in [min, max], nothing else around it. */
int parse_int_range(const char *s, long long min, long long max, long long *ret);

/* A size in bytes: "1048576", "512k", "8M", "8MiB", "1G". */
int parse_size(const char *s, uint64_t *ret);

/* Index of s in the NULL-terminated names, or -EINVAL. */
int parse_choice(const char *s, const char *const *names);

/* A point in time, unix seconds: a duration back from now ("90s", "30m",
 * "2h", "7d") or RFC 3339 ("2026-11-22T08:00:00Z", "...+09:00", fractional
 * seconds allowed). */
int parse_time_point(const char *s, int64_t now, int64_t *ret);

/* "T1..T2", either side a time point as above. */
int parse_time_range(const char *s, int64_t now, int64_t *ret_since, int64_t *ret_until);
