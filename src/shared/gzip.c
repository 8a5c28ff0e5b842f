#include "shared/gzip.h"

#include <errno.h>
#include <stdlib.h>
#include <zlib.h>

/* windowBits 15 + 16: a gzip header and trailer, not zlib's. */
#define GZIP_WINDOW (15 + 16)

int nd_gzip(const void *in, size_t in_size, uint8_t **ret, size_t *ret_size)
{
        z_stream z = {};
        uint8_t *out;
        size_t bound;
        int zr;

        if (in_size > UINT32_MAX)
                return -EFBIG;
        /* Level 1: a flush is repetitive text, and speed matters more than
         * the last few percent. */
        if (deflateInit2(&z, 1, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        bound = deflateBound(&z, (uLong)in_size);
        out = malloc(bound);
        if (!out) {
                deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)in_size;
        z.next_out = out;
        z.avail_out = (uInt)bound;
        zr = deflate(&z, Z_FINISH);
        deflateEnd(&z);
        if (zr != Z_STREAM_END) {
                free(out);
                return -EIO;
        }
        *ret = out;
        *ret_size = bound - z.avail_out;
        return 0;
}

int nd_gunzip(const void *in, size_t in_size, size_t max_out, char **ret, size_t *ret_size)
{
        z_stream z = {};
        size_t allocated = in_size * 4 < 4096 ? 4096 : in_size * 4, used = 0;
        char *out;
        int zr = Z_OK;

        if (in_size > UINT32_MAX)
                return -EFBIG;
        /* Room for one byte past max_out, to tell "exactly max_out" from
         * "more", and the NUL. */
        if (allocated > max_out + 2)
                allocated = max_out + 2;
        out = malloc(allocated);
        if (!out)
                return -ENOMEM;
        if (inflateInit2(&z, GZIP_WINDOW) != Z_OK) {
                free(out);
                return -ENOMEM;
        }
        z.next_in = (Bytef *)in;
        z.avail_in = (uInt)in_size;
        for (;;) {
                if (used + 1 >= allocated) {
                        /* One byte is kept for the NUL. */
                        size_t want = allocated * 2 > max_out + 2 ? max_out + 2 : allocated * 2;
                        char *bigger;

                        if (want <= allocated) {
                                zr = Z_BUF_ERROR; /* past max_out */
                                break;
                        }
                        bigger = realloc(out, want);
                        if (!bigger) {
                                zr = Z_MEM_ERROR;
                                break;
                        }
                        out = bigger;
                        allocated = want;
                }
                z.next_out = (Bytef *)out + used;
                z.avail_out = (uInt)(allocated - 1 - used);
                zr = inflate(&z, Z_NO_FLUSH);
                used = allocated - 1 - z.avail_out;
                if (zr == Z_STREAM_END || (zr != Z_OK && zr != Z_BUF_ERROR))
                        break;
                if (zr == Z_BUF_ERROR && z.avail_out > 0) {
                        /* No progress with room to spare: input cut short. */
                        zr = Z_DATA_ERROR;
                        break;
                }
        }
        inflateEnd(&z);
        if (used > max_out)
                zr = Z_BUF_ERROR;
        else if (zr == Z_STREAM_END && z.avail_in > 0)
                zr = Z_DATA_ERROR; /* bytes after the member */
        if (zr != Z_STREAM_END) {
                free(out);
                return zr == Z_MEM_ERROR ? -ENOMEM : zr == Z_BUF_ERROR ? -EFBIG : -EBADMSG;
        }
        out[used] = '\0';
        *ret = out;
        *ret_size = used;
        return 0;
}
