/* Logging to stderr with levels.
 *
 * Library code logs at debug level only; the place that decides what to do
 * about an error logs it once, usually as `return log_error_errno(r, ...)`.
 * The *_errno variants set errno from r first, so "%m" names the error. */
#pragma once

#include <stdarg.h>

enum log_level {
        LOG_LEVEL_ERROR,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_NOTICE,
        LOG_LEVEL_INFO,
        LOG_LEVEL_DEBUG,
};

void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);
/* Raises (delta > 0) or lowers the level, clamped to the valid range. */
void log_adjust_level(int delta);

/* Returns -|error| (or 0 when error is 0), so callers can return it. */
int log_internal(enum log_level level, int error, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define log_error(...) log_internal(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_internal(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)

#define log_error_errno(e, ...) log_internal(LOG_LEVEL_ERROR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_notice_errno(e, ...) log_internal(LOG_LEVEL_NOTICE, (e), __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)
