/* gzip in memory (zlib): what an agent's report travels as. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Caller owns *ret. */
int nd_gzip(const void *in, size_t in_size, uint8_t **ret, size_t *ret_size);

/* Inflates a whole gzip member, never past max_out bytes of output: a
 * small body cannot blow up into gigabytes. -EFBIG past max_out;
 * -EBADMSG when not gzip, damaged or cut short; -ENOMEM. The output is
 * NUL-terminated (not counted in *ret_size). Caller owns *ret. */
int nd_gunzip(const void *in, size_t in_size, size_t max_out, char **ret, size_t *ret_size);
