#include "shared/why.h"

#include <stdarg.h>
#include <stdio.h>

void nd_why_set(char *why, size_t why_size, const char *fmt, ...)
{
        va_list ap;

        if (!why || why_size == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
}
