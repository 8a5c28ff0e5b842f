#include "shared/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* The one piece of process-wide mutable state outside main: a logger's level
 * is a property of the process, as in systemd's log.c. */
static enum log_level max_level = LOG_LEVEL_NOTICE;

void log_set_max_level(enum log_level level)
{
        max_level = level;
}

enum log_level log_get_max_level(void)
{
        return max_level;
}

void log_adjust_level(int delta)
{
        int l = (int)max_level + delta;

        if (l < LOG_LEVEL_ERROR)
                l = LOG_LEVEL_ERROR;
        if (l > LOG_LEVEL_DEBUG)
                l = LOG_LEVEL_DEBUG;
        max_level = (enum log_level)l;
}

int log_internal(enum log_level level, int error, const char *fmt, ...)
{
        static const char *const prefix[] = {
                [LOG_LEVEL_ERROR] = "error: ",
                [LOG_LEVEL_WARNING] = "warning: ",
                [LOG_LEVEL_NOTICE] = "",
                [LOG_LEVEL_INFO] = "",
                [LOG_LEVEL_DEBUG] = "debug: ",
        };
        int r = error < 0 ? error : -error;

        if (level > max_level)
                return r;

        va_list ap;
        int saved = errno;

        errno = -r;
        fprintf(stderr, "netdep: %s", prefix[level]);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        errno = saved;
        return r;
}
