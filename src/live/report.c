#include "live/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/json_read.h"

const char *nd_link_kind_name(enum nd_link_kind k)
{
        return k == ND_LINK_ICMP ? "icmp" : "tcp";
}

int nd_link_kind_parse(const char *s, enum nd_link_kind *ret)
{
        if (strcmp(s, "tcp") == 0)
                *ret = ND_LINK_TCP;
        else if (strcmp(s, "icmp") == 0)
                *ret = ND_LINK_ICMP;
        else
                return -EINVAL;
        return 0;
}

double nd_report_error_rate(const struct nd_report_indicators *ind)
{
        double sum = 0;

        for (size_t i = 0; i < ind->n_errors; i++)
                if (ind->errors[i].status != 404)
                        sum += ind->errors[i].per_s;
        return sum;
}

/* ---- writing ---- */

static json_t *indicators_json(const struct nd_report_indicators *ind)
{
        json_t *o = json_object(), *nginx, *errors;

        if (!o)
                return NULL;
        if (ind->has_load)
                json_object_set_new(o, "load", json_pack("[fff]", ind->load[0], ind->load[1], ind->load[2]));
        if (ind->has_cpu)
                json_object_set_new(o, "cpu", json_real(ind->cpu));
        if (ind->has_nginx) {
                nginx = json_object();
                errors = json_object();
                if (!nginx || !errors) {
                        json_decref(nginx);
                        json_decref(errors);
                        json_decref(o);
                        return NULL;
                }
                if (ind->nginx_requests_per_s >= 0)
                        json_object_set_new(nginx, "requests_per_s", json_real(ind->nginx_requests_per_s));
                if (ind->nginx_active >= 0)
                        json_object_set_new(nginx, "active", json_integer(ind->nginx_active));
                for (size_t i = 0; i < ind->n_errors; i++) {
                        char code[16];
                        snprintf(code, sizeof(code), "%d", ind->errors[i].status);
                        json_object_set_new(errors, code, json_real(ind->errors[i].per_s));
                }
                json_object_set_new(nginx, "errors_per_s", errors);
                json_object_set_new(o, "nginx", nginx);
        }
        return o;
}

int nd_report_to_json(const struct nd_report *r, char **ret, size_t *ret_size)
{
        json_t *root, *addrs = json_array(), *links = json_array();
        bool ok = addrs && links;
        char *text;

        for (size_t i = 0; ok && i < r->n_addrs; i++)
                ok = json_array_append_new(addrs, json_string(r->addrs[i])) == 0;
        for (size_t i = 0; ok && i < r->n_links; i++) {
                const struct nd_link_result *l = &r->links[i];
                ok = json_array_append_new(links, json_pack("[sisIIIII]", l->addr, (int)l->port,
                                                            nd_link_kind_name(l->kind), (json_int_t)l->sent,
                                                            (json_int_t)l->lost, (json_int_t)l->refused,
                                                            (json_int_t)l->rtt_p50_us,
                                                            (json_int_t)l->rtt_p99_us)) == 0;
        }
        if (!ok) {
                json_decref(addrs);
                json_decref(links);
                return -ENOMEM;
        }
        root = json_pack("{s:i, s:s, s:I, s:I, s:o, s:o*, s:o}", "netdep_report", ND_REPORT_JSON_VERSION, "hostname",
                         r->hostname, "ts", (json_int_t)r->ts, "interval_s", (json_int_t)r->interval_s, "addrs",
                         addrs, "indicators", indicators_json(&r->indicators), "links", links);
        if (!root)
                return -ENOMEM;
        text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(6));
        json_decref(root);
        if (!text)
                return -ENOMEM;
        *ret = text;
        *ret_size = strlen(text);
        return 0;
}

/* ---- reading ---- */

/* Times a report may carry: from 2000 to 2100, unix seconds. */
#define TS_MIN 946684800LL
#define TS_MAX 4102444800LL
#define RATE_MAX 1e9

