#define PQ_DL_IMPLEMENTATION
#include "store/libpq-dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#define PQ_DEFINE(f) __typeof__(f) *sym_##f;
PQ_FUNCTIONS(PQ_DEFINE)
#undef PQ_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
        /* Never unloaded: libpq keeps process-wide state (SSL init). */
        void *dl = dlopen("libpq.so.5", RTLD_NOW | RTLD_NODELETE);

        if (!dl) {
                snprintf(load_error, sizeof(load_error), "%s", dlerror());
                return;
        }
#define PQ_LOAD(f)                                                             \
        if (!load_error[0] && !(sym_##f = (__typeof__(f) *)dlsym(dl, #f)))     \
                snprintf(load_error, sizeof(load_error), "libpq.so.5 lacks %s", #f);
        PQ_FUNCTIONS(PQ_LOAD)
#undef PQ_LOAD
}

int pq_dlopen(char *errbuf, size_t size)
{
        pthread_once(&once, load);
        if (load_error[0]) {
                snprintf(errbuf, size, "PostgreSQL support needs libpq (Debian: libpq5): %s", load_error);
                return -EOPNOTSUPP;
        }
        return 0;
}
