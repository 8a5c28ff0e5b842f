#include "agent/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/spool.h"
#include "shared/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define PRUNE_EVERY_S 3600

struct nd_writer {
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake; /* work arrived, or stop asked */
        pthread_cond_t idle; /* the queue became empty */
        /* Where flushes go: the config's strings, owned. */
        struct nd_destination_config dest;
        char *spool_dir; /* NULL: no spool */
        uint64_t retention_s;
        /* A ring of queued flushes. */
        struct nd_flush **ring;
        size_t capacity, head, count;
        bool stopping;
        bool busy; /* writing the head flush right now */
        bool down; /* the last attempt failed */
        size_t max_edges; /* per queued flush; 0: any */
        struct nd_writer_stats stats;
};

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

/* The files in the spool when the writer started: delivered before the
 * queue, oldest first. */
struct spool_replay {
        char **names;
        size_t n, next;
};

/* Claims and reads the next spooled flush, passing over those another
 * agent has, and setting aside those it cannot read. Returns true with
 * *ret and the claim in *ret_fd; false when none is left. Called without
 * the lock: only the writer's thread touches the replay and its counter. */
static bool take_spooled(struct nd_writer *w, struct spool_replay *sp, struct nd_flush **ret, int *ret_fd)
{
        while (sp->next < sp->n) {
                const char *file = sp->names[sp->next];
                char why[200] = "";
                int r = nd_spool_take(w->spool_dir, file, ret_fd, ret, why, sizeof(why));

                if (r >= 0)
                        return true;
                sp->next++;
                if (r == -ENOENT || r == -EBUSY)
                        continue; /* another agent delivered it, or is delivering it */
                if (r == -EBADMSG || r == -EPROTONOSUPPORT) {
                        int rr = nd_spool_set_aside(w->spool_dir, file);
                        if (rr < 0)
                                log_warning_errno(rr, "agent: spool file %s/%s unreadable (%s), and could not be "
                                                  "set aside: %m", w->spool_dir, file, why);
                        else
                                log_warning("agent: spool file %s/%s unreadable (%s); set aside as %s.bad",
                                            w->spool_dir, file, why, file);
                        w->stats.spool_set_aside++;
                        continue;
                }
                log_warning_errno(r, "agent: could not read spool file %s/%s, left for the next start: %m",
                                  w->spool_dir, file);
        }
        return false;
}

static void spool_replayed(const struct nd_writer *w)
{
        log_notice("agent: spool %s: %llu spooled flushes delivered", w->spool_dir,
                   (unsigned long long)w->stats.spool_delivered);
}

