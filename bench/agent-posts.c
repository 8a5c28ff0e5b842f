#include "agent-posts.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "agent/flush_json.h"
#include "bench-util.h"
#include "shared/gzip.h"

#define DRAIN_S 30.0 /* posts under way at the end get this long */
#define POST_TIMEOUT_MS 30000L
#define POLL_MS 50

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

int flush_body_make(const struct nd_flush *f, struct flush_body *ret)
{
        char *json = NULL;
        size_t json_size;
        int r = nd_flush_to_json(f, &json, &json_size);

        if (r >= 0)
                r = nd_gzip(json, json_size, &ret->gz, &ret->size);
        free(json);
        return r;
}

void flush_body_done(struct flush_body *b)
{
        free(b->gz);
        *b = (struct flush_body){};
}

int posting_agent_init(struct posting_agent *a, const char *url, const char *token, const struct flush_body *bodies,
                       size_t n_bodies)
{
        static const char *const fixed[] = { "Content-Type: application/json", "Content-Encoding: gzip" };
        struct curl_slist *h = NULL, *t;
        char auth[256];

        pthread_once(&curl_once, curl_setup);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        for (size_t i = 0; i <= 2; i++) {
                t = curl_slist_append(h, i < 2 ? fixed[i] : auth);
                if (!t) {
                        curl_slist_free_all(h);
                        return -ENOMEM;
                }
                h = t;
        }
        *a = (struct posting_agent){ .url = url, .headers = h, .bodies = bodies, .n_bodies = n_bodies };
        return 0;
}

void posting_agent_done(struct posting_agent *a)
{
        curl_slist_free_all(a->headers);
        a->headers = NULL;
}

/* The start of an answer, for the first problem's text. */
struct answer {
        char text[160];
        size_t len;
};

static size_t keep_answer(char *data, size_t size, size_t n, void *userdata)
{
        struct answer *a = userdata;
        size_t len = size * n, room = sizeof(a->text) - 1 - a->len;

        memcpy(a->text + a->len, data, len < room ? len : room);
        a->len += len < room ? len : room;
        a->text[a->len] = '\0';
        return len;
}

/* One transfer slot: an easy handle and what it is posting. */
struct slot {
        CURL *curl;
        struct posting_agent *agent;
        struct answer answer;
};

static int slot_init(struct slot *s, const char *ca_file)
{
        s->curl = curl_easy_init();
        if (!s->curl)
                return -ENOMEM;
        curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, POST_TIMEOUT_MS);
        curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        /* A held connection is closed by serve's idle timeout, if at
         * all, not by libcurl's (118 s by default). */
        curl_easy_setopt(s->curl, CURLOPT_MAXAGE_CONN, 3600L);
        curl_easy_setopt(s->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "netdep-agent/" NETDEP_VERSION);
        curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, keep_answer);
        curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &s->answer);
        curl_easy_setopt(s->curl, CURLOPT_PRIVATE, s);
        if (ca_file)
                curl_easy_setopt(s->curl, CURLOPT_CAINFO, ca_file);
        /* Only the CA file: libcurl (GnuTLS) would otherwise read every
         * certificate under /etc/ssl/certs at each connection, which is
         * the agent host's cost, not serve's, and here on serve's CPUs. */
        curl_easy_setopt(s->curl, CURLOPT_CAPATH, NULL);
        return 0;
}

/* Points the slot at the agent's next body. */
static void slot_aim(struct slot *s, struct posting_agent *a, bool fresh_connection)
{
        const struct flush_body *b = &a->bodies[a->posted % a->n_bodies];

        s->agent = a;
        s->answer.len = 0;
        s->answer.text[0] = '\0';
        curl_easy_setopt(s->curl, CURLOPT_URL, a->url);
        curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, a->headers);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, (const char *)b->gz);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->size);
        curl_easy_setopt(s->curl, CURLOPT_FRESH_CONNECT, fresh_connection ? 1L : 0L);
}

static void count_done(struct post_counts *c, struct slot *s, CURLcode result)
{
        long status = 0;

        if (result == CURLE_OK)
                curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
        if (result == CURLE_OK && status >= 200 && status < 300) {
                c->stored++;
                s->agent->posted++;
                return;
        }
        if (result == CURLE_OK)
                c->refused++;
        else
                c->failed++;
        if (!c->first_problem[0]) {
                s->answer.text[strcspn(s->answer.text, "\r\n")] = '\0';
                if (result == CURLE_OK)
                        snprintf(c->first_problem, sizeof(c->first_problem), "HTTP %ld: %s", status, s->answer.text);
                else
                        snprintf(c->first_problem, sizeof(c->first_problem), "%s", curl_easy_strerror(result));
        }
}

