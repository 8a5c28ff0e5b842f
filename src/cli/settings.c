#include "cli/settings.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/parse.h"

struct setting *settings_find(struct setting *settings, const char *key)
{
        for (struct setting *s = settings; s->key; s++)
                if (strcmp(s->key, key) == 0)
                        return s;
        return NULL;
}

static int set(struct setting *s, const char *value, const char *source)
{
        char *v = strdup(value);

        if (!v)
                return -ENOMEM;
        free(s->value);
        s->value = v;
        snprintf(s->source, sizeof(s->source), "%s", source);
        return 0;
}

int settings_set_flag(struct setting *settings, const char *key, const char *value)
{
        struct setting *s = settings_find(settings, key);
        char source[128];

        if (!s)
                return -ENOENT;
        snprintf(source, sizeof(source), "--%s", key);
        return set(s, value, source);
}

static char *trim(char *s)
{
        char *end;

        while (*s == ' ' || *s == '\t')
                s++;
        end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
                *--end = 0;
        return s;
}

static int read_file(struct setting *settings, const char *path, char *why, size_t why_size)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *line = NULL;
        size_t size = 0;
        unsigned lineno = 0;

        if (!f) {
                snprintf(why, why_size, "%s: %s", path, strerror(errno));
                return -errno;
        }
        while (getline(&line, &size, f) >= 0) {
                char *hash, *eq, *key, *value, source[300];
                struct setting *s;

                lineno++;
                if ((hash = strchr(line, '#')))
                        *hash = 0;
                key = trim(line);
                if (!*key)
                        continue;
                eq = strchr(key, '=');
                if (!eq) {
                        snprintf(why, why_size, "%s:%u: expected 'key = value'", path, lineno);
                        return -EINVAL;
                }
                *eq = 0;
                key = trim(key);
                value = trim(eq + 1);
                s = settings_find(settings, key);
                if (!s) {
                        snprintf(why, why_size, "%s:%u: unknown setting '%s'", path, lineno, key);
                        return -EINVAL;
                }
                if (s->value) /* a flag or the environment set it: they win */
                        continue;
                snprintf(source, sizeof(source), "%s:%u", path, lineno);
                if (set(s, value, source) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int settings_resolve(struct setting *settings, const char *path, char *why, size_t why_size)
{
        int r;

        for (struct setting *s = settings; s->key; s++) {
                const char *env = s->env ? getenv(s->env) : NULL;
                if (!s->value && env && *env && (r = set(s, env, s->env)) < 0)
                        return r;
        }
        if (path && (r = read_file(settings, path, why, why_size)) < 0)
                return r;
        for (struct setting *s = settings; s->key; s++)
                if (!s->value && s->fallback && (r = set(s, s->fallback, "default")) < 0)
                        return r;
        return 0;
}

void settings_done(struct setting *settings)
{
        for (struct setting *s = settings; s->key; s++) {
                free(s->value);
                s->value = NULL;
        }
}

int settings_duration_ms(struct setting *settings, const char *key, uint64_t *ret, char *why, size_t why_size)
{
        struct setting *s = settings_find(settings, key);
        uint64_t ms;

        if (!s || !s->value)
                return -ENOENT;
        if (parse_duration_ms(s->value, &ms) < 0 || ms == 0) {
                snprintf(why, why_size, "invalid %s '%s' from %s (want a positive duration: 500ms, 1s, 10m, 30d)",
                         key, s->value, s->source);
                return -EINVAL;
        }
        *ret = ms;
        return 0;
}

int settings_bool(struct setting *settings, const char *key, bool *ret, char *why, size_t why_size)
{
        static const char *const yes[] = { "1", "true", "yes", "on", NULL };
        static const char *const no[] = { "0", "false", "no", "off", NULL };
        struct setting *s = settings_find(settings, key);

        if (!s || !s->value) {
                *ret = false;
                return 0;
        }
        if (parse_choice(s->value, yes) >= 0)
                *ret = true;
        else if (parse_choice(s->value, no) >= 0)
                *ret = false;
        else {
                snprintf(why, why_size, "invalid %s '%s' from %s (want true or false)", key, s->value, s->source);
                return -EINVAL;
        }
        return 0;
}

int settings_number(struct setting *settings, const char *key, bool bytes, uint64_t min, uint64_t max,
                    uint64_t *ret, char *why, size_t why_size)
{
        struct setting *s = settings_find(settings, key);
        long long v;
        uint64_t u = 0;
        int r;

        if (bytes)
                r = parse_size(s->value, &u);
        else if ((r = parse_int_range(s->value, 0, LLONG_MAX, &v)) >= 0)
                u = (uint64_t)v;
        if (r < 0 || u < min || u > max) {
                snprintf(why, why_size, "invalid %s '%s' from %s (%llu to %llu%s)", key, s->value, s->source,
                         (unsigned long long)min, (unsigned long long)max, bytes ? " bytes" : "");
                return -EINVAL;
        }
        *ret = u;
        return 0;
}

const char *settings_string(struct setting *settings, const char *key)
{
        struct setting *s = settings_find(settings, key);
        return s ? s->value : NULL;
}
