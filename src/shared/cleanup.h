/* Scope-bound cleanup, in the manner of systemd's _cleanup_ attributes.
 *
 * An owned local carries a cleanup attribute; ownership leaves the scope
 * only through TAKE_PTR()/TAKE_FD(), which also disarm the cleanup. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

#define TAKE_PTR(p)                                                            \
        ({                                                                     \
                __typeof__(p) _taken = (p);                                    \
                (p) = NULL;                                                    \
                _taken;                                                        \
        })

#define TAKE_FD(fd)                                                            \
        ({                                                                     \
                int _taken_fd = (fd);                                          \
                (fd) = -EBADF;                                                 \
                _taken_fd;                                                     \
        })

/* Defines name##p(type *p) that calls func(*p) when *p is set. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                                \
        static inline void func##p(type *p)                                    \
        {                                                                      \
                if (*p)                                                        \
                        func(*p);                                              \
        }

static inline void freep(void *p)
{
        free(*(void **)p);
}

/* Keeps errno intact: cleanup runs after the value to return is computed,
 * and a log line using %m must still see the original error. */
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

static inline void fclosep(FILE **f)
{
        if (*f) {
                int saved = errno;
                fclose(*f);
                errno = saved;
        }
}

static inline void closedirp(DIR **d)
{
        if (*d) {
                int saved = errno;
                closedir(*d);
                errno = saved;
        }
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
