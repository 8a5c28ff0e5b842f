#include "serve/metrics.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "shared/strmap.h"

/* Store write latency buckets, seconds (upper bounds; +Inf implied). */
static const double write_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5 };
#define N_BUCKETS (sizeof(write_buckets) / sizeof(write_buckets[0]))

/* Agents remembered at most this long after their last report. */
#define AGENT_FORGET_S 3600

static const char *const ingest_names[_ND_INGEST_RESULT_MAX] = {
        [ND_INGEST_STORED] = "stored",
        [ND_INGEST_BAD_REQUEST] = "bad_request",
        [ND_INGEST_UNAUTHORIZED] = "unauthorized",
        [ND_INGEST_FORBIDDEN] = "forbidden",
        [ND_INGEST_TOO_LARGE] = "too_large",
        [ND_INGEST_OVERLOADED] = "overloaded",
        [ND_INGEST_STORE_ERROR] = "store_error",
};

static const char *const read_names[_ND_READ_RESULT_MAX] = {
        [ND_READ_OK] = "ok",
        [ND_READ_CLIENT_ERROR] = "client_error",
        [ND_READ_OVERLOADED] = "overloaded",
        [ND_READ_FAILED] = "failed",
};

struct nd_metrics {
        atomic_ullong ingest[_ND_INGEST_RESULT_MAX];
        atomic_ullong edges_stored, edges_refused;
        atomic_ullong reads[_ND_READ_RESULT_MAX];
        atomic_ullong write_count[N_BUCKETS + 1];
        atomic_ullong write_sum_us;
        pthread_mutex_t lock; /* for agents */
        struct strmap agents; /* hostname -> last report, unix seconds */
};

int nd_metrics_new(struct nd_metrics **ret)
{
        struct nd_metrics *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        strmap_init(&m->agents);
        *ret = m;
        return 0;
}

void nd_metrics_free(struct nd_metrics *m)
{
        if (!m)
                return;
        strmap_done(&m->agents);
        pthread_mutex_destroy(&m->lock);
        free(m);
}

void nd_metrics_ingest(struct nd_metrics *m, enum nd_ingest_result result, size_t edges)
{
        atomic_fetch_add(&m->ingest[result], 1);
        if (result == ND_INGEST_STORED)
                atomic_fetch_add(&m->edges_stored, edges);
        else
                atomic_fetch_add(&m->edges_refused, edges);
}

void nd_metrics_store_write(struct nd_metrics *m, double seconds)
{
        size_t i = 0;

        while (i < N_BUCKETS && seconds > write_buckets[i])
                i++;
        atomic_fetch_add(&m->write_count[i], 1);
        atomic_fetch_add(&m->write_sum_us, (unsigned long long)(seconds * 1e6));
}

void nd_metrics_read(struct nd_metrics *m, enum nd_read_result result)
{
        atomic_fetch_add(&m->reads[result], 1);
}

void nd_metrics_agent_seen(struct nd_metrics *m, const char *hostname, int64_t now)
{
        pthread_mutex_lock(&m->lock);
        if (!strmap_set(&m->agents, hostname, (size_t)now))
                (void)strmap_put(&m->agents, hostname, (size_t)now, NULL);
        pthread_mutex_unlock(&m->lock);
}

/* Agents seen within window_s, forgetting those silent for an hour. */
static size_t agents_seen(struct nd_metrics *m, int64_t now, unsigned window_s)
{
        size_t n_keys = 0, seen = 0, kept = 0;
        const char **keys;
        struct strmap fresh;

        pthread_mutex_lock(&m->lock);
        keys = strmap_keys(&m->agents, &n_keys);
        strmap_init(&fresh);
        for (size_t i = 0; keys && i < n_keys; i++) {
                size_t last = 0;
                (void)strmap_get(&m->agents, keys[i], &last);
                if ((int64_t)last >= now - (int64_t)window_s)
                        seen++;
                if ((int64_t)last >= now - AGENT_FORGET_S && strmap_put(&fresh, keys[i], last, NULL) >= 0)
                        kept++;
        }
        if (keys && kept < n_keys) {
                strmap_done(&m->agents);
                m->agents = fresh;
        } else
                strmap_done(&fresh);
        free(keys);
        pthread_mutex_unlock(&m->lock);
        return seen;
}

