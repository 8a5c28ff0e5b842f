/* Layered settings for daemons: flags beat the environment, the
 * environment beats the config file, the file beats the defaults. Each value
 * remembers where it came from, so an error can say. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum setting_kind {
        SETTING_STRING,
        SETTING_DURATION, /* positive: 250ms, 2s, 10m, 30d */
        SETTING_BOOL, /* true/false, yes/no, 1/0, on/off */
};

struct setting {
        const char *key; /* in the file, and the flag without "--" */
        const char *env; /* e.g. NETDEP_INTERVAL */
        enum setting_kind kind;
        const char *fallback; /* default; NULL: unset */
        /* Filled in: */
        char *value;
        char source[300]; /* "--interval", "NETDEP_INTERVAL", "FILE:LINE", "default" */
};

/* Sets a value from a flag (overrides anything set before). */
int settings_set_flag(struct setting *settings, const char *key, const char *value);
/* Fills the unset ones from the environment, then from the file (path may be
 * NULL), then from defaults. On a bad file writes "FILE:LINE: why" to why. */
int settings_resolve(struct setting *settings, const char *path, char *why, size_t why_size);
void settings_done(struct setting *settings);

struct setting *settings_find(struct setting *settings, const char *key);
/* Typed reads; -EINVAL with why ("invalid interval '0s' from NETDEP_INTERVAL"). */
int settings_duration_ms(struct setting *settings, const char *key, uint64_t *ret, char *why, size_t why_size);
int settings_bool(struct setting *settings, const char *key, bool *ret, char *why, size_t why_size);
/* A whole number in [min, max]; with bytes, a size such as 8M. */
int settings_number(struct setting *settings, const char *key, bool bytes, uint64_t min, uint64_t max,
                    uint64_t *ret, char *why, size_t why_size);
const char *settings_string(struct setting *settings, const char *key);