static int read_nginx(struct nd_json_reader *rd, json_t *v, struct nd_report_indicators *ind)
{
        static const char *const known[] = { "requests_per_s", "active", "errors_per_s" };
        json_t *x, *errors;
        const char *key;
        long long n;

        if (!json_is_object(v))
                return nd_json_bad(rd, "indicators.nginx: want an object");
        if (nd_json_only_known(rd, v, known, 3) < 0)
                return -EBADMSG;
        ind->has_nginx = true;
        ind->nginx_requests_per_s = -1;
        ind->nginx_active = -1;
        if ((x = json_object_get(v, "requests_per_s")) &&
            nd_json_get_number(rd, x, "indicators.nginx.requests_per_s", 0, RATE_MAX, &ind->nginx_requests_per_s) < 0)
                return -EBADMSG;
        if ((x = json_object_get(v, "active"))) {
                if (nd_json_get_int(rd, x, "indicators.nginx.active", 0, INT32_MAX, &n) < 0)
                        return -EBADMSG;
                ind->nginx_active = n;
        }
        errors = json_object_get(v, "errors_per_s");
        if (!errors)
                return 0;
        if (!json_is_object(errors))
                return nd_json_bad(rd, "indicators.nginx.errors_per_s: want an object");
        if (json_object_size(errors) > ND_REPORT_MAX_STATUSES)
                return nd_json_bad(rd, "indicators.nginx.errors_per_s: more than %d statuses",
                                   ND_REPORT_MAX_STATUSES);
        json_object_foreach(errors, key, x) {
                struct nd_status_rate *e = &ind->errors[ind->n_errors];
                char what[96], *end;
                long status = strtol(key, &end, 10);

                snprintf(what, sizeof(what), "indicators.nginx.errors_per_s.%.16s", key);
                if (*end || strlen(key) != 3 || key[0] < '4' || key[0] > '5' || status < 400 || status > 599)
                        return nd_json_bad(rd, "%s: want an HTTP status 400..599", what);
                if (nd_json_get_number(rd, x, what, 0, RATE_MAX, &e->per_s) < 0)
                        return -EBADMSG;
                e->status = (int)status;
                ind->n_errors++;
        }
        return 0;
}

static int read_indicators(struct nd_json_reader *rd, json_t *v, struct nd_report_indicators *ind)
{
        static const char *const known[] = { "load", "cpu", "nginx" };
        json_t *x;

        ind->nginx_requests_per_s = -1;
        ind->nginx_active = -1;
        if (!v)
                return 0;
        if (!json_is_object(v))
                return nd_json_bad(rd, "indicators: want an object");
        if (nd_json_only_known(rd, v, known, 3) < 0)
                return -EBADMSG;
        if ((x = json_object_get(v, "load"))) {
                if (!json_is_array(x) || json_array_size(x) != 3)
                        return nd_json_bad(rd, "indicators.load: want [1 min, 5 min, 15 min]");
                for (size_t i = 0; i < 3; i++)
                        if (nd_json_get_number(rd, json_array_get(x, i), "indicators.load", 0, 1e6, &ind->load[i]) < 0)
                                return -EBADMSG;
                ind->has_load = true;
        }
        if ((x = json_object_get(v, "cpu"))) {
                if (nd_json_get_number(rd, x, "indicators.cpu", 0, 1, &ind->cpu) < 0)
                        return -EBADMSG;
                ind->has_cpu = true;
        }
        if ((x = json_object_get(v, "nginx")))
                return read_nginx(rd, x, ind);
        return 0;
}

static int read_link(struct nd_json_reader *rd, json_t *v, size_t index, struct nd_link_result *l)
{
        char what[64];
        long long x[8];

        snprintf(what, sizeof(what), "links[%zu]", index);
        if (!json_is_array(v) || json_array_size(v) != 8)
                return nd_json_bad(rd, "%s: want [ADDR, PORT, KIND, SENT, LOST, REFUSED, RTT_P50_US, RTT_P99_US]",
                                   what);
        if (nd_json_get_addr(rd, json_array_get(v, 0), what, l->addr) < 0 ||
            nd_json_get_int(rd, json_array_get(v, 1), what, 0, 65535, &x[1]) < 0)
                return -EBADMSG;
        if (!json_is_string(json_array_get(v, 2)) ||
            nd_link_kind_parse(json_string_value(json_array_get(v, 2)), &l->kind) < 0)
                return nd_json_bad(rd, "%s: kind: want \"tcp\" or \"icmp\"", what);
        for (size_t i = 3; i < 6; i++)
                if (nd_json_get_int(rd, json_array_get(v, i), what, 0, ND_REPORT_MAX_PROBES, &x[i]) < 0)
                        return -EBADMSG;
        for (size_t i = 6; i < 8; i++)
                if (nd_json_get_int(rd, json_array_get(v, i), what, -1, 3600LL * 1000000, &x[i]) < 0)
                        return -EBADMSG;
        if ((l->kind == ND_LINK_TCP) != (x[1] > 0))
                return nd_json_bad(rd, "%s: a tcp link has a port 1..65535, an icmp link port 0", what);
        if (x[4] + x[5] > x[3])
                return nd_json_bad(rd, "%s: lost %lld and refused %lld of %lld sent", what, x[4], x[5], x[3]);
        if (x[6] > x[7])
                return nd_json_bad(rd, "%s: RTT p50 %lld above p99 %lld", what, x[6], x[7]);
        l->port = (uint16_t)x[1];
        l->sent = (uint32_t)x[3];
        l->lost = (uint32_t)x[4];
        l->refused = (uint32_t)x[5];
        l->rtt_p50_us = x[6];
        l->rtt_p99_us = x[7];
        return 0;
}

