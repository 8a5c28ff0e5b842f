#include "probe/prober.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/param.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "probe/icmp_probe.h"
#include "probe/percentile.h"
#include "probe/schedule.h"
#include "probe/tcp_probe.h"
#include "probe/token_bucket.h"
#include "shared/cleanup.h"
#include "shared/log.h"
#include "shared/sort.h"

#define MAX_PROBES_PER_ROUND 65535U
#define MAX_INTERVAL_MS (7ULL * 24 * 3600 * 1000) /* a week: keeps microseconds far from overflow */
#define MAX_EVENTS 64
#define TIMER_SLACK_US 20000

/* epoll data of the fds that are not TCP probes (those carry their index). */
#define EV_STOP UINT64_MAX
#define EV_ICMP4 (UINT64_MAX - 1)
#define EV_ICMP6 (UINT64_MAX - 2)

struct nd_prober {
        struct nd_prober_options o;
        int epoll_fd, stop_fd;
        struct nd_icmp_socket icmp4, icmp6; /* fd < 0 until a target needs it */
        uint64_t token;                     /* marks this prober's echo requests */
        struct nd_probe_target *targets;
        uint64_t *hashes; /* nd_probe_target_hash() of each target */
        size_t n_targets;
        struct nd_token_bucket bucket;
        uint64_t round;
        uint16_t seq_base; /* ICMP sequence number of the round's first probe */
};

/* One probe of the round, in the order they are due. */
struct probe {
        uint64_t due_us, sent_us, deadline_us;
        uint32_t target;
        int fd; /* a pending TCP probe's socket */
        bool out; /* sent, no outcome yet */
};

struct round {
        struct probe *probes;
        size_t n;
        struct nd_probe_result *results;
        int64_t *samples; /* probes_per_round per target */
        unsigned *n_samples;
};

static uint64_t now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void round_done(struct round *r)
{
        for (size_t i = 0; r->probes && i < r->n; i++)
                if (r->probes[i].fd >= 0)
                        close(r->probes[i].fd);
        free(r->probes);
        free(r->results);
        free(r->samples);
        free(r->n_samples);
}

struct nd_prober *nd_prober_free(struct nd_prober *p)
{
        if (!p)
                return NULL;
        nd_icmp_socket_close(&p->icmp4);
        nd_icmp_socket_close(&p->icmp6);
        if (p->epoll_fd >= 0)
                close(p->epoll_fd);
        if (p->stop_fd >= 0)
                close(p->stop_fd);
        free(p->targets);
        free(p->hashes);
        free(p);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_prober *, nd_prober_free);

static int epoll_add(int epoll_fd, int fd, uint32_t events, uint64_t data)
{
        struct epoll_event ev = { .events = events, .data.u64 = data };

        return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int nd_prober_new(const struct nd_prober_options *o, struct nd_prober **ret)
{
        _cleanup_(nd_prober_freep) struct nd_prober *p = NULL;
        int r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->epoll_fd = p->stop_fd = p->icmp4.fd = p->icmp6.fd = -EBADF;
        p->o = *o;
        if (p->o.probes_per_round == 0)
                p->o.probes_per_round = 5;
        if (p->o.interval_ms == 0)
                p->o.interval_ms = 30000;
        if (p->o.timeout_ms == 0)
                p->o.timeout_ms = 1000;
        if (p->o.max_probes_per_s == 0)
                p->o.max_probes_per_s = 100;
        if (p->o.probes_per_round > MAX_PROBES_PER_ROUND || p->o.interval_ms > MAX_INTERVAL_MS ||
            p->o.timeout_ms > MAX_INTERVAL_MS)
                return -EINVAL;
        /* The token tells this prober's replies from other pingers' on a
         * raw socket; it need not be secret. */
        if (getrandom(&p->token, sizeof(p->token), GRND_NONBLOCK) != sizeof(p->token))
                p->token = now_us() ^ (uint64_t)getpid() << 32;
        p->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (p->epoll_fd < 0)
                return -errno;
        p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->stop_fd < 0)
                return -errno;
        /* Level-triggered and never read: once stopped, stays stopped. */
        r = epoll_add(p->epoll_fd, p->stop_fd, EPOLLIN, EV_STOP);
        if (r < 0)
                return r;
        nd_token_bucket_init(&p->bucket, p->o.max_probes_per_s, now_us());
        *ret = TAKE_PTR(p);
        return 0;
}

