/* A probe report: what an agent posts after each probe round, and what
 * serve folds into its live state.
 *
 *   {"netdep_report": 1, "hostname": "app1", "ts": 1765000000,
 *    "interval_s": 30, "addrs": ["10.0.0.21"],
 *    "indicators": {"load": [0.5, 0.4, 0.3], "cpu": 0.12,
 *                   "nginx": {"requests_per_s": 120.5, "active": 3,
 *                             "errors_per_s": {"404": 0.5, "502": 0.1}}},
 *    "links": [[ADDR, PORT, KIND, SENT, LOST, REFUSED, RTT_P50_US, RTT_P99_US], ...]}
 *
 * KIND is "tcp" or "icmp" (whose PORT is 0). A link that answered nothing
 * has RTTs of -1. Every indicator is optional: a host without nginx sends
 * no "nginx". Nothing else is allowed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/edge.h" /* ND_ADDR_TEXT_MAX */

#define ND_REPORT_JSON_VERSION 1
#define ND_REPORT_MAX_LINKS 4096
#define ND_REPORT_MAX_ADDRS 1024
#define ND_REPORT_MAX_STATUSES 32
#define ND_REPORT_MAX_PROBES 1000 /* a link's probes in one round */

enum nd_link_kind {
        ND_LINK_TCP = 1,
        ND_LINK_ICMP = 2,
};

const char *nd_link_kind_name(enum nd_link_kind k);
/* "tcp" or "icmp"; -EINVAL otherwise. */
int nd_link_kind_parse(const char *s, enum nd_link_kind *ret);

/* One link's round. */
struct nd_link_result {
        char addr[ND_ADDR_TEXT_MAX];
        uint16_t port; /* 0 for ICMP */
        enum nd_link_kind kind;
        uint32_t sent, lost, refused;
        int64_t rtt_p50_us, rtt_p99_us; /* -1: no answer to time */
};

struct nd_status_rate {
        int status; /* 400..599 */
        double per_s;
};

struct nd_report_indicators {
        bool has_load, has_cpu, has_nginx;
        double load[3]; /* 1, 5 and 15 minutes */
        double cpu; /* busy fraction of all CPUs, 0..1 */
        double nginx_requests_per_s; /* -1: not known this round */
        int64_t nginx_active; /* -1: not known */
        size_t n_errors;
        struct nd_status_rate errors[ND_REPORT_MAX_STATUSES];
};

struct nd_report {
        char hostname[256];
        int64_t ts;
        uint32_t interval_s;
        char (*addrs)[ND_ADDR_TEXT_MAX];
        size_t n_addrs;
        struct nd_report_indicators indicators;
        struct nd_link_result *links;
        size_t n_links;
};

/* Caller owns *ret (NUL-terminated; *ret_size without the NUL). */
int nd_report_to_json(const struct nd_report *r, char **ret, size_t *ret_size);
/* Pure: bytes in, a report out. -EBADMSG with a one-line reason in why
 * ("links[3]: port 70000 out of range 0..65535"); -ENOMEM. Free *ret
 * with nd_report_free(). */
int nd_report_from_json(const char *buf, size_t size, struct nd_report **ret, char *why, size_t why_size);
struct nd_report *nd_report_free(struct nd_report *r);

/* The host's error rate: every status >= 500 and 4xx but 404, per second
 * (404s are mostly clients asking for what never was). */
double nd_report_error_rate(const struct nd_report_indicators *ind);
