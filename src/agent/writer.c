#include "agent/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define PRUNE_EVERY_S 3600

struct nd_writer {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake; /* work arrived, or stop asked */
        pthread_cond_t idle; /* the queue became empty */
        char *uri;
        uint64_t retention_s;
        /* A ring of queued flushes. */
        struct nd_flush **ring;
        size_t capacity, head, count;
        bool stopping;
        bool busy; /* writing the head flush right now */
        bool down; /* the last attempt failed */
        struct nd_writer_stats stats;
};

struct nd_flush *nd_flush_free(struct nd_flush *f)
{
        if (!f)
                return NULL;
        free(f->hostname);
        for (size_t i = 0; i < f->n_host_addrs; i++)
                free(f->host_addrs[i]);
        free(f->host_addrs);
        free(f->rows);
        free(f);
        return NULL;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
        clock_gettime(CLOCK_MONOTONIC, ts);
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

int nd_flush_write(struct nd_store *s, const struct nd_flush *f)
{
        struct nd_ingest in = {
                .hostname = f->hostname,
                .host_addrs = (const char *const *)f->host_addrs,
                .n_host_addrs = f->n_host_addrs,
                .ts = f->ts,
                .first_ts = f->first_ts,
                .rows = f->rows,
                .n_rows = f->n_rows,
        };
        return nd_store_ingest(s, &in);
}

/* Opens the store and checks its schema; on failure logs only if asked. */
static int connect_store(struct nd_writer *w, struct nd_store **ret, char *why, size_t why_size)
{
        struct nd_store *s = NULL;
        int r = nd_store_open(w->uri, 0, &s, why, why_size);

        if (r < 0)
                return r;
        r = nd_store_check_schema(s);
        if (r < 0) {
                snprintf(why, why_size, "%s", nd_store_last_error(s));
                nd_store_close(s);
                return r;
        }
        *ret = s;
        return 0;
}

static void *writer_main(void *arg)
{
        struct nd_writer *w = arg;
        struct nd_store *store = NULL;
        unsigned backoff_ms = BACKOFF_MIN_MS;
        int64_t last_prune = 0;
        bool down = false; /* we said the store is down */
        char *shown = nd_store_redact_uri(w->uri);
        const char *name = shown ? shown : "(store)";

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (w->count == 0 && !w->stopping)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->count == 0 && w->stopping)
                        break;

                struct nd_flush *f = w->ring[w->head];
                char why[512] = "";
                int r = 0;

                w->busy = true;
                pthread_mutex_unlock(&w->lock);

                if (!store)
                        r = connect_store(w, &store, why, sizeof(why));
                if (r >= 0) {
                        r = nd_flush_write(store, f);
                        if (r < 0) {
                                snprintf(why, sizeof(why), "%s", nd_store_last_error(store));
                                /* The connection may be gone: start afresh. */
                                store = nd_store_close(store);
                        }
                }
                if (r >= 0 && w->retention_s && f->ts - last_prune >= PRUNE_EVERY_S) {
                        int pruned = nd_store_prune(store, f->ts - (int64_t)w->retention_s);
                        if (pruned < 0)
                                log_warning("Failed to prune store %s: %s", name, nd_store_last_error(store));
                        else if (pruned > 0)
                                log_info("pruned %d edges older than the retention from %s", pruned, name);
                        last_prune = f->ts;
                }

                pthread_mutex_lock(&w->lock);
                w->busy = false;
                if (r >= 0) {
                        w->ring[w->head] = NULL;
                        w->head = (w->head + 1) % w->capacity;
                        w->count--;
                        w->stats.written++;
                        w->stats.store_up = true;
                        w->down = false;
                        if (down) {
                                log_notice("store %s is back; writing %zu queued flushes", name, w->count + 1);
                                down = false;
                        }
                        backoff_ms = BACKOFF_MIN_MS;
                        nd_flush_free(f);
                        if (w->count == 0)
                                pthread_cond_broadcast(&w->idle);
                        continue;
                }

