#include "agent/probe_loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/server_client.h"
#include "collect/host_addrs.h"
#include "live/report.h"
#include "model/json_read.h"
#include "probe/prober.h"
#include "shared/log.h"

struct nd_probe_loop {
        struct nd_probe_loop_options o;
        char *hostname;
        struct nd_server_client *client;
        struct nd_prober *prober;
        struct nd_indicators *indicators;
        pthread_t thread;
        atomic_bool stopping;
        /* The peer list held, and its version. */
        char etag[64];
        struct nd_probe_target *targets;
        size_t n_targets;
        char (*addrs)[ND_ADDR_TEXT_MAX];
        size_t n_addrs;
        bool warned_post, warned_peers, warned_icmp;
};

static uint64_t now_ms(void)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* {"host": H, "peers": [{"addr": A, "port": P, "kind": "tcp"|"icmp"|"both"}]}
 * into probe targets: "both" is a connect to the port and an echo to the
 * address, and an address is echoed once however many ports it has. */
static int parse_peers(const char *body, size_t size, struct nd_probe_target **ret, size_t *ret_n, char *why,
                       size_t why_size)
{
        struct nd_json_reader rd = { why, why_size, false };
        struct nd_probe_target *t = NULL;
        json_t *root = NULL, *peers, *p;
        size_t n = 0, i;
        int r = 0;

        if (nd_json_load(&rd, body, size, &root) < 0)
                return -EBADMSG;
        peers = json_object_get(root, "peers");
        if (!json_is_array(peers)) {
                json_decref(root);
                return nd_json_bad(&rd, "peers: want an array");
        }
        t = calloc(2 * json_array_size(peers) + 1, sizeof(*t));
        if (!t) {
                json_decref(root);
                return -ENOMEM;
        }
        json_array_foreach(peers, i, p)
        {
                char addr[ND_ADDR_TEXT_MAX], what[32];
                long long port;
                const char *kind = json_string_value(json_object_get(p, "kind"));
                struct nd_addr a;
                bool icmp, tcp, seen = false;

                snprintf(what, sizeof(what), "peers[%zu]", i);
                if (nd_json_get_addr(&rd, json_object_get(p, "addr"), what, addr) < 0 ||
                    nd_json_get_int(&rd, json_object_get(p, "port"), what, 0, 65535, &port) < 0 || !kind) {
                        r = nd_json_bad(&rd, "%s: want addr, port and kind", what);
                        break;
                }
                nd_addr_parse(addr, &a);
                tcp = (strcmp(kind, "tcp") == 0 || strcmp(kind, "both") == 0) && port > 0;
                icmp = strcmp(kind, "icmp") == 0 || strcmp(kind, "both") == 0;
                if (tcp)
                        t[n++] = (struct nd_probe_target){ a, (uint16_t)port, ND_PROBE_TCP };
                for (size_t k = 0; icmp && k < n; k++)
                        seen = seen || (t[k].kind == ND_PROBE_ICMP && nd_addr_equal(&t[k].addr, &a));
                if (icmp && !seen)
                        t[n++] = (struct nd_probe_target){ a, 0, ND_PROBE_ICMP };
        }
        json_decref(root);
        if (r < 0) {
                free(t);
                return r;
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

/* This host's addresses, for the report: the server names links' far
 * ends by them. */
static void refresh_addrs(struct nd_probe_loop *l)
{
        struct nd_host_addrs h = {};
        char (*addrs)[ND_ADDR_TEXT_MAX];

        if (nd_host_addrs_collect(false, NULL, NULL, &h) < 0)
                return;
        addrs = calloc(h.n_addrs ? h.n_addrs : 1, sizeof(*addrs));
        if (addrs) {
                for (size_t i = 0; i < h.n_addrs && i < ND_REPORT_MAX_ADDRS; i++)
                        snprintf(addrs[i], sizeof(addrs[i]), "%s", h.addrs[i]);
                free(l->addrs);
                l->addrs = addrs;
                l->n_addrs = h.n_addrs < ND_REPORT_MAX_ADDRS ? h.n_addrs : ND_REPORT_MAX_ADDRS;
        }
        nd_host_addrs_done(&h);
}

static void fetch_peers(struct nd_probe_loop *l)
{
        struct nd_probe_target *t = NULL;
        char why[512], *query = NULL, *escaped, *body = NULL;
        size_t size = 0, n = 0;
        int r;

        refresh_addrs(l);
        escaped = curl_easy_escape(NULL, l->hostname, 0);
        if (!escaped || asprintf(&query, "host=%s", escaped) < 0) {
                curl_free(escaped);
                return;
        }
        curl_free(escaped);
        r = nd_server_client_get(l->client, "/api/v1/peers", query, l->etag, sizeof(l->etag), &body, &size, why,
                                 sizeof(why));
        free(query);
        if (r == 1)
                return; /* unchanged */
        if (r == 0)
                r = parse_peers(body, size, &t, &n, why, sizeof(why));
        free(body);
        if (r == 0) {
                r = nd_prober_set_targets(l->prober, t, n);
                if (r == -EPERM || r == -EACCES) {
                        /* No ping socket and no raw one: the TCP links still. */
                        size_t k = 0;
                        for (size_t i = 0; i < n; i++)
                                if (t[i].kind != ND_PROBE_ICMP)
                                        t[k++] = t[i];
                        if (!l->warned_icmp)
                                log_warning("agent: ICMP probes are not permitted here (neither a ping socket, see "
                                            "net.ipv4.ping_group_range, nor a raw one): probing TCP links only");
                        l->warned_icmp = true;
                        n = k;
                        r = nd_prober_set_targets(l->prober, t, n);
                }
        }
        if (r < 0) {
                free(t);
                l->etag[0] = '\0';
                if (!l->warned_peers)
                        log_warning("agent: cannot get this host's peer list, probing the last one: %s",
                                    why[0] ? why : strerror(-r));
                l->warned_peers = true;
                return;
        }
        if (l->warned_peers || n != l->n_targets)
                log_info("agent: probing %zu links", n);
        l->warned_peers = false;
        free(l->targets);
        l->targets = t;
        l->n_targets = n;
}

static void fill_indicators(struct nd_probe_loop *l, struct nd_report_indicators *ind)
{
        struct nd_indicator_sample s = {};

        *ind = (struct nd_report_indicators){ .nginx_requests_per_s = -1, .nginx_active = -1 };
        if (nd_indicators_sample(l->indicators, &s) < 0)
                return;
        ind->has_load = s.has_load;
        ind->load[0] = s.load1;
        ind->load[1] = s.load5;
        ind->load[2] = s.load15;
        ind->has_cpu = s.has_cpu;
        ind->cpu = s.cpu_busy;
        ind->has_nginx = s.has_nginx_status || s.has_nginx_rate || s.has_access_log;
        if (s.has_nginx_rate)
                ind->nginx_requests_per_s = s.nginx_requests_per_s;
        else if (s.has_access_log)
                ind->nginx_requests_per_s = s.log_requests_per_s;
        if (s.has_nginx_status)
                ind->nginx_active = s.nginx_active;
        for (size_t i = 0; s.has_access_log && i < s.n_errors && ind->n_errors < ND_REPORT_MAX_STATUSES; i++)
                if (s.errors[i].status >= 400 && s.errors[i].status <= 599)
                        ind->errors[ind->n_errors++] = (struct nd_status_rate){ s.errors[i].status, s.errors[i].per_s };
}

static void post_report(struct nd_probe_loop *l, const struct nd_probe_result *res, size_t n)
{
        struct nd_link_result *links = calloc(n ? n : 1, sizeof(*links));
        struct nd_report r = {
                .ts = (int64_t)time(NULL), .interval_s = (uint32_t)((l->o.interval_ms + 999) / 1000),
                .addrs = l->addrs, .n_addrs = l->n_addrs, .links = links, .n_links = n,
        };
        char why[512], *json = NULL;
        size_t size;
        unsigned retry_after_ms;
        int k;

        if (!links)
                return;
        snprintf(r.hostname, sizeof(r.hostname), "%s", l->hostname);
        for (size_t i = 0; i < n; i++) {
                nd_addr_format(&res[i].target.addr, links[i].addr);
                links[i].port = res[i].target.port;
                links[i].kind = res[i].target.kind == ND_PROBE_ICMP ? ND_LINK_ICMP : ND_LINK_TCP;
                links[i].sent = res[i].sent;
                links[i].lost = res[i].lost;
                links[i].refused = res[i].refused;
                links[i].rtt_p50_us = res[i].rtt_p50_us;
                links[i].rtt_p99_us = res[i].rtt_p99_us;
        }
        fill_indicators(l, &r.indicators);
        k = nd_report_to_json(&r, &json, &size);
        free(links);
        if (k < 0)
                return;
        k = nd_server_client_post_json(l->client, "/api/v1/report", json, size, &retry_after_ms, why, sizeof(why));
        free(json);
        if (k < 0 && !l->warned_post)
                log_warning("agent: probe report not taken, next round's replaces it: %s", why);
        else if (k >= 0 && l->warned_post)
                log_info("agent: probe reports taken again");
        l->warned_post = k < 0;
}

static void *loop_main(void *arg)
{
        struct nd_probe_loop *l = arg;
        uint64_t peers_at = 0;

        while (!atomic_load(&l->stopping)) {
                struct nd_probe_result *res = NULL;
                size_t n = 0;
                int r;

                if (peers_at == 0 || now_ms() - peers_at >= l->o.peers_every_ms) {
                        fetch_peers(l);
                        peers_at = now_ms();
                }
                r = nd_prober_run_round(l->prober, &res, &n);
                if (r == -ECANCELED)
                        break;
                if (r < 0) {
                        log_warning_errno(r, "agent: a probe round failed: %m");
                        continue;
                }
                post_report(l, res, n);
                free(res);
        }
        return NULL;
}

static uint64_t fnv1a(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL;

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
        return h;
}

int nd_probe_loop_start(const struct nd_probe_loop_options *o, struct nd_probe_loop **ret, char *why,
                        size_t why_size)
{
        struct nd_probe_loop *l = calloc(1, sizeof(*l));
        struct nd_prober_options po = {
                .probes_per_round = o->probes_per_round, .interval_ms = o->interval_ms, .timeout_ms = o->timeout_ms,
                .max_probes_per_s = o->max_probes_per_s, .phase_key = fnv1a(o->hostname),
        };
        int r;

        if (!l)
                return -ENOMEM;
        l->o = *o;
        l->hostname = strdup(o->hostname);
        if (!l->hostname) {
                free(l);
                return -ENOMEM;
        }
        r = nd_server_client_new(o->server_url, o->token_file, o->ca_file, &l->client, why, why_size);
        if (r >= 0) {
                r = nd_prober_new(&po, &l->prober);
                if (r < 0)
                        snprintf(why, why_size, "cannot set up probing: %s", strerror(-r));
        }
        if (r >= 0) {
                r = nd_indicators_new(&o->indicators, &l->indicators);
                if (r < 0)
                        snprintf(why, why_size, "cannot set up the host indicators: %s", strerror(-r));
        }
        if (r >= 0 && pthread_create(&l->thread, NULL, loop_main, l) != 0) {
                snprintf(why, why_size, "cannot start the probe thread");
                r = -EAGAIN;
        }
        if (r < 0) {
                nd_indicators_free(l->indicators);
                nd_prober_free(l->prober);
                nd_server_client_free(l->client);
                free(l->hostname);
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

struct nd_probe_loop *nd_probe_loop_stop(struct nd_probe_loop *l)
{
        if (!l)
                return NULL;
        atomic_store(&l->stopping, true);
        nd_prober_stop(l->prober);
        pthread_join(l->thread, NULL);
        nd_indicators_free(l->indicators);
        nd_prober_free(l->prober);
        nd_server_client_free(l->client);
        free(l->targets);
        free(l->addrs);
        free(l->hostname);
        free(l);
        return NULL;
}
