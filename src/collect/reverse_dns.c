#include "collect/reverse_dns.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RESOLVER_THREADS 8

/* Shared by the caller and the workers; the last one out frees it. */
struct lookup {
        pthread_mutex_t lock;
        pthread_cond_t done;
        unsigned refs;
        size_t n, next, finished;
        struct nd_addr *addrs;
        char **names;
};

static void lookup_unref(struct lookup *l)
{
        bool last;

        pthread_mutex_lock(&l->lock);
        last = --l->refs == 0;
        pthread_mutex_unlock(&l->lock);
        if (!last)
                return;
        nd_names_free(l->names, l->n);
        free(l->addrs);
        pthread_cond_destroy(&l->done);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

static char *lookup_one(const struct nd_addr *a)
{
        struct sockaddr_storage ss = {};
        socklen_t len;
        char host[NI_MAXHOST];

        if (a->family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                sin->sin_family = AF_INET;
                memcpy(&sin->sin_addr, a->bytes, 4);
                len = sizeof(*sin);
        } else {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
                sin6->sin6_family = AF_INET6;
                memcpy(&sin6->sin6_addr, a->bytes, 16);
                len = sizeof(*sin6);
        }
        if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL, 0, NI_NAMEREQD) != 0)
                return NULL;
        return strdup(host);
}

static void *worker(void *arg)
{
        struct lookup *l = arg;

        for (;;) {
                struct nd_addr a;
                size_t i;

                pthread_mutex_lock(&l->lock);
                i = l->next < l->n ? l->next++ : l->n;
                if (i < l->n)
                        a = l->addrs[i];
                pthread_mutex_unlock(&l->lock);
                if (i >= l->n)
                        break;

                char *name = lookup_one(&a);

                pthread_mutex_lock(&l->lock);
                l->names[i] = name;
                if (++l->finished == l->n)
                        pthread_cond_signal(&l->done);
                pthread_mutex_unlock(&l->lock);
        }
        lookup_unref(l);
        return NULL;
}

char **nd_names_free(char **names, size_t n)
{
        for (size_t i = 0; names && i < n; i++)
                free(names[i]);
        free(names);
        return NULL;
}

int nd_reverse_dns(const struct nd_addr *addrs, size_t n, unsigned budget_ms, char ***ret_names)
{
        struct lookup *l;
        struct timespec deadline;
        char **result;
        size_t threads = n < RESOLVER_THREADS ? n : RESOLVER_THREADS;

        result = calloc(n ? n : 1, sizeof(*result));
        if (!result)
                return -ENOMEM;
        if (n == 0) {
                *ret_names = result;
                return 0;
        }

        l = calloc(1, sizeof(*l));
        if (!l || !(l->addrs = malloc(n * sizeof(*addrs))) || !(l->names = calloc(n, sizeof(char *)))) {
                if (l) {
                        free(l->addrs);
                        free(l);
                }
                free(result);
                return -ENOMEM;
        }
        memcpy(l->addrs, addrs, n * sizeof(*addrs));
        l->n = n;
        l->refs = 1;
        pthread_mutex_init(&l->lock, NULL);
        pthread_cond_init(&l->done, NULL);

        for (size_t t = 0; t < threads; t++) {
                pthread_t tid;
                pthread_attr_t attr;

                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                pthread_mutex_lock(&l->lock);
                l->refs++;
                pthread_mutex_unlock(&l->lock);
                if (pthread_create(&tid, &attr, worker, l) != 0) {
                        pthread_mutex_lock(&l->lock);
                        l->refs--;
                        pthread_mutex_unlock(&l->lock);
                }
                pthread_attr_destroy(&attr);
        }

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += budget_ms / 1000;
        deadline.tv_nsec += (long)(budget_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }

        pthread_mutex_lock(&l->lock);
        while (l->finished < l->n && l->refs > 1)
                if (pthread_cond_timedwait(&l->done, &l->lock, &deadline) == ETIMEDOUT)
                        break;
        /* Take what is answered; a late answer lands in l->names and is
         * freed with it. */
        for (size_t i = 0; i < n; i++) {
                result[i] = l->names[i];
                l->names[i] = NULL;
        }
        l->next = l->n; /* workers stop after their current lookup */
        pthread_mutex_unlock(&l->lock);
        lookup_unref(l);

        *ret_names = result;
        return 0;
}