                w->stats.failures++;
                w->stats.store_up = false;
                w->down = true;
                pthread_cond_broadcast(&w->idle); /* a stop waiting for a drain gives up */
                if (!down) {
                        log_warning("store %s unavailable (%s); queuing flushes, retrying with backoff",
                                    name, why[0] ? why : strerror(-r));
                        down = true;
                }
                if (w->stopping)
                        break;
                /* Back off; a stop request cuts the wait short. */
                struct timespec until;
                deadline_in(&until, backoff_ms);
                while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
                        ;
                backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
                if (w->stopping)
                        break;
        }
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->lock);
        nd_store_close(store);
        free(shown);
        return NULL;
}

int nd_writer_start(const char *store_uri, size_t max_queued, uint64_t retention_s, struct nd_writer **ret)
{
        struct nd_writer *w = calloc(1, sizeof(*w));
        pthread_condattr_t attr;

        if (!w)
                return -ENOMEM;
        w->capacity = max_queued ? max_queued : 1;
        w->ring = calloc(w->capacity, sizeof(*w->ring));
        w->uri = strdup(store_uri);
        w->retention_s = retention_s;
        if (!w->ring || !w->uri) {
                free(w->ring);
                free(w->uri);
                free(w);
                return -ENOMEM;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&w->wake, &attr);
        pthread_cond_init(&w->idle, &attr);
        pthread_condattr_destroy(&attr);
        if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
                pthread_cond_destroy(&w->wake);
                pthread_cond_destroy(&w->idle);
                pthread_mutex_destroy(&w->lock);
                free(w->ring);
                free(w->uri);
                free(w);
                return -EAGAIN;
        }
        *ret = w;
        return 0;
}

void nd_writer_submit(struct nd_writer *w, struct nd_flush *f)
{
        pthread_mutex_lock(&w->lock);
        if (w->count == w->capacity) {
                /* Full: drop the oldest that is not being written now. */
                size_t victim = w->busy ? (w->head + 1) % w->capacity : w->head;
                if (w->busy && w->capacity == 1) {
                        w->stats.dropped++;
                        pthread_mutex_unlock(&w->lock);
                        nd_flush_free(f);
                        return;
                }
                nd_flush_free(w->ring[victim]);
                /* Close the gap: shift the ones after it down by one. */
                for (size_t i = victim; i != (w->head + w->count - 1) % w->capacity; i = (i + 1) % w->capacity)
                        w->ring[i] = w->ring[(i + 1) % w->capacity];
                w->count--;
                if (++w->stats.dropped == 1 || w->stats.dropped % 100 == 0)
                        log_warning("flush queue full (%zu flushes): dropped the oldest (%llu dropped so far)",
                                    w->capacity, (unsigned long long)w->stats.dropped);
        }
        w->ring[(w->head + w->count) % w->capacity] = f;
        w->count++;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
}

size_t nd_writer_stop(struct nd_writer *w, unsigned timeout_ms, struct nd_writer_stats *ret_stats)
{
        struct timespec until;
        size_t left;

        deadline_in(&until, timeout_ms);
        pthread_mutex_lock(&w->lock);
        /* Let it drain while the store answers, up to the deadline. */
        while (w->count > 0 && !w->down)
                if (pthread_cond_timedwait(&w->idle, &w->lock, &until) == ETIMEDOUT)
                        break;
        w->stopping = true;
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);

        left = w->count;
        if (ret_stats) {
                *ret_stats = w->stats;
                ret_stats->queued = left;
        }
        for (size_t i = 0; i < w->count; i++)
                nd_flush_free(w->ring[(w->head + i) % w->capacity]);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->idle);
        pthread_mutex_destroy(&w->lock);
        free(w->ring);
        free(w->uri);
        free(w);
        return left;
}
