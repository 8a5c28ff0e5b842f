/* Host indicators, sampled once per probe round: the load averages, the
 * CPUs' busy share, and, when configured, nginx's request rate (from its
 * stub_status page or its access log) and its error statuses (from the
 * access log).
 *
 * Each source stands alone: one that fails (nginx down, log missing) leaves
 * its has_* false for that sample, says why in a debug line, and is tried
 * again at the next sample. Rates are over the time since the source's
 * previous reading, so the first sample has load and nginx's active
 * connections but no cpu and no rates. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ND_INDICATOR_ERRORS_MAX 32

struct nd_indicators;

struct nd_indicators_options {
        const char *nginx_status_url; /* NULL = off */
        const char *nginx_access_log; /* NULL = off */
        const char *proc_root;        /* NULL = "/proc" */
        size_t access_log_read_max;   /* 0 = ND_ACCESS_LOG_READ_MAX_DEFAULT (8 MiB) */
        uint64_t (*monotonic_ms)(void *userdata);
        void *clock_userdata; /* monotonic_ms NULL = CLOCK_MONOTONIC */
};

struct nd_indicator_sample {
        uint64_t ts_ms;       /* on the monotonic clock */
        uint64_t interval_ms; /* since the previous sample; 0 for the first */
        bool has_load;
        double load1, load5, load15;
        bool has_cpu;
        double cpu_busy; /* 0..1 */
        bool has_nginx_status;
        int64_t nginx_active;
        bool has_nginx_rate;
        double nginx_requests_per_s;
        bool has_access_log;
        double log_requests_per_s;
        uint64_t log_unparsed;      /* lines without a status */
        uint64_t log_skipped_bytes; /* over the read cap: the rates extrapolate over them */
        size_t n_errors;
        struct {
                int status;
                uint64_t count; /* lines read */
                double per_s;
        } errors[ND_INDICATOR_ERRORS_MAX]; /* status >= 400, sorted by status */
};

/* Copies what it needs from o. Caller owns *ret; free with
 * nd_indicators_free(). */
int nd_indicators_new(const struct nd_indicators_options *o, struct nd_indicators **ret);
struct nd_indicators *nd_indicators_free(struct nd_indicators *ind);

/* Reads every configured source once. Returns 0: a source that cannot be
 * read is only absent from *ret. */
int nd_indicators_sample(struct nd_indicators *ind, struct nd_indicator_sample *ret);

/* {"load":[l1,l5,l15],"cpu":0.12,
 *  "nginx":{"requests_per_s":12.5,"active":3,"errors_per_s":{"404":0.5}}}
 * with what the sample has: nginx.requests_per_s from stub_status when it
 * gave a rate, else from the access log; errors_per_s from the access log.
 * Nothing about time: the caller reports that. Dump with a
 * JSON_REAL_PRECISION to keep rates short. NULL when out of memory. */
json_t *nd_indicator_sample_to_json(const struct nd_indicator_sample *s);
