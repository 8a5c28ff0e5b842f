#include "serve/live_forward.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/server_client.h"
#include "shared/log.h"

struct item {
        char *json;
        size_t size;
        int64_t queued_at; /* monotonic seconds */
};

struct peer {
        char *url;
        struct nd_server_client *client;
        pthread_t thread;
        bool started;
        struct nd_live_forward *owner;
        /* A ring of queued reports. */
        struct item *ring;
        size_t head, n;
        bool down; /* said so in the log */
};

struct nd_live_forward {
        struct peer *peers;
        size_t n_peers;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        bool stopping;
        atomic_uint_fast64_t sent, dropped, failed;
};

static int64_t monotonic_s(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec;
}

/* The oldest report still worth sending; NULL when stopping. Drops those
 * past their age. Called with the lock held. */
static bool next_item(struct nd_live_forward *f, struct peer *p, struct item *ret)
{
        for (;;) {
                while (!f->stopping && p->n == 0)
                        pthread_cond_wait(&f->wake, &f->lock);
                if (f->stopping)
                        return false;
                *ret = p->ring[p->head];
                p->head = (p->head + 1) % ND_LIVE_FORWARD_QUEUE;
                p->n--;
                if (monotonic_s() - ret->queued_at <= ND_LIVE_FORWARD_MAX_AGE_S)
                        return true;
                free(ret->json);
                atomic_fetch_add(&f->dropped, 1);
        }
}

static void *peer_main(void *arg)
{
        struct peer *p = arg;
        struct nd_live_forward *f = p->owner;
        struct item it;

        pthread_mutex_lock(&f->lock);
        while (next_item(f, p, &it)) {
                char why[512];
                unsigned retry_after_ms = 0;
                int r;

                pthread_mutex_unlock(&f->lock);
                r = nd_server_client_post_json(p->client, ND_LIVE_FORWARD_PATH, it.json, it.size, &retry_after_ms, why,
                                               sizeof(why));
                free(it.json);
                if (r >= 0) {
                        atomic_fetch_add(&f->sent, 1);
                        if (p->down)
                                log_notice("serve: live peer %s takes reports again", p->url);
                        p->down = false;
                } else {
                        atomic_fetch_add(&f->failed, 1);
                        if (!p->down)
                                log_warning("serve: live peer %s: %s; reports wait up to %d s", p->url, why,
                                            ND_LIVE_FORWARD_MAX_AGE_S);
                        p->down = true;
                }
                pthread_mutex_lock(&f->lock);
                if (r < 0 && !f->stopping) {
                        /* A peer down is not hammered: a second, or what it asks. */
                        struct timespec until;
                        clock_gettime(CLOCK_REALTIME, &until);
                        until.tv_sec += retry_after_ms > 1000 ? retry_after_ms / 1000 : 1;
                        while (!f->stopping && pthread_cond_timedwait(&f->wake, &f->lock, &until) != ETIMEDOUT)
                                ;
                }
        }
        pthread_mutex_unlock(&f->lock);
        return NULL;
}

int nd_live_forward_start(const char *peers, const char *token_file, const char *ca_file,
                          struct nd_live_forward **ret, char *why, size_t why_size)
{
        struct nd_live_forward *f = calloc(1, sizeof(*f));
        char *list = strdup(peers), *save = NULL;
        int r = 0;

        if (!f || !list) {
                free(f);
                free(list);
                return -ENOMEM;
        }
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->wake, NULL);
        for (char *url = strtok_r(list, ",", &save); url && r >= 0; url = strtok_r(NULL, ",", &save)) {
                struct peer *more = realloc(f->peers, (f->n_peers + 1) * sizeof(*more)), *p;

                if (!more) {
                        r = -ENOMEM;
                        break;
                }
                f->peers = more;
                p = &f->peers[f->n_peers];
                *p = (struct peer){ .owner = f };
                p->url = strdup(url);
                p->ring = calloc(ND_LIVE_FORWARD_QUEUE, sizeof(*p->ring));
                if (!p->url || !p->ring) {
                        free(p->url);
                        free(p->ring);
                        r = -ENOMEM;
                        break;
                }
                f->n_peers++;
                r = nd_server_client_new(url, token_file, ca_file, &p->client, why, why_size);
        }
        free(list);
        for (size_t i = 0; r >= 0 && i < f->n_peers; i++) {
                if (pthread_create(&f->peers[i].thread, NULL, peer_main, &f->peers[i]) != 0)
                        r = -EAGAIN;
                else
                        f->peers[i].started = true;
        }
        if (r < 0) {
                nd_live_forward_stop(f);
                return r;
        }
        *ret = f;
        return 0;
}

struct nd_live_forward *nd_live_forward_stop(struct nd_live_forward *f)
{
        if (!f)
                return NULL;
        pthread_mutex_lock(&f->lock);
        f->stopping = true;
        pthread_cond_broadcast(&f->wake);
        pthread_mutex_unlock(&f->lock);
        for (size_t i = 0; i < f->n_peers; i++) {
                struct peer *p = &f->peers[i];

                if (p->started)
                        pthread_join(p->thread, NULL);
                for (size_t k = 0; k < p->n; k++)
                        free(p->ring[(p->head + k) % ND_LIVE_FORWARD_QUEUE].json);
                free(p->ring);
                nd_server_client_free(p->client);
                free(p->url);
        }
        free(f->peers);
        pthread_cond_destroy(&f->wake);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
}

void nd_live_forward_report(struct nd_live_forward *f, const char *json, size_t size)
{
        int64_t now = monotonic_s();

        pthread_mutex_lock(&f->lock);
        for (size_t i = 0; i < f->n_peers; i++) {
                struct peer *p = &f->peers[i];
                char *copy = malloc(size);

                if (!copy) {
                        atomic_fetch_add(&f->dropped, 1);
                        continue;
                }
                memcpy(copy, json, size);
                if (p->n == ND_LIVE_FORWARD_QUEUE) {
                        /* Full: the oldest goes, the newest is worth more. */
                        free(p->ring[p->head].json);
                        p->head = (p->head + 1) % ND_LIVE_FORWARD_QUEUE;
                        p->n--;
                        atomic_fetch_add(&f->dropped, 1);
                }
                p->ring[(p->head + p->n) % ND_LIVE_FORWARD_QUEUE] = (struct item){ copy, size, now };
                p->n++;
        }
        pthread_cond_broadcast(&f->wake);
        pthread_mutex_unlock(&f->lock);
}

void nd_live_forward_stats(struct nd_live_forward *f, struct nd_live_forward_stats *ret)
{
        *ret = (struct nd_live_forward_stats){ atomic_load(&f->sent), atomic_load(&f->dropped),
                                               atomic_load(&f->failed) };
}