/* A multi handle driven by socket events (curl_multi_socket_action on
 * epoll), not curl_multi_perform(), which walks every transfer at each
 * call: with hundreds of agents that walk would cost the simulated agents
 * more CPU than serve uses. */
struct driver {
        CURLM *multi;
        int epfd;
        double timer_at; /* monotonic seconds; < 0: no timer */
};

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
        struct driver *d = userp;
        struct epoll_event ev = { .data.fd = fd };

        if (what == CURL_POLL_REMOVE) {
                epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
                curl_multi_assign(d->multi, fd, NULL);
                return 0;
        }
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (socketp)
                epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev);
        else {
                if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 && errno == EEXIST)
                        epoll_ctl(d->epfd, EPOLL_CTL_MOD, fd, &ev);
                curl_multi_assign(d->multi, fd, d); /* any non-NULL: registered */
        }
        return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
        struct driver *d = userp;

        d->timer_at = timeout_ms < 0 ? -1 : monotonic_s() + (double)timeout_ms / 1e3;
        return 0;
}

static int driver_init(struct driver *d, long max_connections)
{
        pthread_once(&curl_once, curl_setup);
        *d = (struct driver){ .epfd = epoll_create1(EPOLL_CLOEXEC), .timer_at = -1 };
        if (d->epfd < 0)
                return -errno;
        d->multi = curl_multi_init();
        if (!d->multi) {
                close(d->epfd);
                return -ENOMEM;
        }
        curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
        curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
        curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, max_connections);
        return 0;
}

/* Closes every connection the multi handle holds. */
static void driver_done(struct driver *d)
{
        if (d->multi)
                curl_multi_cleanup(d->multi);
        if (d->epfd >= 0)
                close(d->epfd);
        d->multi = NULL;
        d->epfd = -1;
}

