#include "store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *nd_store_default_uri(const char *uri)
{
        const char *env;

        if (uri && *uri)
                return uri;
        env = getenv("NETDEP_STORE");
        return env && *env ? env : ND_DEFAULT_STORE;
}

static bool has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

char *nd_store_redact_uri(const char *uri)
{
        /* Each redaction turns a secret into "***": a password= of an empty
         * secret grows by 3 bytes in 9 ("password="), the user-info one by 3
         * in 1 (":"). Twice the length, plus room for that one, always fits. */
        size_t len = strlen(uri);
        char *out = malloc(2 * len + 4);
        const char *scheme_end, *at, *colon, *p;
        char *o;

        if (!out)
                return NULL;
        o = out;
        p = uri;
        /* scheme://user:PASSWORD@host... */
        scheme_end = strstr(uri, "://");
        if (scheme_end) {
                const char *authority = scheme_end + 3;
                const char *authority_end = authority + strcspn(authority, "/?#");
                at = memrchr(authority, '@', (size_t)(authority_end - authority));
                colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
                if (colon) {
                        memcpy(o, uri, (size_t)(colon + 1 - uri));
                        o += colon + 1 - uri;
                        o = stpcpy(o, "***");
                        p = at;
                }
        }
        /* ...?password=SECRET&... */
        while (*p) {
                if ((p == uri || p[-1] == '?' || p[-1] == '&' || p[-1] == ' ') && has_prefix(p, "password=")) {
                        o = stpcpy(o, "password=***");
                        p += strlen("password=");
                        p += strcspn(p, "& ");
                        continue;
                }
                *o++ = *p++;
        }
        *o = 0;
        return out;
}

bool nd_store_uri_is_postgres(const char *uri)
{
        return has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://");
}

static const struct nd_store_ops *ops_for(const char *uri)
{
        if (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://"))
                return &nd_store_postgres_ops;
        if (has_prefix(uri, "sqlite:") || !strstr(uri, "://"))
                return &nd_store_sqlite_ops;
        return NULL;
}

int nd_store_open(const char *uri, unsigned flags, struct nd_store **ret, char *errbuf, size_t errbuf_size)
{
        const struct nd_store_ops *ops = ops_for(uri);
        struct nd_store *s;
        int r;

        if (!ops) {
                snprintf(errbuf, errbuf_size, "unknown store scheme (use sqlite:PATH or postgresql://...)");
                return -EINVAL;
        }
        r = ops->open(uri, flags, &s, errbuf, errbuf_size);
        if (r < 0)
                return r;
        s->ops = ops;
        s->display_uri = nd_store_redact_uri(uri);
        if (!s->display_uri) {
                ops->close(s);
                snprintf(errbuf, errbuf_size, "%s", strerror(ENOMEM));
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

struct nd_store *nd_store_close(struct nd_store *s)
{
        if (!s)
                return NULL;
        free(s->display_uri);
        s->display_uri = NULL;
        s->ops->close(s);
        return NULL;
}

int nd_store_check_schema(struct nd_store *s)
{
        int version, r;

        r = s->ops->schema_version(s, &version);
        if (r < 0)
                return r;
        if (version == 0) {
                nd_store_set_error(s, "store %s has no netdep schema; run 'netdep db migrate --store %s'",
                                   s->display_uri, s->display_uri);
                return -ENOMEDIUM;
        }
        if (version > ND_SCHEMA_VERSION) {
                nd_store_set_error(s, "store %s has schema version %d, newer than this netdep's %d; upgrade netdep",
                                   s->display_uri, version, ND_SCHEMA_VERSION);
                return -EPROTONOSUPPORT;
        }
        if (version < ND_SCHEMA_VERSION) {
                nd_store_set_error(s, "store %s has schema version %d, older than %d; run 'netdep db migrate --store %s'",
                                   s->display_uri, version, ND_SCHEMA_VERSION, s->display_uri);
                return -ESTALE;
        }
        return 0;
}

const char *nd_store_last_error(const struct nd_store *s)
{
        return s->last_error;
}

void nd_store_open_failed(struct nd_store *s, int r, char *errbuf, size_t errbuf_size)
{
        snprintf(errbuf, errbuf_size, "%s", s->last_error[0] ? s->last_error : strerror(-r));
}

void nd_store_set_error(struct nd_store *s, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(s->last_error, sizeof(s->last_error), fmt, ap);
        va_end(ap);
}

int nd_host_list_push(struct nd_host_list *list, const char *addr, const char *hostname)
{
        if (list->n == list->allocated) {
                size_t want = list->allocated ? list->allocated * 2 : 64;
                struct nd_host *items = reallocarray(list->items, want, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                list->items = items;
                list->allocated = want;
        }
        struct nd_host *h = &list->items[list->n++];
        snprintf(h->addr, sizeof(h->addr), "%s", addr);
        snprintf(h->hostname, sizeof(h->hostname), "%s", hostname);
        return 0;
}

void nd_host_list_done(struct nd_host_list *list)
{
        free(list->items);
        *list = (struct nd_host_list){};
}

int nd_server_list_push(struct nd_server_list *list, const char *addr, uint16_t port)
{
        if (list->n == list->allocated) {
                size_t want = list->allocated ? list->allocated * 2 : 64;
                struct nd_server_endpoint *items = reallocarray(list->items, want, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                list->items = items;
                list->allocated = want;
        }
        struct nd_server_endpoint *e = &list->items[list->n++];
        snprintf(e->addr, sizeof(e->addr), "%s", addr);
        e->port = port;
        return 0;
}

void nd_server_list_done(struct nd_server_list *list)
{
        free(list->items);
        *list = (struct nd_server_list){};
}
