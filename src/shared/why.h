/* A one-line reason for a failure, written into a caller's buffer: for
 * functions whose caller decides whether and how to say it. */
#pragma once

#include <stddef.h>

/* Formats into why (why_size bytes, cut to fit); nothing when why is NULL
 * or why_size is 0. */
void nd_why_set(char *why, size_t why_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
