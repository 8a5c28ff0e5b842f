#include <stdio.h>

#include "indicators/indicators.h"

/* json_object_set_new() that remembers a failure; takes v either way. */
static int set_new(json_t *o, const char *key, json_t *v)
{
        return json_object_set_new(o, key, v) < 0 ? -1 : 0;
}

static json_t *errors_to_json(const struct nd_indicator_sample *s)
{
        json_t *o = json_object();
        int r = 0;

        if (!o)
                return NULL;
        for (size_t i = 0; i < s->n_errors; i++) {
                char key[16];

                snprintf(key, sizeof(key), "%d", s->errors[i].status);
                r |= set_new(o, key, json_real(s->errors[i].per_s));
        }
        if (r < 0) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *nd_indicator_sample_to_json(const struct nd_indicator_sample *s)
{
        json_t *root = json_object(), *nginx = NULL;
        int r = 0;

        if (!root)
                return NULL;
        if (s->has_load)
                r |= set_new(root, "load", json_pack("[fff]", s->load1, s->load5, s->load15));
        if (s->has_cpu)
                r |= set_new(root, "cpu", json_real(s->cpu_busy));
        if (s->has_nginx_status || s->has_access_log) {
                nginx = json_object();
                r |= set_new(root, "nginx", nginx);
        }
        if (nginx) {
                if (s->has_nginx_rate)
                        r |= set_new(nginx, "requests_per_s", json_real(s->nginx_requests_per_s));
                else if (s->has_access_log)
                        r |= set_new(nginx, "requests_per_s", json_real(s->log_requests_per_s));
                if (s->has_nginx_status)
                        r |= set_new(nginx, "active", json_integer(s->nginx_active));
                if (s->has_access_log)
                        r |= set_new(nginx, "errors_per_s", errors_to_json(s));
        }
        if (r < 0) {
                json_decref(root);
                return NULL;
        }
        return root;
}
