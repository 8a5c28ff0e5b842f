/* Parsing of command-line and configuration values. All return 0 or
 * -EINVAL/-ERANGE and write *ret only on success. */
#pragma once

#include <stdint.h>

/* "250ms", "2s", "1.5s", "3m", "1h", "7d"; a bare number is seconds. */
int parse_duration_ms(const char *s, uint64_t *ret);

/* A decimal integer in [min, max], nothing else around it. */
int parse_int_range(const char *s, long long min, long long max, long long *ret);

/* Index of s in the NULL-terminated names, or -EINVAL. */
int parse_choice(const char *s, const char *const *names);
