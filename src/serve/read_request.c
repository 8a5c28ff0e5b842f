#include "serve/read_request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum arg_kind {
        ARG_REQUIRED, /* --name=VALUE */
        ARG_OPTIONAL, /* --name or --name=VALUE */
        ARG_FLAG, /* --name, when the value says yes */
        ARG_POSITIONAL, /* the verb's operand, after the options */
};

struct param_spec {
        const char *name;
        enum arg_kind kind;
};

struct endpoint {
        const char *path, *method, *verb, *action;
        enum nd_scope scope;
        const struct param_spec *params;
};

#define QUESTION_PARAMS                                                                                  \
        { "since", ARG_REQUIRED }, { "until", ARG_REQUIRED }, { "active", ARG_OPTIONAL },                \
        { "resolve", ARG_OPTIONAL }

static const struct param_spec look_params[] = {
        { "host", ARG_REQUIRED }, { "role", ARG_REQUIRED }, { "port", ARG_REQUIRED },
        { "depth", ARG_REQUIRED }, { "direction", ARG_REQUIRED }, { "group-by", ARG_REQUIRED },
        { "format", ARG_REQUIRED }, QUESTION_PARAMS, {},
};
static const struct param_spec graph_params[] = {
        { "host", ARG_REQUIRED }, { "role", ARG_REQUIRED }, { "depth", ARG_REQUIRED },
        { "group-by", ARG_REQUIRED }, { "format", ARG_REQUIRED }, QUESTION_PARAMS, {},
};
static const struct param_spec impact_params[] = {
        { "target", ARG_POSITIONAL }, { "reverse", ARG_FLAG }, { "depth", ARG_REQUIRED },
        { "group-by", ARG_REQUIRED }, { "format", ARG_REQUIRED }, QUESTION_PARAMS, {},
};
static const struct param_spec diff_params[] = {
        { "host", ARG_REQUIRED }, { "role", ARG_REQUIRED }, { "before", ARG_REQUIRED },
        { "after", ARG_REQUIRED }, { "group-by", ARG_REQUIRED }, { "json", ARG_FLAG },
        { "resolve", ARG_OPTIONAL }, {},
};
static const struct param_spec hosts_params[] = { { "format", ARG_REQUIRED }, {} };
static const struct param_spec no_params[] = { {} };
static const struct param_spec import_params[] = { { "allow-empty", ARG_FLAG }, {} };

static const struct endpoint endpoints[] = {
        { "/api/v1/look", "GET", "look", NULL, ND_SCOPE_READER, look_params },
        { "/api/v1/graph", "GET", "graph", NULL, ND_SCOPE_READER, graph_params },
        { "/api/v1/impact", "GET", "impact", NULL, ND_SCOPE_READER, impact_params },
        { "/api/v1/diff", "GET", "diff", NULL, ND_SCOPE_READER, diff_params },
        { "/api/v1/hosts", "GET", "hosts", NULL, ND_SCOPE_READER, hosts_params },
        { "/api/v1/roles", "GET", "roles", "list", ND_SCOPE_READER, no_params },
        { "/api/v1/roles", "POST", "roles", "import", ND_SCOPE_ADMIN, import_params },
};

static const struct param_spec *find_param(const struct param_spec *specs, const char *name)
{
        for (; specs->name; specs++)
                if (strcmp(specs->name, name) == 0)
                        return specs;
        return NULL;
}

