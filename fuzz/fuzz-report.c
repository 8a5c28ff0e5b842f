/* libFuzzer target for a probe report as serve reads it: a posted body,
 * gzip'd or plain, through nd_gunzip() and nd_report_from_json().
 *
 * The first byte picks the path (odd: gzip, even: plain). A report that
 * reads back is written out with nd_report_to_json() and read again, and
 * must come back the same: the live state holds what the agent saw only
 * if writing and reading agree. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/report.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reals go out with 6 significant digits: equal to that. */
static double magnitude(double x)
{
        return x < 0 ? -x : x;
}

static bool near(double a, double b)
{
        double scale = magnitude(a) > magnitude(b) ? magnitude(a) : magnitude(b);

        return magnitude(a - b) <= 1e-5 * (scale > 1.0 ? scale : 1.0);
}

static void check_report_equal(const struct nd_report *a, const struct nd_report *b)
{
        const struct nd_report_indicators *x = &a->indicators, *y = &b->indicators;

        check(strcmp(a->hostname, b->hostname) == 0);
        check(a->ts == b->ts && a->interval_s == b->interval_s);
        check(a->n_addrs == b->n_addrs);
        for (size_t i = 0; i < a->n_addrs; i++)
                check(strcmp(a->addrs[i], b->addrs[i]) == 0);
        check(a->n_links == b->n_links);
        for (size_t i = 0; i < a->n_links; i++) {
                const struct nd_link_result *l = &a->links[i], *m = &b->links[i];
                check(strcmp(l->addr, m->addr) == 0 && l->port == m->port && l->kind == m->kind);
                check(l->sent == m->sent && l->lost == m->lost && l->refused == m->refused);
                check(l->rtt_p50_us == m->rtt_p50_us && l->rtt_p99_us == m->rtt_p99_us);
        }
        check(x->has_load == y->has_load && x->has_cpu == y->has_cpu && x->has_nginx == y->has_nginx);
        for (int i = 0; x->has_load && i < 3; i++)
                check(near(x->load[i], y->load[i]));
        check(!x->has_cpu || near(x->cpu, y->cpu));
        check(near(x->nginx_requests_per_s, y->nginx_requests_per_s));
        check(x->nginx_active == y->nginx_active);
        check(x->n_errors == y->n_errors);
}

static void read_and_round_trip(const char *text, size_t size)
{
        struct nd_report *r = NULL, *again = NULL;
        char why[256], *json = NULL;
        size_t json_size = 0;
        int k;

        k = nd_report_from_json(text, size, &r, why, sizeof(why));
        if (k < 0) {
                check(k == -EBADMSG || k == -ENOMEM);
                check(strlen(why) > 0);
                return;
        }
        check(nd_report_to_json(r, &json, &json_size) == 0);
        check(strlen(json) == json_size);
        k = nd_report_from_json(json, json_size, &again, why, sizeof(why));
        if (k < 0)
                fprintf(stderr, "re-read failed: %s\n%s\n", why, json);
        check(k == 0);
        check_report_equal(r, again);
        free(json);
        nd_report_free(again);
        nd_report_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_posted_body(data, size, read_and_round_trip);
        return 0;
}