void nd_prober_stop(struct nd_prober *p)
{
        uint64_t one = 1;

        /* Fails only when the counter would overflow: it is set already. */
        (void)!write(p->stop_fd, &one, sizeof(one));
}

static bool stopped(const struct nd_prober *p)
{
        struct pollfd pfd = { .fd = p->stop_fd, .events = POLLIN };

        return poll(&pfd, 1, 0) > 0;
}

static int icmp_open(struct nd_prober *p, int family)
{
        struct nd_icmp_socket *s = family == AF_INET ? &p->icmp4 : &p->icmp6;
        int r;

        if (s->fd >= 0)
                return 0;
        r = nd_icmp_socket_open(family, p->token, s);
        if (r < 0)
                return r;
        log_debug("ICMP%s probes on a %s socket", family == AF_INET ? "" : "v6", s->raw ? "raw" : "ping");
        r = epoll_add(p->epoll_fd, s->fd, EPOLLIN, family == AF_INET ? EV_ICMP4 : EV_ICMP6);
        if (r < 0)
                nd_icmp_socket_close(s);
        return r;
}

int nd_prober_set_targets(struct nd_prober *p, const struct nd_probe_target *t, size_t n)
{
        _cleanup_free_ struct nd_probe_target *targets = NULL;
        _cleanup_free_ uint64_t *hashes = NULL;
        int r;

        if (n > MAX_PROBES_PER_ROUND / p->o.probes_per_round)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                if (t[i].addr.family != AF_INET && t[i].addr.family != AF_INET6)
                        return -EINVAL;
                if (t[i].kind == ND_PROBE_TCP ? t[i].port == 0 : t[i].kind != ND_PROBE_ICMP)
                        return -EINVAL;
        }
        targets = calloc(n ? n : 1, sizeof(*targets));
        hashes = calloc(n ? n : 1, sizeof(*hashes));
        if (!targets || !hashes)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                targets[i] = t[i];
                if (targets[i].kind == ND_PROBE_ICMP) {
                        targets[i].port = 0;
                        r = icmp_open(p, targets[i].addr.family);
                        if (r < 0)
                                return r;
                }
                hashes[i] = nd_probe_target_hash(p->o.phase_key, &targets[i]);
        }
        free(p->targets);
        free(p->hashes);
        p->targets = TAKE_PTR(targets);
        p->hashes = TAKE_PTR(hashes);
        p->n_targets = n;
        return 0;
}

static int compare_due(const void *a, const void *b)
{
        const struct probe *x = a, *y = b;

        if (x->due_us != y->due_us)
                return x->due_us < y->due_us ? -1 : 1;
        return (x->target > y->target) - (x->target < y->target);
}

static int round_plan(const struct nd_prober *p, uint64_t start_us, uint64_t span_us, struct round *rd)
{
        unsigned k = p->o.probes_per_round;

        rd->n = p->n_targets * k;
        rd->probes = calloc(rd->n ? rd->n : 1, sizeof(*rd->probes));
        rd->results = calloc(p->n_targets ? p->n_targets : 1, sizeof(*rd->results));
        rd->samples = calloc(rd->n ? rd->n : 1, sizeof(*rd->samples));
        rd->n_samples = calloc(p->n_targets ? p->n_targets : 1, sizeof(*rd->n_samples));
        if (!rd->probes || !rd->results || !rd->samples || !rd->n_samples)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_targets; i++) {
                rd->results[i] = (struct nd_probe_result){
                        .target = p->targets[i], .rtt_p50_us = -1, .rtt_p99_us = -1 };
                for (unsigned j = 0; j < k; j++)
                        rd->probes[i * k + j] = (struct probe){
                                .due_us = start_us + nd_probe_offset(p->hashes[i], p->round, j, k, span_us),
                                .target = (uint32_t)i,
                                .fd = -EBADF,
                        };
        }
        qsort_safe(rd->probes, rd->n, sizeof(*rd->probes), compare_due);
        return 0;
}