int nd_metrics_write(struct nd_metrics *m, const struct nd_metrics_gauges *g, FILE *out)
{
        unsigned long long cumulative = 0;

        fprintf(out, "# HELP netdep_build_info The netdep version serving.\n"
                     "# TYPE netdep_build_info gauge\n"
                     "netdep_build_info{version=\"%s\"} 1\n", NETDEP_VERSION);
        fprintf(out, "# HELP netdep_ingest_requests_total Flush posts, by result.\n"
                     "# TYPE netdep_ingest_requests_total counter\n");
        for (int i = 0; i < _ND_INGEST_RESULT_MAX; i++)
                fprintf(out, "netdep_ingest_requests_total{result=\"%s\"} %llu\n", ingest_names[i],
                        (unsigned long long)atomic_load(&m->ingest[i]));
        fprintf(out, "# HELP netdep_ingest_edges_total Edges in flush posts, stored or refused.\n"
                     "# TYPE netdep_ingest_edges_total counter\n"
                     "netdep_ingest_edges_total{result=\"stored\"} %llu\n"
                     "netdep_ingest_edges_total{result=\"refused\"} %llu\n",
                (unsigned long long)atomic_load(&m->edges_stored), (unsigned long long)atomic_load(&m->edges_refused));
        fprintf(out, "# HELP netdep_store_write_seconds Time to write one flush to the store.\n"
                     "# TYPE netdep_store_write_seconds histogram\n");
        for (size_t i = 0; i <= N_BUCKETS; i++) {
                cumulative += atomic_load(&m->write_count[i]);
                if (i < N_BUCKETS)
                        fprintf(out, "netdep_store_write_seconds_bucket{le=\"%g\"} %llu\n", write_buckets[i],
                                cumulative);
                else
                        fprintf(out, "netdep_store_write_seconds_bucket{le=\"+Inf\"} %llu\n", cumulative);
        }
        fprintf(out, "netdep_store_write_seconds_sum %.6f\nnetdep_store_write_seconds_count %llu\n",
                (double)atomic_load(&m->write_sum_us) / 1e6, cumulative);
        fprintf(out, "# HELP netdep_read_requests_total Read API requests, by result.\n"
                     "# TYPE netdep_read_requests_total counter\n");
        for (int i = 0; i < _ND_READ_RESULT_MAX; i++)
                fprintf(out, "netdep_read_requests_total{result=\"%s\"} %llu\n", read_names[i],
                        (unsigned long long)atomic_load(&m->reads[i]));
        fprintf(out, "# HELP netdep_ingest_queue_depth Flush posts waiting for a store connection.\n"
                     "# TYPE netdep_ingest_queue_depth gauge\n"
                     "netdep_ingest_queue_depth %zu\n", g->store_waiting);
        fprintf(out, "# HELP netdep_store_connections Store connections open, and busy.\n"
                     "# TYPE netdep_store_connections gauge\n"
                     "netdep_store_connections{state=\"open\"} %zu\n"
                     "netdep_store_connections{state=\"busy\"} %zu\n", g->store_open, g->store_busy);
        fprintf(out, "# HELP netdep_reads_running Read API requests being answered now.\n"
                     "# TYPE netdep_reads_running gauge\n"
                     "netdep_reads_running %zu\n", g->reads_running);
        fprintf(out, "# HELP netdep_agents_seen Agents that reported within the window.\n"
                     "# TYPE netdep_agents_seen gauge\n"
                     "netdep_agents_seen{window=\"%us\"} %zu\n", g->agent_window_s,
                agents_seen(m, g->now, g->agent_window_s));
        return ferror(out) ? -EIO : 0;
}
