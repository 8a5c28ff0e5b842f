#include "serve/store_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct nd_store_pool {
        pthread_mutex_t lock;
        pthread_cond_t freed;
        char *uri;
        size_t size, max_waiting;
        unsigned wait_ms;
        struct nd_store **idle; /* a stack of open, idle connections */
        size_t n_idle;
        size_t n_out; /* taken, or being opened */
        size_t n_waiting;
};

int nd_store_pool_new(const char *uri, size_t size, size_t max_waiting, unsigned wait_ms,
                      struct nd_store_pool **ret)
{
        struct nd_store_pool *p = calloc(1, sizeof(*p));
        pthread_condattr_t attr;

        if (!p)
                return -ENOMEM;
        p->uri = strdup(uri);
        p->idle = calloc(size ? size : 1, sizeof(*p->idle));
        if (!p->uri || !p->idle) {
                free(p->uri);
                free(p->idle);
                free(p);
                return -ENOMEM;
        }
        p->size = size ? size : 1;
        p->max_waiting = max_waiting;
        p->wait_ms = wait_ms;
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->freed, &attr);
        pthread_condattr_destroy(&attr);
        *ret = p;
        return 0;
}

void nd_store_pool_free(struct nd_store_pool *p)
{
        if (!p)
                return;
        for (size_t i = 0; i < p->n_idle; i++)
                nd_store_close(p->idle[i]);
        pthread_cond_destroy(&p->freed);
        pthread_mutex_destroy(&p->lock);
        free(p->idle);
        free(p->uri);
        free(p);
}

int nd_store_pool_take(struct nd_store_pool *p, struct nd_store **ret, char *why, size_t why_size)
{
        struct timespec until;
        struct nd_store *s = NULL;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += p->wait_ms / 1000;
        until.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&p->lock);
        if (p->n_idle == 0 && p->n_out >= p->size) {
                if (p->n_waiting >= p->max_waiting) {
                        pthread_mutex_unlock(&p->lock);
                        snprintf(why, why_size, "busy: %zu requests already wait for the store", p->n_waiting);
                        return -EBUSY;
                }
                p->n_waiting++;
                while (p->n_idle == 0 && p->n_out >= p->size)
                        if (pthread_cond_timedwait(&p->freed, &p->lock, &until) == ETIMEDOUT)
                                break;
                p->n_waiting--;
                if (p->n_idle == 0 && p->n_out >= p->size) {
                        pthread_mutex_unlock(&p->lock);
                        snprintf(why, why_size, "busy: no store connection freed within %u ms", p->wait_ms);
                        return -EBUSY;
                }
        }
        p->n_out++;
        if (p->n_idle > 0)
                s = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->lock);
        if (s) {
                *ret = s;
                return 0;
        }

        /* Opened outside the lock: a slow store stalls only this caller. */
        r = nd_store_open(p->uri, 0, &s, why, why_size);
        if (r >= 0) {
                r = nd_store_check_schema(s);
                if (r < 0) {
                        snprintf(why, why_size, "%s", nd_store_last_error(s));
                        s = nd_store_close(s);
                }
        }
        if (r < 0) {
                pthread_mutex_lock(&p->lock);
                p->n_out--;
                pthread_cond_signal(&p->freed);
                pthread_mutex_unlock(&p->lock);
                return r;
        }
        *ret = s;
        return 0;
}

void nd_store_pool_give(struct nd_store_pool *p, struct nd_store *s, bool broken)
{
        if (broken)
                s = nd_store_close(s);
        pthread_mutex_lock(&p->lock);
        p->n_out--;
        if (s)
                p->idle[p->n_idle++] = s;
        pthread_cond_signal(&p->freed);
        pthread_mutex_unlock(&p->lock);
}

void nd_store_pool_stats(struct nd_store_pool *p, struct nd_store_pool_stats *ret)
{
        pthread_mutex_lock(&p->lock);
        ret->open = p->n_idle + p->n_out;
        ret->busy = p->n_out;
        ret->waiting = p->n_waiting;
        pthread_mutex_unlock(&p->lock);
}