static void settle(const struct nd_prober *p, struct round *rd, size_t i, enum nd_probe_outcome outcome, uint64_t at_us)
{
        struct probe *pr = &rd->probes[i];
        struct nd_probe_result *res = &rd->results[pr->target];

        pr->out = false;
        if (pr->fd >= 0) {
                close(pr->fd); /* also leaves the epoll set */
                pr->fd = -EBADF;
        }
        if (outcome == ND_PROBE_ANSWERED) {
                size_t slot = (size_t)pr->target * p->o.probes_per_round + rd->n_samples[pr->target]++;

                rd->samples[slot] = (int64_t)(at_us - pr->sent_us);
        } else if (outcome == ND_PROBE_REFUSED)
                res->refused++;
        else
                res->lost++;
}

static int launch(struct nd_prober *p, struct round *rd, size_t i)
{
        struct probe *pr = &rd->probes[i];
        const struct nd_probe_target *t = &p->targets[pr->target];
        enum nd_probe_outcome outcome;
        int r;

        pr->sent_us = now_us();
        pr->deadline_us = pr->sent_us + p->o.timeout_ms * 1000;
        rd->results[pr->target].sent++;
        pr->out = true;
        if (t->kind == ND_PROBE_ICMP) {
                r = nd_icmp_send(t->addr.family == AF_INET ? &p->icmp4 : &p->icmp6, &t->addr,
                                 (uint16_t)(p->seq_base + i));
                if (r < 0) {
                        log_debug_errno(r, "ICMP probe could not leave, counted lost: %m");
                        settle(p, rd, i, ND_PROBE_LOST, pr->sent_us);
                }
                return 0;
        }
        r = nd_tcp_probe_start(&t->addr, t->port, &pr->fd, &outcome);
        if (r < 0)
                return log_debug_errno(r, "Failed to make a TCP probe's socket: %m");
        if (outcome != ND_PROBE_PENDING) {
                settle(p, rd, i, outcome, now_us());
                return 0;
        }
        return epoll_add(p->epoll_fd, pr->fd, EPOLLOUT, i);
}

static void icmp_drain(const struct nd_prober *p, struct round *rd, const struct nd_icmp_socket *s)
{
        struct nd_addr from;
        uint16_t seq;
        int r;

        while ((r = nd_icmp_receive(s, &seq, &from)) >= 0) {
                size_t i = (uint16_t)(seq - p->seq_base);

                if (r == 0 || i >= rd->n || !rd->probes[i].out)
                        continue; /* not ours, or late from an earlier round */
                if (p->targets[rd->probes[i].target].kind != ND_PROBE_ICMP ||
                    !nd_addr_equal(&p->targets[rd->probes[i].target].addr, &from))
                        continue;
                settle(p, rd, i, ND_PROBE_ANSWERED, now_us());
        }
        if (r != -EAGAIN)
                log_debug_errno(r, "Reading ICMP replies: %m");
}

static void round_results(const struct nd_prober *p, struct round *rd)
{
        for (size_t t = 0; t < p->n_targets; t++) {
                int64_t *v = rd->samples + t * p->o.probes_per_round;

                rd->results[t].rtt_p50_us = nd_percentile(v, rd->n_samples[t], 50);
                rd->results[t].rtt_p99_us = nd_percentile(v, rd->n_samples[t], 99);
        }
}

