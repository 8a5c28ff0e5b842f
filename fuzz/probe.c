/* Built once at configure time: tells whether this clang can make a
 * libFuzzer program with ASan and UBSan, not just whether it exists. */
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        return 0;
}
