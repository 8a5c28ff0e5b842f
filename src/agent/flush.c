#include "agent/flush.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct nd_flush *nd_flush_free(struct nd_flush *f)
{
        if (!f)
                return NULL;
        free(f->hostname);
        nd_host_addrs_done(&f->addrs);
        free(f->rows);
        free(f);
        return NULL;
}

int nd_flush_write(struct nd_store *s, const struct nd_flush *f)
{
        struct nd_ingest in = {
                .hostname = f->hostname,
                .host_addrs = (const char *const *)f->addrs.addrs,
                .n_host_addrs = f->addrs.n_addrs,
                .ts = f->ts,
                .first_ts = f->first_ts,
                .rows = f->rows,
                .n_rows = f->n_rows,
        };

        /* The store keeps one hostname per ingest: a named namespace's
         * addresses go in one of their own, with no rows. Before the edges,
         * so that a failure here retries the whole flush without having
         * added its connections opened twice. */
        for (size_t i = 0; i < f->addrs.n_named; i++) {
                struct nd_ingest named = {
                        .hostname = f->addrs.named[i].name,
                        .host_addrs = (const char *const *)f->addrs.named[i].addrs,
                        .n_host_addrs = f->addrs.named[i].n_addrs,
                        .ts = f->ts,
                        .first_ts = f->first_ts,
                };
                int r = nd_store_ingest(s, &named);
                if (r < 0)
                        return r;
        }
        return nd_store_ingest(s, &in);
}

int nd_flush_split(struct nd_flush *f, size_t max_rows, struct nd_flush ***ret, size_t *ret_n)
{
        size_t n = max_rows && f->n_rows > max_rows ? (f->n_rows + max_rows - 1) / max_rows : 1;
        struct nd_flush **parts = calloc(n, sizeof(*parts));

        if (!parts) {
                nd_flush_free(f);
                return -ENOMEM;
        }
        parts[0] = f;
        if (n == 1) {
                *ret = parts;
                *ret_n = 1;
                return 0;
        }
        for (size_t i = 1; i < n; i++) {
                size_t from = i * max_rows, k = f->n_rows - from < max_rows ? f->n_rows - from : max_rows;
                struct nd_flush *p = calloc(1, sizeof(*p));

                if (p) {
                        p->hostname = strdup(f->hostname);
                        p->rows = malloc(k * sizeof(*p->rows));
                }
                if (!p || !p->hostname || !p->rows) {
                        nd_flush_free(p);
                        for (size_t j = 0; j < i; j++)
                                nd_flush_free(parts[j]);
                        free(parts);
                        return -ENOMEM;
                }
                p->ts = f->ts;
                p->first_ts = f->first_ts;
                memcpy(p->rows, f->rows + from, k * sizeof(*p->rows));
                p->n_rows = k;
                parts[i] = p;
        }
        f->n_rows = max_rows; /* the first part keeps its rows, and the addresses */
        *ret = parts;
        *ret_n = n;
        return 0;
}
