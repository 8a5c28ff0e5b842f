#include "shared/ticker.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct nd_ticker {
        uint64_t period_ms;
        void (*fn)(void *userdata);
        void *userdata;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond; /* on CLOCK_MONOTONIC */
        bool stopping;
};

static void *ticker_main(void *arg)
{
        struct nd_ticker *t = arg;
        struct timespec until;

        pthread_mutex_lock(&t->lock);
        while (!t->stopping) {
                pthread_mutex_unlock(&t->lock);
                t->fn(t->userdata);
                pthread_mutex_lock(&t->lock);
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += (time_t)(t->period_ms / 1000);
                until.tv_nsec += (long)(t->period_ms % 1000) * 1000000L;
                if (until.tv_nsec >= 1000000000L) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000L;
                }
                while (!t->stopping && pthread_cond_timedwait(&t->cond, &t->lock, &until) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&t->lock);
        return NULL;
}

int nd_ticker_start(uint64_t period_ms, void (*fn)(void *userdata), void *userdata, struct nd_ticker **ret)
{
        struct nd_ticker *t = calloc(1, sizeof(*t));
        pthread_condattr_t attr;

        if (!t)
                return -ENOMEM;
        *t = (struct nd_ticker){ .period_ms = period_ms, .fn = fn, .userdata = userdata };
        pthread_mutex_init(&t->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&t->cond, &attr);
        pthread_condattr_destroy(&attr);
        if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
                pthread_cond_destroy(&t->cond);
                pthread_mutex_destroy(&t->lock);
                free(t);
                return -EAGAIN;
        }
        *ret = t;
        return 0;
}

struct nd_ticker *nd_ticker_stop(struct nd_ticker *t)
{
        if (!t)
                return NULL;
        pthread_mutex_lock(&t->lock);
        t->stopping = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
        pthread_cond_destroy(&t->cond);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return NULL;
}
