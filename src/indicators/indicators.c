#include "indicators/indicators.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indicators/access_log.h"
#include "indicators/cpu_load.h"
#include "indicators/nginx_status.h"
#include "shared/cleanup.h"
#include "shared/log.h"

struct nd_indicators {
        char *nginx_status_url, *proc_root;
        struct nd_access_log *access_log;
        uint64_t (*monotonic_ms)(void *userdata);
        void *clock_userdata;

        bool sampled;
        uint64_t last_ms;
        bool have_cpu;
        struct nd_cpu_times cpu;
        bool have_nginx;
        struct nd_nginx_status nginx;
        uint64_t nginx_ms;
        bool have_log_since; /* the follower's position is known as of log_since_ms */
        uint64_t log_since_ms;
};

static uint64_t clock_monotonic_ms(void *userdata)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct nd_indicators *nd_indicators_free(struct nd_indicators *ind)
{
        if (!ind)
                return NULL;
        free(ind->nginx_status_url);
        free(ind->proc_root);
        nd_access_log_free(ind->access_log);
        free(ind);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_indicators *, nd_indicators_free);

int nd_indicators_new(const struct nd_indicators_options *o, struct nd_indicators **ret)
{
        _cleanup_(nd_indicators_freep) struct nd_indicators *ind = NULL;
        int r;

        ind = calloc(1, sizeof(*ind));
        if (!ind)
                return -ENOMEM;
        if (o->nginx_status_url) {
                ind->nginx_status_url = strdup(o->nginx_status_url);
                if (!ind->nginx_status_url)
                        return -ENOMEM;
        }
        if (o->proc_root) {
                ind->proc_root = strdup(o->proc_root);
                if (!ind->proc_root)
                        return -ENOMEM;
        }
        if (o->nginx_access_log) {
                r = nd_access_log_new(o->nginx_access_log, o->access_log_read_max, &ind->access_log);
                if (r < 0)
                        return r;
        }
        ind->monotonic_ms = o->monotonic_ms ? o->monotonic_ms : clock_monotonic_ms;
        ind->clock_userdata = o->clock_userdata;
        *ret = TAKE_PTR(ind);
        return 0;
}

static void sample_proc(struct nd_indicators *ind, struct nd_indicator_sample *s)
{
        struct nd_loadavg load;
        struct nd_cpu_times cpu;
        int r;

        r = nd_loadavg_read(ind->proc_root, &load);
        if (r < 0)
                log_debug_errno(r, "indicators: no load average: %m");
        else {
                s->has_load = true;
                s->load1 = load.load1;
                s->load5 = load.load5;
                s->load15 = load.load15;
        }

        r = nd_cpu_times_read(ind->proc_root, &cpu);
        if (r < 0) {
                log_debug_errno(r, "indicators: no CPU times: %m");
                return;
        }
        if (ind->have_cpu) {
                r = nd_cpu_busy_between(&ind->cpu, &cpu, &s->cpu_busy);
                if (r < 0)
                        log_debug("indicators: CPU counters did not advance, no busy share this round");
                s->has_cpu = r >= 0;
        }
        ind->cpu = cpu;
        ind->have_cpu = true;
}

static void sample_nginx_status(struct nd_indicators *ind, uint64_t now, struct nd_indicator_sample *s)
{
        struct nd_nginx_status st;
        char why[256] = "";
        int r;

        r = nd_nginx_status_fetch(ind->nginx_status_url, &st, why, sizeof(why));
        if (r < 0) {
                log_debug_errno(r, "indicators: no nginx status from %s: %s", ind->nginx_status_url, why);
                return;
        }
        s->has_nginx_status = true;
        s->nginx_active = st.active;
        if (ind->have_nginx) {
                r = nd_nginx_request_rate(&ind->nginx, &st, now - ind->nginx_ms, &s->nginx_requests_per_s);
                if (r < 0)
                        log_debug("indicators: no nginx request rate this round: counter %" PRIu64
                                  " -> %" PRIu64 " in %" PRIu64 " ms",
                                  ind->nginx.requests, st.requests, now - ind->nginx_ms);
                s->has_nginx_rate = r >= 0;
        }
        ind->nginx = st;
        ind->nginx_ms = now;
        ind->have_nginx = true;
}

static void sample_access_log(struct nd_indicators *ind, uint64_t now, struct nd_indicator_sample *s)
{
        struct nd_access_log_counts c;
        double seconds, scale = 1.0;
        bool had_since = ind->have_log_since;
        uint64_t since = ind->log_since_ms;
        int r;

        r = nd_access_log_read(ind->access_log, &c);
        if (r == -ENOENT) {
                /* A file that appears later is all new: count from here. */
                ind->have_log_since = true;
                ind->log_since_ms = now;
        }
        if (r < 0) {
                log_debug_errno(r, "indicators: access log not read: %m");
                return;
        }
        ind->have_log_since = true;
        ind->log_since_ms = now;
        if (c.bytes_skipped > 0)
                log_debug("indicators: access log: %" PRIu64 " bytes over the read cap skipped", c.bytes_skipped);
        if (!had_since || now <= since)
                return; /* the first read only finds the end */

        seconds = (double)(now - since) / 1000.0;
        /* Skipped bytes are extrapolated from the ones read: a rate that
         * is roughly right beats one that is low by the skipped share. */
        if (c.bytes_skipped > 0 && c.bytes_read > 0)
                scale = (double)(c.bytes_read + c.bytes_skipped) / (double)c.bytes_read;
        s->has_access_log = true;
        s->log_requests_per_s = (double)c.requests * scale / seconds;
        s->log_unparsed = c.unparsed;
        s->log_skipped_bytes = c.bytes_skipped;
        for (size_t i = 0; i < ELEMENTSOF(c.errors); i++) {
                if (c.errors[i] == 0)
                        continue;
                if (s->n_errors == ELEMENTSOF(s->errors)) {
                        log_debug("indicators: more than %zu error statuses, status %zu and above left out",
                                  ELEMENTSOF(s->errors), i + ND_ACCESS_LOG_ERROR_MIN);
                        break;
                }
                s->errors[s->n_errors].status = (int)(i + ND_ACCESS_LOG_ERROR_MIN);
                s->errors[s->n_errors].count = c.errors[i];
                s->errors[s->n_errors].per_s = (double)c.errors[i] * scale / seconds;
                s->n_errors++;
        }
}

int nd_indicators_sample(struct nd_indicators *ind, struct nd_indicator_sample *ret)
{
        struct nd_indicator_sample s = {};
        uint64_t now = ind->monotonic_ms(ind->clock_userdata);

        s.ts_ms = now;
        s.interval_ms = ind->sampled && now > ind->last_ms ? now - ind->last_ms : 0;
        ind->sampled = true;
        ind->last_ms = now;

        sample_proc(ind, &s);
        if (ind->nginx_status_url)
                sample_nginx_status(ind, now, &s);
        if (ind->access_log)
                sample_access_log(ind, now, &s);
        *ret = s;
        return 0;
}
