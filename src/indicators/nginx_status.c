#include "indicators/nginx_status.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#define FETCH_TIMEOUT_MS 2000L
/* stub_status is about 100 bytes; more than this is some other page. */
#define BODY_MAX 4096

/* Finds needle in the first len bytes of text. */
static const char *find(const char *text, size_t len, const char *needle)
{
        return memmem(text, len, needle, strlen(needle));
}

/* Reads a decimal number at *p, skipping blanks first; advances *p. */
static bool take_number(const char **p, const char *end, uint64_t *ret)
{
        const char *s = *p;
        uint64_t v = 0;
        bool any = false;

        while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
                s++;
        while (s < end && *s >= '0' && *s <= '9') {
                if (v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
                s++;
                any = true;
        }
        if (!any)
                return false;
        *p = s;
        *ret = v;
        return true;
}

/* "Reading: 6" and the like; -1 when absent. */
static int64_t labelled(const char *text, size_t len, const char *label)
{
        const char *p = find(text, len, label), *end = text + len;
        uint64_t v;

        if (!p)
                return -1;
        p += strlen(label);
        if (!take_number(&p, end, &v) || v > INT64_MAX)
                return -1;
        return (int64_t)v;
}

int nd_nginx_status_parse(const char *text, size_t len, struct nd_nginx_status *ret)
{
        static const char active_label[] = "Active connections:";
        static const char counters_label[] = "server accepts handled requests";
        const char *end = text + len, *p;
        struct nd_nginx_status s;
        uint64_t active;

        p = find(text, len, active_label);
        if (!p)
                return -EBADMSG;
        p += sizeof(active_label) - 1;
        if (!take_number(&p, end, &active) || active > INT64_MAX)
                return -EBADMSG;

        p = find(text, len, counters_label);
        if (!p)
                return -EBADMSG;
        p += sizeof(counters_label) - 1;
        /* Newer nginx may add columns to the header (e.g. "request_time");
         * the numbers line starts at the next line either way. */
        p = memchr(p, '\n', (size_t)(end - p));
        if (!p)
                return -EBADMSG;
        if (!take_number(&p, end, &s.accepts) || !take_number(&p, end, &s.handled) ||
            !take_number(&p, end, &s.requests))
                return -EBADMSG;

        s.active = (int64_t)active;
        s.reading = labelled(text, len, "Reading:");
        s.writing = labelled(text, len, "Writing:");
        s.waiting = labelled(text, len, "Waiting:");
        *ret = s;
        return 0;
}

int nd_nginx_request_rate(const struct nd_nginx_status *before, const struct nd_nginx_status *after,
                          uint64_t ms_between, double *ret)
{
        if (ms_between == 0 || after->requests < before->requests)
                return -ERANGE;
        *ret = (double)(after->requests - before->requests) * 1000.0 / (double)ms_between;
        return 0;
}

struct body {
        char data[BODY_MAX];
        size_t len;
        bool overflow;
};

static size_t keep_body(char *data, size_t size, size_t n, void *userdata)
{
        struct body *b = userdata;
        size_t len = size * n;

        if (len > sizeof(b->data) - b->len) {
                b->overflow = true;
                return 0; /* aborts the transfer */
        }
        memcpy(b->data + b->len, data, len);
        b->len += len;
        return len;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_setup(void)
{
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void curl_easy_cleanupp(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

int nd_nginx_status_fetch(const char *url, struct nd_nginx_status *ret, char *why, size_t why_size)
{
        __attribute__((cleanup(curl_easy_cleanupp))) CURL *curl = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        _cleanup_free_ struct body *b = NULL;
        long code = 0;
        CURLcode cr;
        int r;

        pthread_once(&curl_once, curl_setup);
        curl = curl_easy_init();
        if (!curl)
                return -ENOMEM;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, FETCH_TIMEOUT_MS);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        /* The status page is local; a proxy from the environment would
         * measure the wrong server, or none. */
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, keep_body);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);

        cr = curl_easy_perform(curl);
        if (cr != CURLE_OK) {
                if (why)
                        snprintf(why, why_size, "%s", b->overflow ? "answer too long for stub_status"
                                                      : errbuf[0] ? errbuf : curl_easy_strerror(cr));
                return b->overflow ? -EBADMSG : -EHOSTUNREACH;
        }
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        if (code != 200) {
                if (why)
                        snprintf(why, why_size, "HTTP status %ld", code);
                return -EPROTO;
        }
        r = nd_nginx_status_parse(b->data, b->len, ret);
        if (r < 0 && why)
                snprintf(why, why_size, "not a stub_status page");
        return r;
}
