/* libFuzzer target for what a netdep server reads off the wire: a posted
 * body, gzip'd or plain, through nd_gunzip() and nd_flush_from_json().
 *
 * The first byte picks the path (odd: gzip, even: plain) so that one
 * corpus reaches both the inflater and the JSON reader with the rest of
 * the input. A flush that reads back is written out with
 * nd_flush_to_json() and read again: the server stores what the agent
 * meant only if writing and reading agree, so the two flushes must be
 * equal, field for field. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/flush.h"
#include "agent/flush_json.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addrs_equal(char *const *a, size_t n_a, char *const *b, size_t n_b)
{
        check(n_a == n_b);
        for (size_t i = 0; i < n_a; i++)
                check(strcmp(a[i], b[i]) == 0);
}

static void check_endpoint_equal(const struct nd_endpoint *a, const struct nd_endpoint *b)
{
        check(strcmp(a->addr, b->addr) == 0);
        check(a->port == b->port);
        check(strcmp(a->process, b->process) == 0);
        check(a->pgid == b->pgid);
}

/* Field by field rather than memcmp(): padding says nothing about a flush. */
static void check_flush_equal(const struct nd_flush *a, const struct nd_flush *b)
{
        check(strcmp(a->hostname, b->hostname) == 0);
        check(a->ts == b->ts);
        check(a->first_ts == b->first_ts);
        check_addrs_equal(a->addrs.addrs, a->addrs.n_addrs, b->addrs.addrs, b->addrs.n_addrs);
        check(a->addrs.n_named == b->addrs.n_named);
        for (size_t i = 0; i < a->addrs.n_named; i++) {
                check(strcmp(a->addrs.named[i].name, b->addrs.named[i].name) == 0);
                check_addrs_equal(a->addrs.named[i].addrs, a->addrs.named[i].n_addrs, b->addrs.named[i].addrs,
                                  b->addrs.named[i].n_addrs);
        }
        check(a->n_rows == b->n_rows);
        for (size_t i = 0; i < a->n_rows; i++) {
                const struct nd_edge_observation *x = &a->rows[i], *y = &b->rows[i];

                check_endpoint_equal(&x->client, &y->client);
                check_endpoint_equal(&x->server, &y->server);
                check(x->side == y->side);
                check(x->connections == y->connections);
                check(x->opened == y->opened);
                check(x->failed == y->failed);
                check(x->rtt_us == y->rtt_us);
                check(x->retrans == y->retrans);
                check(x->bytes_sent == y->bytes_sent);
                check(x->bytes_received == y->bytes_received);
                check(x->processes == y->processes);
        }
}

static void read_and_round_trip(const char *text, size_t size)
{
        struct nd_flush *f = NULL, *again = NULL;
        char why[256], *json = NULL;
        size_t json_size = 0;
        int r;

        r = nd_flush_from_json(text, size, &f, why, sizeof(why));
        if (r < 0) {
                /* A refusal always says why: the agent logs it. */
                check(r == -EBADMSG || r == -ENOMEM);
                check(strlen(why) > 0);
                return;
        }
        check(f);

        r = nd_flush_to_json(f, &json, &json_size);
        check(r == 0);
        check(strlen(json) == json_size);

        r = nd_flush_from_json(json, json_size, &again, why, sizeof(why));
        if (r < 0)
                fprintf(stderr, "re-read failed: %s\n%s\n", why, json);
        check(r == 0);
        check_flush_equal(f, again);

        free(json);
        nd_flush_free(again);
        nd_flush_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        fuzz_posted_body(data, size, read_and_round_trip);
        return 0;
}
