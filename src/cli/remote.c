#include "cli/remote.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/url_path.h"
#include "cli/cli.h"
#include "shared/log.h"

bool cli_remote_option(struct cli_remote *r, int c, const struct option *options, int index)
{
        switch (c) {
        case CLI_OPT_SERVER:
                r->server = optarg;
                return true;
        case CLI_OPT_TOKEN_FILE:
                r->token_file = optarg;
                return true;
        case CLI_OPT_CA_FILE:
                r->ca_file = optarg;
                return true;
        }
        /* Long options only: getopt_long() sets index for those. */
        if (c >= 0x100 && c != '?' && c != ':' && strcmp(options[index].name, "store") != 0)
                cli_remote_param(r, options[index].name, optarg);
        return false;
}

void cli_remote_param(struct cli_remote *r, const char *name, const char *value)
{
        if (r->n < CLI_REMOTE_MAX_PARAMS) {
                r->params[r->n].name = name;
                r->params[r->n].value = value;
        }
        r->n++;
}

struct answer {
        CURL *curl;
        FILE *out; /* where a 2xx body goes */
        bool ok; /* 2xx */
        bool decided;
        char error[1024];
        size_t error_len;
        bool write_failed;
};

static size_t take_body(char *data, size_t size, size_t n, void *userdata)
{
        struct answer *a = userdata;
        size_t len = size * n;

        if (!a->decided) {
                long status = 0;
                curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &status);
                a->ok = status >= 200 && status < 300;
                a->decided = true;
        }
        if (a->ok) {
                if (fwrite(data, 1, len, a->out) != len) {
                        a->write_failed = true;
                        return 0;
                }
                return len;
        }
        if (a->error_len < sizeof(a->error) - 1) {
                size_t room = sizeof(a->error) - 1 - a->error_len;
                memcpy(a->error + a->error_len, data, len < room ? len : room);
                a->error_len += len < room ? len : room;
                a->error[a->error_len] = '\0';
        }
        return len;
}

static int read_token(const char *path, char *buf, size_t size)
{
        FILE *f = fopen(path, "re");
        size_t len;

        if (!f)
                return -errno;
        if (!fgets(buf, (int)size, f))
                buf[0] = '\0';
        fclose(f);
        len = strcspn(buf, "\r\n");
        buf[len] = '\0';
        while (len > 0 && isspace((unsigned char)buf[len - 1]))
                buf[--len] = '\0';
        return len > 0 ? 0 : -EINVAL;
}

int cli_remote_fetch(struct cli_remote *r, const char *path, const char *method, const char *body, size_t body_size,
                     FILE *out, long *ret_status, char *why, size_t why_size)
{
        struct answer a = { .out = out };
        struct curl_slist *headers = NULL;
        char token[1024], auth[1100], *url = NULL;
        long status = 0;
        CURLU *u = NULL;
        CURLcode cr;
        int ret = -EIO;

        *ret_status = 0;
        if (r->n > CLI_REMOTE_MAX_PARAMS) {
                snprintf(why, why_size, "too many options for --server");
                return -EINVAL;
        }
        if (r->token_file) {
                int rr = read_token(r->token_file, token, sizeof(token));
                if (rr < 0) {
                        snprintf(why, why_size, "Failed to read token file %s: %s", r->token_file,
                                 rr == -EINVAL ? "want the token on the first line" : strerror(-rr));
                        return -EIO;
                }
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        a.curl = curl_easy_init();
        u = curl_url();
        if (!a.curl || !u || curl_url_set(u, CURLUPART_URL, r->server, 0) != CURLUE_OK ||
            nd_url_set_api_path(u, path) < 0) {
                snprintf(why, why_size, "invalid --server '%s' (want http(s)://HOST:PORT)", r->server);
                ret = -EINVAL;
                goto out;
        }
        for (size_t i = 0; i < r->n; i++) {
                char *param = NULL;
                if (asprintf(&param, "%s=%s", r->params[i].name, r->params[i].value ? r->params[i].value : "") < 0)
                        goto out;
                curl_url_set(u, CURLUPART_QUERY, param, CURLU_APPENDQUERY | CURLU_URLENCODE);
                free(param);
        }
        if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK)
                goto out;

        if (r->token_file) {
                snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
                headers = curl_slist_append(headers, auth);
                explicit_bzero(auth, sizeof(auth));
                explicit_bzero(token, sizeof(token));
        }
        curl_easy_setopt(a.curl, CURLOPT_URL, url);
        curl_easy_setopt(a.curl, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(a.curl, CURLOPT_WRITEFUNCTION, take_body);
        curl_easy_setopt(a.curl, CURLOPT_WRITEDATA, &a);
        curl_easy_setopt(a.curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(a.curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
        curl_easy_setopt(a.curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(a.curl, CURLOPT_USERAGENT, "netdep/" NETDEP_VERSION);
        if (r->timeout_ms)
                curl_easy_setopt(a.curl, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
        if (r->ca_file)
                curl_easy_setopt(a.curl, CURLOPT_CAINFO, r->ca_file);
        if (strcmp(method, "POST") == 0) {
                curl_easy_setopt(a.curl, CURLOPT_POSTFIELDS, body ? body : "");
                curl_easy_setopt(a.curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_size);
        }
        cr = curl_easy_perform(a.curl);
        if (a.write_failed) {
                snprintf(why, why_size, "Failed to write the answer: %s", strerror(errno));
                goto out;
        }
        if (cr != CURLE_OK) {
                snprintf(why, why_size, "Failed to ask %s: %s", r->server, curl_easy_strerror(cr));
                goto out;
        }
        curl_easy_getinfo(a.curl, CURLINFO_RESPONSE_CODE, &status);
        *ret_status = status;
        if (status >= 200 && status < 300) {
                ret = 0;
                goto out;
        }
        a.error[strcspn(a.error, "\r\n")] = '\0';
        if (status == 400)
                snprintf(why, why_size, "%s", a.error);
        else
                snprintf(why, why_size, "%s%s(server %s answered %ld)", a.error, a.error[0] ? " " : "", r->server,
                         status);
        ret = -EPROTO;
out:
        curl_free(url);
        curl_url_cleanup(u);
        curl_slist_free_all(headers);
        if (a.curl)
                curl_easy_cleanup(a.curl);
        return ret;
}

int cli_remote_run(struct cli_remote *r, const char *verb, const char *path, const char *method,
                   const char *body_path)
{
        char *body = NULL, why[1200] = "";
        size_t body_size = 0;
        long status = 0;
        int k;

        if (body_path) {
                FILE *f = strcmp(body_path, "-") == 0 ? stdin : fopen(body_path, "re");
                FILE *out = open_memstream(&body, &body_size);
                char buf[4096];
                size_t n;

                if (!f || !out) {
                        log_error("Failed to read %s: %s", body_path, strerror(errno));
                        if (out)
                                fclose(out);
                        if (f && f != stdin)
                                fclose(f);
                        free(body);
                        return EXIT_RUNTIME;
                }
                while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
                        fwrite(buf, 1, n, out);
                if (f != stdin)
                        fclose(f);
                fclose(out);
        }
        k = cli_remote_fetch(r, path, method, body, body_size, stdout, &status, why, sizeof(why));
        free(body);
        if (k == 0)
                return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
        if (k == -EINVAL || status == 400)
                return usage_error(verb, "%s", why);
        log_error("%s", why);
        return EXIT_RUNTIME;
}