static void *writer_main(void *arg)
{
        struct nd_writer *w = arg;
        struct nd_destination *dest = NULL;
        struct spool_replay sp = {};
        unsigned backoff_ms = BACKOFF_MIN_MS, retry_after_ms = 0;
        int64_t last_prune = 0;
        bool down = false; /* we said the destination is down */
        char *shown = w->dest.server_url ? strdup(w->dest.server_url) : nd_store_redact_uri(w->dest.store_uri);
        const char *name = shown ? shown : "(store)";

        if (w->spool_dir) {
                int r = nd_spool_list(w->spool_dir, &sp.names, &sp.n);
                if (r < 0)
                        log_warning_errno(r, "agent: could not read spool %s: %m", w->spool_dir);
                else if (sp.n > 0)
                        log_notice("agent: %zu spooled flushes in %s, delivering them first", sp.n, w->spool_dir);
        }

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (w->count == 0 && sp.next == sp.n && !w->stopping)
                        pthread_cond_wait(&w->wake, &w->lock);
                /* At stop the spool's files stay for the next start; the
                 * queue is written while the store answers, and what is left
                 * of it is spooled after them. */
                if (w->stopping && (w->count == 0 || sp.next < sp.n))
                        break;

                struct nd_flush *f = NULL;
                int claim = -EBADF; /* f came from the spool: its file's claim */
                char why[512] = "";
                int r = 0;

                if (sp.next < sp.n) {
                        bool got;

                        pthread_mutex_unlock(&w->lock);
                        got = take_spooled(w, &sp, &f, &claim);
                        pthread_mutex_lock(&w->lock);
                        if (!got) {
                                spool_replayed(w);
                                continue;
                        }
                } else {
                        f = w->ring[w->head];
                        w->busy = true;
                }
                pthread_mutex_unlock(&w->lock);

                if (!dest)
                        r = nd_destination_open(&w->dest, &dest, why, sizeof(why));
                if (r >= 0) {
                        r = nd_destination_write(dest, f, &retry_after_ms, why, sizeof(why));
                        /* The connection may be gone: start afresh. */
                        if (r < 0 && r != -EBADMSG)
                                dest = nd_destination_close(dest);
                }
                if (r >= 0 && w->retention_s && f->ts - last_prune >= PRUNE_EVERY_S) {
                        char pwhy[512] = "";
                        int pruned = nd_destination_prune(dest, f->ts - (int64_t)w->retention_s, pwhy, sizeof(pwhy));
                        if (pruned < 0)
                                log_warning("Failed to prune store %s: %s", name, pwhy);
                        else if (pruned > 0)
                                log_info("pruned %d edges older than the retention from %s", pruned, name);
                        last_prune = f->ts;
                }
                if (r == -EBADMSG) {
                        /* Refused for good: retrying would block the queue
                         * forever. Said every time: each one is a loss. */
                        log_error("%s refused a flush of %zu edges for good, dropped: %s", name, f->n_rows, why);
                        if (claim >= 0) {
                                int rr = nd_spool_set_aside(w->spool_dir, sp.names[sp.next]);
                                if (rr < 0)
                                        log_warning_errno(rr, "agent: could not set aside spool file %s/%s: %m",
                                                          w->spool_dir, sp.names[sp.next]);
                                close(claim);
                        }
                }

                if (r >= 0 && claim >= 0) {
                        int rr = nd_spool_remove(w->spool_dir, sp.names[sp.next], claim);
                        if (rr < 0)
                                log_warning_errno(rr, "agent: could not remove spool file %s/%s once stored "
                                                  "(the next start delivers it again): %m",
                                                  w->spool_dir, sp.names[sp.next]);
                }

                pthread_mutex_lock(&w->lock);
                w->busy = false;
                if (r == -EBADMSG)
                        w->stats.rejected++;
                if (r >= 0 || r == -EBADMSG) {
                        if (claim >= 0) {
                                sp.next++;
                                if (r >= 0)
                                        w->stats.spool_delivered++;
                                if (sp.next == sp.n)
                                        spool_replayed(w);
                        } else {
                                w->ring[w->head] = NULL;
                                w->head = (w->head + 1) % w->capacity;
                                w->count--;
                                if (r >= 0)
                                        w->stats.written++;
                        }
                        w->stats.store_up = true;
                        w->down = false;
                        if (down) {
                                log_notice("%s %s is back; writing %zu queued flushes",
                                           w->dest.server_url ? "server" : "store", name,
                                           w->count + (sp.n - sp.next) + 1);
                                down = false;
                        }
                        backoff_ms = BACKOFF_MIN_MS;
                        nd_flush_free(f);
                        if (w->count == 0)
                                pthread_cond_broadcast(&w->idle);
                        continue;
                }
                if (claim >= 0) {
                        /* Read again on the next try: meanwhile another
                         * agent may deliver it. */
                        close(claim);
                        nd_flush_free(f);
                }

                w->stats.failures++;
                w->stats.store_up = false;
                w->down = true;
                pthread_cond_broadcast(&w->idle); /* a stop waiting for a drain gives up */
                if (!down) {
                        log_warning("%s %s unavailable (%s); queuing flushes, retrying with backoff",
                                    w->dest.server_url ? "server" : "store", name, why[0] ? why : strerror(-r));
                        down = true;
                }
                if (w->stopping)
                        break;
                /* Back off, at least as long as the server asked; a stop
                 * request cuts the wait short. */
                struct timespec until;
                deadline_in(&until, retry_after_ms > backoff_ms ? retry_after_ms : backoff_ms);
                while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT)
                        ;
                backoff_ms = backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2;
                if (w->stopping)
                        break;
        }
        pthread_cond_broadcast(&w->idle);
        pthread_mutex_unlock(&w->lock);
        nd_destination_close(dest);
        nd_spool_names_free(sp.names, sp.n);
        free(shown);
        return NULL;
}