/* Yes, no, or neither (-1). */
static int flag_value(const char *v)
{
        static const char *const yes[] = { "", "1", "true", "yes", "on" }, *const no[] = { "0", "false", "no", "off" };

        for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
                if (strcmp(v, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
                if (strcmp(v, no[i]) == 0)
                        return 0;
        return -1;
}

static bool printable(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || *s == 0x7f)
                        return false;
        return true;
}

/* why echoes the caller's path, method or name: kept to one line. */
static void one_line(char *why, size_t why_size)
{
        for (size_t i = 0; i < why_size && why[i]; i++)
                if ((unsigned char)why[i] < 0x20 || why[i] == 0x7f)
                        why[i] = '?';
}

static int push(struct nd_read_request *r, char *arg)
{
        if (!arg)
                return -ENOMEM;
        r->argv[r->argc++] = arg;
        return 0;
}

int nd_read_request_make(const char *path, const char *method, const struct nd_param *params, size_t n,
                         struct nd_read_request *ret, char *why, size_t why_size)
{
        const struct endpoint *e = NULL;
        struct nd_read_request r = {};
        const char *positional = NULL;
        bool path_known = false;
        int rr = 0;

        for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++)
                if (strcmp(endpoints[i].path, path) == 0) {
                        path_known = true;
                        if (strcmp(endpoints[i].method, method) == 0)
                                e = &endpoints[i];
                }
        if (!e) {
                if (path_known)
                        snprintf(why, why_size, "%s does not take %s", path, method);
                else
                        snprintf(why, why_size, "no such endpoint: %s", path);
                one_line(why, why_size);
                return path_known ? -EOPNOTSUPP : -ENOENT;
        }
        if (n > ND_READ_MAX_PARAMS) {
                snprintf(why, why_size, "more than %d parameters", ND_READ_MAX_PARAMS);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                const struct param_spec *spec = find_param(e->params, params[i].name);
                const char *v = params[i].value ? params[i].value : "";

                if (!spec) {
                        snprintf(why, why_size, "unknown parameter '%.64s' for %s", params[i].name, path);
                        one_line(why, why_size);
                        return -EINVAL;
                }
                for (size_t k = 0; k < i; k++)
                        if (strcmp(params[k].name, params[i].name) == 0) {
                                snprintf(why, why_size, "parameter '%s' given twice", spec->name);
                                return -EINVAL;
                        }
                if (strlen(v) > ND_READ_MAX_VALUE || !printable(v)) {
                        snprintf(why, why_size, "parameter '%s': want at most %d printable characters", spec->name,
                                 ND_READ_MAX_VALUE);
                        return -EINVAL;
                }
                if ((spec->kind == ARG_REQUIRED || spec->kind == ARG_POSITIONAL) && !v[0]) {
                        snprintf(why, why_size, "parameter '%s' needs a value", spec->name);
                        return -EINVAL;
                }
                if (spec->kind == ARG_FLAG && flag_value(v) < 0) {
                        snprintf(why, why_size, "parameter '%s': want true or false", spec->name);
                        return -EINVAL;
                }
        }
        if (e->params == impact_params) {
                for (size_t i = 0; i < n; i++)
                        if (strcmp(params[i].name, "target") == 0)
                                positional = params[i].value;
                if (!positional) {
                        snprintf(why, why_size, "parameter 'target' (a host or SERVICE:ROLE) is required");
                        return -EINVAL;
                }
        }

        /* "netdep", verb, action, the options, "--", operands, NULL. */
        r.argv = calloc(n + 7, sizeof(*r.argv));
        if (!r.argv)
                return -ENOMEM;
        rr = push(&r, strdup("netdep"));
        if (rr >= 0)
                rr = push(&r, strdup(e->verb));
        if (rr >= 0 && e->action)
                rr = push(&r, strdup(e->action));
        for (size_t i = 0; rr >= 0 && i < n; i++) {
                const struct param_spec *spec = find_param(e->params, params[i].name);
                const char *v = params[i].value ? params[i].value : "";
                char *arg = NULL;

                switch (spec->kind) {
                case ARG_REQUIRED:
                        rr = asprintf(&arg, "--%s=%s", spec->name, v) < 0 ? -ENOMEM : push(&r, arg);
                        break;
                case ARG_OPTIONAL:
                        rr = (v[0] ? asprintf(&arg, "--%s=%s", spec->name, v) : asprintf(&arg, "--%s", spec->name)) < 0
                                     ? -ENOMEM
                                     : push(&r, arg);
                        break;
                case ARG_FLAG:
                        if (flag_value(v) == 1)
                                rr = asprintf(&arg, "--%s", spec->name) < 0 ? -ENOMEM : push(&r, arg);
                        break;
                case ARG_POSITIONAL:
                        break;
                }
        }
        /* After "--", an operand that starts with '-' stays an operand. */
        if (rr >= 0 && positional)
                rr = push(&r, strdup("--"));
        if (rr >= 0 && positional)
                rr = push(&r, strdup(positional));
        if (rr >= 0 && e->action && strcmp(e->action, "import") == 0)
                rr = push(&r, strdup("/dev/stdin"));
        if (rr < 0) {
                nd_read_request_done(&r);
                return rr;
        }
        r.verb = e->verb;
        r.scope = e->scope;
        r.takes_body = strcmp(e->method, "POST") == 0;
        r.content_type = "text/plain; charset=utf-8";
        for (size_t i = 0; i < n; i++) {
                const char *v = params[i].value ? params[i].value : "";
                if ((strcmp(params[i].name, "format") == 0 && strcmp(v, "json") == 0) ||
                    (strcmp(params[i].name, "json") == 0 && flag_value(v) == 1))
                        r.content_type = "application/json";
                else if (strcmp(params[i].name, "format") == 0 && strcmp(v, "svg") == 0)
                        r.content_type = "image/svg+xml";
                else if (strcmp(params[i].name, "format") == 0 && strcmp(v, "dot") == 0)
                        r.content_type = "text/vnd.graphviz; charset=utf-8";
        }
        *ret = r;
        return 0;
}

void nd_read_request_done(struct nd_read_request *r)
{
        for (size_t i = 0; i < r->argc; i++)
                free(r->argv[i]);
        free(r->argv);
        *r = (struct nd_read_request){};
}
