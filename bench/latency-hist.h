/* Request latencies as a client saw them (wrk, or the bench's own), one
 * run's whole distribution, so that runs can be pooled: a percentile of many runs together is estimated from
 * all their requests, not as a median of per-run percentiles. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* 1 µs steps up to here; slower requests count as this. */
#define LATENCY_HIST_MAX_US 4095

struct latency_hist {
        uint64_t total;
        /* at_most[v]: requests that took at most v µs (v = 0 … MAX). */
        uint32_t at_most[LATENCY_HIST_MAX_US + 1];
};

/* A distribution from counts[v], the requests that took v µs (v = 0 …
 * MAX). -EOVERFLOW past UINT32_MAX requests, -ENODATA for none. */
int latency_hist_from_counts(const uint64_t *counts, struct latency_hist *ret);

/* The wrk script (Lua) that writes a run's latencies to path, one
 * "MICROSECONDS COUNT" line for each value seen. */
int latency_hist_write_wrk_script(const char *script_path, const char *path);

/* Reads what that script wrote. */
int latency_hist_load(const char *path, struct latency_hist *ret);

/* The q-quantile (0 < q < 1), in µs, of the requests of hists[0..n)
 * together: the smallest latency that at least q of them took at most. */
double latency_hist_pooled_quantile(const struct latency_hist *const *hists, size_t n, double q);
