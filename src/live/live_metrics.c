/* The live state in Prometheus' text format. Per host a handful of series;
 * per link only those that are not ok, so a healthy fleet of N hosts costs
 * O(N) series, never O(N^2). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "live/live_internal.h"

static const double rtt_buckets_s[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
#define N_RTT_BUCKETS (sizeof(rtt_buckets_s) / sizeof(rtt_buckets_s[0]))

/* A label value: backslash, quote and newline escaped. */
static void label(FILE *out, const char *s)
{
        fputc('"', out);
        for (; s && *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', out);
                if (*s == '\n')
                        fputs("\\n", out);
                else
                        fputc(*s, out);
        }
        fputc('"', out);
}

static const char *text(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return t ? (const char *)t : "";
}

static int write_hosts(struct nd_live *live, FILE *out)
{
        sqlite3_stmt *st = NULL;
        int r;

        if (sqlite3_prepare_v2(live->db,
                               "SELECT h.name, h.broken, h.stale, h.disconnects, h.broken_peers,"
                               " (SELECT count(*) FROM links WHERE src = h.name AND state IN ('ok', 'loss')),"
                               " (SELECT count(*) FROM links WHERE src = h.name AND state IN ('down', 'refused')),"
                               " (SELECT total(lost) FROM links WHERE src = h.name),"
                               " (SELECT total(sent) FROM links WHERE src = h.name)"
                               " FROM hosts h ORDER BY h.name",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        fputs("# HELP netdep_live_host_broken 1 when the host is broken (2 links down, or 2 hosts cannot reach it).\n"
              "# TYPE netdep_live_host_broken gauge\n"
              "# HELP netdep_live_host_stale 1 when the host has stopped reporting.\n"
              "# TYPE netdep_live_host_stale gauge\n"
              "# HELP netdep_live_host_broken_peers Other hosts that cannot reach it.\n"
              "# TYPE netdep_live_host_broken_peers gauge\n"
              "# HELP netdep_live_host_links A host's probed links, up or down.\n"
              "# TYPE netdep_live_host_links gauge\n"
              "# HELP netdep_live_host_loss_ratio Probes lost over probes sent in the host's last round.\n"
              "# TYPE netdep_live_host_loss_ratio gauge\n",
              out);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                const char *name = text(st, 0);
                double sent = sqlite3_column_double(st, 8);

#define HOST(metric) fputs(metric "{host=", out), label(out, name)
                HOST("netdep_live_host_broken"), fprintf(out, "} %d\n", sqlite3_column_int(st, 1));
                HOST("netdep_live_host_stale"), fprintf(out, "} %d\n", sqlite3_column_int(st, 2));
                HOST("netdep_live_host_broken_peers"), fprintf(out, "} %d\n", sqlite3_column_int(st, 4));
                HOST("netdep_live_host_links"), fprintf(out, ",state=\"up\"} %d\n", sqlite3_column_int(st, 5));
                HOST("netdep_live_host_links"), fprintf(out, ",state=\"down\"} %d\n", sqlite3_column_int(st, 6));
                HOST("netdep_live_host_loss_ratio"),
                        fprintf(out, "} %.6g\n", sent > 0 ? sqlite3_column_double(st, 7) / sent : 0.0);
#undef HOST
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : -EIO;
}

/* Each host's links by median RTT, as a histogram. */
static int write_rtt(struct nd_live *live, FILE *out)
{
        sqlite3_stmt *st = NULL;
        char host[256] = "";
        unsigned long counts[N_RTT_BUCKETS] = {}, total = 0;
        double sum = 0;
        bool any = false;
        int r;

        if (sqlite3_prepare_v2(live->db,
                               "SELECT src, rtt_p50 FROM links WHERE rtt_p50 IS NOT NULL AND state <> 'stale'"
                               " ORDER BY src",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        fputs("# HELP netdep_live_host_rtt_seconds Median probe round-trip time of a host's links.\n"
              "# TYPE netdep_live_host_rtt_seconds histogram\n",
              out);
        for (;;) {
                r = sqlite3_step(st);
                if (any && (r != SQLITE_ROW || strcmp(text(st, 0), host) != 0)) {
                        for (size_t i = 0; i < N_RTT_BUCKETS; i++) {
                                fputs("netdep_live_host_rtt_seconds_bucket{host=", out);
                                label(out, host);
                                fprintf(out, ",le=\"%g\"} %lu\n", rtt_buckets_s[i], counts[i]);
                        }
                        fputs("netdep_live_host_rtt_seconds_bucket{host=", out);
                        label(out, host);
                        fprintf(out, ",le=\"+Inf\"} %lu\nnetdep_live_host_rtt_seconds_sum{host=", total);
                        label(out, host);
                        fprintf(out, "} %.6g\nnetdep_live_host_rtt_seconds_count{host=", sum);
                        label(out, host);
                        fprintf(out, "} %lu\n", total);
                        memset(counts, 0, sizeof(counts));
                        total = 0;
                        sum = 0;
                        any = false;
                }
                if (r != SQLITE_ROW)
                        break;
                snprintf(host, sizeof(host), "%s", text(st, 0));
                double s = sqlite3_column_double(st, 1) / 1000.0;
                for (size_t i = 0; i < N_RTT_BUCKETS; i++)
                        counts[i] += s <= rtt_buckets_s[i];
                total++;
                sum += s;
                any = true;
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : -EIO;
}

static int write_bad_links(struct nd_live *live, FILE *out)
{
        sqlite3_stmt *st = NULL;
        int r;

        if (sqlite3_prepare_v2(live->db,
                               "SELECT src, dst, port, kind, state, coalesce(loss, 0), coalesce(dst_host, '')"
                               " FROM links WHERE state <> 'ok' ORDER BY src, dst, port, kind",
                               -1, &st, NULL) != SQLITE_OK)
                return -EIO;
        fputs("# HELP netdep_live_link_loss_ratio Links that are not ok only: lost over sent in the last round.\n"
              "# TYPE netdep_live_link_loss_ratio gauge\n",
              out);
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                fputs("netdep_live_link_loss_ratio{src=", out);
                label(out, text(st, 0));
                fputs(",dst=", out);
                label(out, text(st, 1));
                fprintf(out, ",port=\"%d\",kind=", sqlite3_column_int(st, 2));
                label(out, text(st, 3));
                fputs(",dst_host=", out);
                label(out, text(st, 6));
                fputs(",state=", out);
                label(out, text(st, 4));
                fprintf(out, "} %.6g\n", sqlite3_column_double(st, 5));
        }
        sqlite3_finalize(st);
        return r == SQLITE_DONE ? 0 : -EIO;
}

int nd_live_write_metrics(struct nd_live *live, FILE *out)
{
        int r;

        pthread_mutex_lock(&live->lock);
        r = write_hosts(live, out);
        if (r >= 0)
                r = write_rtt(live, out);
        if (r >= 0)
                r = write_bad_links(live, out);
        pthread_mutex_unlock(&live->lock);
        return r;
}