static int read_report(struct nd_json_reader *rd, json_t *root, struct nd_report *r)
{
        static const char *const known[] = { "netdep_report", "hostname", "ts", "interval_s", "addrs", "links",
                                             "indicators" };
        long long version, ts, interval;
        json_t *addrs, *links;
        size_t n;

        if (!json_is_object(root))
                return nd_json_bad(rd, "want a JSON object");
        if (nd_json_only_known(rd, root, known, sizeof(known) / sizeof(known[0])) < 0)
                return -EBADMSG;
        if (!json_object_get(root, "netdep_report"))
                return nd_json_bad(rd, "missing field 'netdep_report' (not a netdep probe report)");
        if (nd_json_get_int(rd, json_object_get(root, "netdep_report"), "netdep_report", ND_REPORT_JSON_VERSION,
                            ND_REPORT_JSON_VERSION, &version) < 0)
                return -EBADMSG;
        for (size_t i = 1; i < 6; i++) /* indicators are optional */
                if (!json_object_get(root, known[i]))
                        return nd_json_bad(rd, "missing field '%s'", known[i]);
        if (nd_json_get_name(rd, json_object_get(root, "hostname"), "hostname", sizeof(r->hostname), false,
                             r->hostname) < 0 ||
            nd_json_get_int(rd, json_object_get(root, "ts"), "ts", TS_MIN, TS_MAX, &ts) < 0 ||
            nd_json_get_int(rd, json_object_get(root, "interval_s"), "interval_s", 1, 86400, &interval) < 0)
                return -EBADMSG;
        r->ts = ts;
        r->interval_s = (uint32_t)interval;

        addrs = json_object_get(root, "addrs");
        if (!json_is_array(addrs))
                return nd_json_bad(rd, "addrs: want an array of addresses");
        n = json_array_size(addrs);
        if (n > ND_REPORT_MAX_ADDRS)
                return nd_json_bad(rd, "addrs: more than %d", ND_REPORT_MAX_ADDRS);
        if (!(r->addrs = calloc(n ? n : 1, sizeof(*r->addrs))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char what[32];
                snprintf(what, sizeof(what), "addrs[%zu]", i);
                if (nd_json_get_addr(rd, json_array_get(addrs, i), what, r->addrs[i]) < 0)
                        return -EBADMSG;
                r->n_addrs++;
        }

        if (read_indicators(rd, json_object_get(root, "indicators"), &r->indicators) < 0)
                return -EBADMSG;

        links = json_object_get(root, "links");
        if (!json_is_array(links))
                return nd_json_bad(rd, "links: want an array");
        n = json_array_size(links);
        if (n > ND_REPORT_MAX_LINKS)
                return nd_json_bad(rd, "links: %zu, more than %d", n, ND_REPORT_MAX_LINKS);
        if (!(r->links = calloc(n ? n : 1, sizeof(*r->links))))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (read_link(rd, json_array_get(links, i), i, &r->links[i]) < 0)
                        return -EBADMSG;
                r->n_links++;
        }
        return 0;
}

int nd_report_from_json(const char *buf, size_t size, struct nd_report **ret, char *why, size_t why_size)
{
        struct nd_json_reader rd = { why, why_size, false };
        struct nd_report *r;
        json_t *root;
        int k;

        if (why_size > 0)
                why[0] = '\0';
        if (nd_json_load(&rd, buf, size, &root) < 0)
                return -EBADMSG;
        r = calloc(1, sizeof(*r));
        if (!r) {
                json_decref(root);
                return -ENOMEM;
        }
        k = read_report(&rd, root, r);
        json_decref(root);
        if (k < 0) {
                nd_report_free(r);
                if (k == -ENOMEM && why_size > 0)
                        snprintf(why, why_size, "out of memory");
                return k;
        }
        *ret = r;
        return 0;
}

struct nd_report *nd_report_free(struct nd_report *r)
{
        if (r) {
                free(r->addrs);
                free(r->links);
                free(r);
        }
        return NULL;
}
