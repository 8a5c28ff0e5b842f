/* One run's latency distribution, from wrk's own 1 µs histogram (its Lua
 * done() hook) or a client's counts, and percentiles of several runs
 * pooled. */
#include "latency-hist.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench-util.h"
#include "shared/cleanup.h"

int latency_hist_write_wrk_script(const char *script_path, const char *path)
{
        _cleanup_fclose_ FILE *f = fopen(script_path, "we");

        if (!f)
                return bench_error(-errno, "Failed to create %s: %m", script_path);
        /* latency(i) is wrk's i-th distinct value and its count. */
        fprintf(f,
                "done = function(summary, latency, requests)\n"
                "        local f = assert(io.open(\"%s\", \"w\"))\n"
                "        for i = 1, #latency do\n"
                "                local v, n = latency(i)\n"
                "                f:write(string.format(\"%%d %%d\\n\", v, n))\n"
                "        end\n"
                "        f:close()\n"
                "end\n",
                path);
        if (fflush(f) != 0 || ferror(f))
                return bench_error(-EIO, "Failed to write %s", script_path);
        return 0;
}

int latency_hist_from_counts(const uint64_t *counts, struct latency_hist *ret)
{
        uint64_t total = 0;

        for (size_t v = 0; v <= LATENCY_HIST_MAX_US; v++) {
                total += counts[v];
                if (total > UINT32_MAX)
                        return -EOVERFLOW;
                ret->at_most[v] = (uint32_t)total;
        }
        ret->total = total;
        return total > 0 ? 0 : -ENODATA;
}

int latency_hist_load(const char *path, struct latency_hist *ret)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        uint64_t counts[LATENCY_HIST_MAX_US + 1] = {};
        unsigned long long v, n;

        if (!f)
                return bench_error(-errno, "wrk wrote no latencies to %s: %m", path);
        while (fscanf(f, "%llu %llu", &v, &n) == 2) {
                if (v > LATENCY_HIST_MAX_US)
                        v = LATENCY_HIST_MAX_US;
                if (n > UINT32_MAX)
                        n = UINT32_MAX; /* from_counts() refuses the total */
                counts[v] += n;
        }
        if (!feof(f) || latency_hist_from_counts(counts, ret) < 0)
                return bench_error(-EBADMSG, "%s: not a latency list wrk wrote", path);
        return 0;
}

double latency_hist_pooled_quantile(const struct latency_hist *const *hists, size_t n, double q)
{
        uint64_t total = 0;
        size_t lo = 0, hi = LATENCY_HIST_MAX_US;

        for (size_t i = 0; i < n; i++)
                total += hists[i]->total;
        /* The smallest v with at least q of all requests at or under it. */
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                uint64_t at_most = 0;

                for (size_t i = 0; i < n; i++)
                        at_most += hists[i]->at_most[mid];
                if ((double)at_most >= q * (double)total)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return (double)lo;
}