/* Waits up to POLL_MS for sockets or the timer, and lets libcurl act. */
static void driver_step(struct driver *d)
{
        struct epoll_event events[256];
        double now = monotonic_s();
        int timeout = POLL_MS, n, running;

        if (d->timer_at >= 0) {
                double left_ms = (d->timer_at - now) * 1e3;
                timeout = left_ms <= 0 ? 0 : left_ms < POLL_MS ? (int)left_ms + 1 : POLL_MS;
        }
        n = epoll_wait(d->epfd, events, 256, timeout);
        for (int i = 0; i < n; i++) {
                int flags = (events[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                            (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                            (events[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
                curl_multi_socket_action(d->multi, events[i].data.fd, flags, &running);
        }
        if (d->timer_at >= 0 && monotonic_s() >= d->timer_at) {
                d->timer_at = -1;
                curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
}

int agents_post_until(struct posting_agent *agents, size_t n, const char *ca_file, double until,
                      const volatile sig_atomic_t *interrupted, struct post_counts *ret, double *ret_end)
{
        struct post_counts counts = {};
        struct slot *slots = calloc(n, sizeof(*slots));
        struct driver d;
        size_t active = 0;
        double end = monotonic_s();
        int r;

        if (!slots)
                return -ENOMEM;
        r = driver_init(&d, (long)n + 16);
        for (size_t i = 0; i < n && r >= 0; i++) {
                r = slot_init(&slots[i], ca_file);
                if (r >= 0) {
                        slot_aim(&slots[i], &agents[i], false);
                        if (curl_multi_add_handle(d.multi, slots[i].curl) != CURLM_OK)
                                r = -ENOMEM;
                        else
                                active++;
                }
        }
        while (r >= 0 && active > 0) {
                struct CURLMsg *msg;
                int left;

                if (interrupted && *interrupted) {
                        r = -EINTR;
                        break;
                }
                if (monotonic_s() > until + DRAIN_S) {
                        r = bench_error(-ETIMEDOUT, "%zu posts still unanswered %.0f s after the end", active,
                                        DRAIN_S);
                        break;
                }
                driver_step(&d);
                while ((msg = curl_multi_info_read(d.multi, &left))) {
                        struct slot *s;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
                        count_done(&counts, s, msg->data.result);
                        end = monotonic_s();
                        curl_multi_remove_handle(d.multi, s->curl);
                        active--;
                        if (end < until) {
                                slot_aim(s, s->agent, false);
                                if (curl_multi_add_handle(d.multi, s->curl) == CURLM_OK)
                                        active++;
                        }
                }
        }
        for (size_t i = 0; i < n; i++)
                if (slots[i].curl) {
                        if (d.multi)
                                curl_multi_remove_handle(d.multi, slots[i].curl);
                        curl_easy_cleanup(slots[i].curl);
                }
        driver_done(&d);
        free(slots);
        if (r < 0)
                return r;
        *ret = counts;
        *ret_end = end;
        return 0;
}

struct agent_crowd {
        struct driver driver;
        struct slot *slots;
        size_t n_slots;
};

struct agent_crowd *agent_crowd_free(struct agent_crowd *c)
{
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_slots; i++)
                if (c->slots[i].curl && c->driver.multi)
                        curl_multi_remove_handle(c->driver.multi, c->slots[i].curl);
        /* The multi handle holds the connections: this closes them. */
        driver_done(&c->driver);
        for (size_t i = 0; i < c->n_slots; i++)
                if (c->slots[i].curl)
                        curl_easy_cleanup(c->slots[i].curl);
        free(c->slots);
        free(c);
        return NULL;
}

int agent_crowd_connect(struct posting_agent *agents, size_t n, const char *ca_file, unsigned max_in_flight,
                        double deadline, const volatile sig_atomic_t *interrupted, struct agent_crowd **ret,
                        struct post_counts *ret_counts)
{
        struct post_counts counts = {};
        struct agent_crowd *c = calloc(1, sizeof(*c));
        size_t next = 0, active = 0;
        int r;

        if (!c)
                return -ENOMEM;
        c->driver.epfd = -1;
        c->n_slots = max_in_flight < n ? max_in_flight : n;
        c->slots = calloc(c->n_slots, sizeof(*c->slots));
        /* Every connection stays in the multi handle's cache once its post
         * is answered: room for all of them. */
        r = c->slots ? driver_init(&c->driver, (long)n + 64) : -ENOMEM;
        for (size_t i = 0; i < c->n_slots && r >= 0; i++) {
                r = slot_init(&c->slots[i], ca_file);
                if (r >= 0) {
                        slot_aim(&c->slots[i], &agents[next++], true);
                        if (curl_multi_add_handle(c->driver.multi, c->slots[i].curl) != CURLM_OK)
                                r = -ENOMEM;
                        else
                                active++;
                }
        }
        while (r >= 0 && active > 0) {
                struct CURLMsg *msg;
                int left;

                if (interrupted && *interrupted) {
                        r = -EINTR;
                        break;
                }
                if (monotonic_s() > deadline + DRAIN_S) {
                        r = bench_error(-ETIMEDOUT, "%zu posts still unanswered %.0f s after the deadline", active,
                                        DRAIN_S);
                        break;
                }
                driver_step(&c->driver);
                while ((msg = curl_multi_info_read(c->driver.multi, &left))) {
                        struct slot *s;

                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
                        count_done(&counts, s, msg->data.result);
                        curl_multi_remove_handle(c->driver.multi, s->curl);
                        active--;
                        if (next < n && monotonic_s() < deadline) {
                                slot_aim(s, &agents[next++], true);
                                if (curl_multi_add_handle(c->driver.multi, s->curl) == CURLM_OK)
                                        active++;
                        }
                }
        }
        if (r < 0) {
                agent_crowd_free(c);
                return r;
        }
        counts.failed += n - next; /* never started: out of time */
        if (n > next && !counts.first_problem[0])
                snprintf(counts.first_problem, sizeof(counts.first_problem), "%zu agents not started by the deadline",
                         n - next);
        *ret = c;
        *ret_counts = counts;
        return 0;
}

static size_t discard(char *data, size_t size, size_t n, void *userdata)
{
        return size * n;
}

int http_get_status(const char *url, const char *ca_file, unsigned timeout_ms, long *ret_status)
{
        CURL *curl;
        CURLcode cr;
        long status = 0;

        pthread_once(&curl_once, curl_setup);
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
        if (ca_file)
                curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
        cr = curl_easy_perform(curl);
        if (cr == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
        if (cr != CURLE_OK)
                return cr == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
        *ret_status = status;
        return 0;
}