static void writer_free(struct nd_writer *w)
{
        free(w->ring);
        free((char *)w->dest.store_uri);
        free((char *)w->dest.server_url);
        free((char *)w->dest.token_file);
        free((char *)w->dest.ca_file);
        free(w->spool_dir);
        free(w);
}

/* A copy of s, or of NULL; false when out of memory. */
static bool copy_string(const char *s, const char **ret)
{
        *ret = s ? strdup(s) : NULL;
        return !s || *ret;
}

int nd_writer_start(const struct nd_destination_config *dest, size_t max_queued, uint64_t retention_s,
                    const char *spool_dir, struct nd_writer **ret)
{
        struct nd_writer *w = calloc(1, sizeof(*w));
        pthread_condattr_t attr;
        bool ok;

        if (!w)
                return -ENOMEM;
        w->capacity = max_queued ? max_queued : 1;
        w->ring = calloc(w->capacity, sizeof(*w->ring));
        w->spool_dir = spool_dir ? strdup(spool_dir) : NULL;
        w->retention_s = retention_s;
        w->max_edges = nd_destination_max_edges(dest);
        ok = copy_string(dest->store_uri, &w->dest.store_uri);
        ok = copy_string(dest->server_url, &w->dest.server_url) && ok;
        ok = copy_string(dest->token_file, &w->dest.token_file) && ok;
        ok = copy_string(dest->ca_file, &w->dest.ca_file) && ok;
        if (!ok || !w->ring || (spool_dir && !w->spool_dir)) {
                writer_free(w);
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
                writer_free(w);
                return -EAGAIN;
        }
        *ret = w;
        return 0;
}

static void submit_one(struct nd_writer *w, struct nd_flush *f)
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

void nd_writer_submit(struct nd_writer *w, struct nd_flush *f)
{
        struct nd_flush **parts;
        size_t n;

        /* A destination that takes bounded writes gets the flush in parts,
         * each one queued, retried and spooled on its own. */
        if (!w->max_edges || f->n_rows <= w->max_edges) {
                submit_one(w, f);
                return;
        }
        if (nd_flush_split(f, w->max_edges, &parts, &n) < 0) {
                pthread_mutex_lock(&w->lock);
                w->stats.dropped++;
                pthread_mutex_unlock(&w->lock);
                log_warning("out of memory splitting a flush of %zu edges: dropped", f->n_rows);
                return;
        }
        for (size_t i = 0; i < n; i++)
                submit_one(w, parts[i]);
        free(parts);
}

size_t nd_writer_stop(struct nd_writer *w, unsigned timeout_ms, struct nd_writer_stats *ret_stats)
{
        struct timespec until;
        size_t left, lost;

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
        lost = left;
        lost += w->stats.rejected;
        w->stats.spool_failed = left;
        if (left > 0 && w->spool_dir) {
                /* In queue order, oldest first: the ring's slots from its head. */
                struct nd_flush **rest = calloc(left, sizeof(*rest));
                const struct nd_spool_limits limits = { ND_SPOOL_MAX_FILES, ND_SPOOL_MAX_BYTES };
                struct nd_spool_report rep = { .failed = left, .error = -ENOMEM };

                if (rest) {
                        for (size_t i = 0; i < left; i++)
                                rest[i] = w->ring[(w->head + i) % w->capacity];
                        (void)nd_spool_save(w->spool_dir, rest, left, &limits, &rep);
                        free(rest);
                }
                w->stats.spooled = rep.spooled;
                w->stats.spool_failed = rep.failed;
                w->stats.spool_dropped = rep.dropped;
                w->stats.spool_error = rep.error;
                lost = rep.failed + rep.dropped + w->stats.rejected;
        }
        if (ret_stats) {
                *ret_stats = w->stats;
                ret_stats->queued = left;
        }
        for (size_t i = 0; i < w->count; i++)
                nd_flush_free(w->ring[(w->head + i) % w->capacity]);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->idle);
        pthread_mutex_destroy(&w->lock);
        writer_free(w);
        return lost;
}