/* When a probe leaves: once due and its token is there, on the bucket's
 * own clock rather than when the loop woke up, so that a loop woken a
 * little late (epoll's timeouts are in milliseconds, a busy host schedules
 * late) loses no probe at the end of the sending window. Never more than
 * TIMER_SLACK_US in the past: a loop stalled for long (a suspended host)
 * does not make up for it in one burst; at most TIMER_SLACK_US x the cap
 * probes (2 at 100/s) leave together. */
static uint64_t leave_at(const struct nd_prober *p, const struct probe *pr, uint64_t now)
{
        uint64_t at = nd_token_bucket_ready_us(&p->bucket);

        if (pr->due_us > at)
                at = pr->due_us;
        if (now > TIMER_SLACK_US && now - TIMER_SLACK_US > at)
                at = now - TIMER_SLACK_US;
        return at;
}

int nd_prober_run_round(struct nd_prober *p, struct nd_probe_result **ret, size_t *ret_n)
{
        _cleanup_(round_done) struct round rd = {};
        uint64_t interval_us = p->o.interval_ms * 1000, timeout_us = p->o.timeout_ms * 1000;
        uint64_t span_us = interval_us > timeout_us ? interval_us - timeout_us : interval_us;
        uint64_t start = now_us(), send_end = start + span_us, round_end = start + interval_us;
        size_t next = 0, oldest = 0; /* next to launch; oldest possibly out */
        int r;

        if (stopped(p))
                return -ECANCELED;
        r = round_plan(p, start, span_us, &rd);
        if (r < 0)
                return r;
        for (;;) {
                struct epoll_event events[MAX_EVENTS];
                uint64_t now = now_us(), wake = UINT64_MAX;
                bool launching;
                int n, timeout_ms;

                /* Due probes leave while the bucket has tokens; the rest wait. */
                while (next < rd.n) {
                        uint64_t at = leave_at(p, &rd.probes[next], now);

                        if (at > now || at >= send_end || !nd_token_bucket_take(&p->bucket, at))
                                break;
                        r = launch(p, &rd, next++);
                        if (r < 0)
                                return r;
                }
                /* Probes go out in due order with one timeout: deadlines rise. */
                for (; oldest < next; oldest++) {
                        struct probe *pr = &rd.probes[oldest];

                        if (!pr->out)
                                continue;
                        if (pr->deadline_us > now)
                                break;
                        settle(p, &rd, oldest, ND_PROBE_LOST, now);
                }
                launching = next < rd.n && leave_at(p, &rd.probes[next], now) < send_end;
                if (!launching && oldest == next && now >= round_end)
                        break;
                if (now < round_end)
                        wake = round_end;
                if (launching && leave_at(p, &rd.probes[next], now) < wake)
                        wake = leave_at(p, &rd.probes[next], now);
                if (oldest < next && rd.probes[oldest].deadline_us < wake)
                        wake = rd.probes[oldest].deadline_us;
                timeout_ms = wake <= now ? 0 : (int)MIN((wake - now + 999) / 1000, (uint64_t)INT_MAX);
                n = epoll_wait(p->epoll_fd, events, MAX_EVENTS, timeout_ms);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (int e = 0; e < n; e++) {
                        uint64_t d = events[e].data.u64;

                        if (d == EV_STOP)
                                return -ECANCELED;
                        if (d == EV_ICMP4 || d == EV_ICMP6)
                                icmp_drain(p, &rd, d == EV_ICMP4 ? &p->icmp4 : &p->icmp6);
                        else if (d < rd.n && rd.probes[d].out)
                                settle(p, &rd, d, nd_tcp_probe_finish(rd.probes[d].fd), now_us());
                }
        }
        if (next < rd.n)
                log_debug("Rate cap of %u probes/s: %zu of %zu probes not sent this round",
                          p->o.max_probes_per_s, rd.n - next, rd.n);
        round_results(p, &rd);
        p->round++;
        p->seq_base = (uint16_t)(p->seq_base + rd.n);
        *ret = TAKE_PTR(rd.results);
        *ret_n = p->n_targets;
        return 0;
}
