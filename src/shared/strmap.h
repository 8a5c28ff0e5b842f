/* A hash map from strings (copied in) to a size_t, e.g. an index. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct strmap_entry {
        char *key; /* NULL: empty slot */
        size_t value;
};

struct strmap {
        struct strmap_entry *slots;
        size_t mask, n;
};

void strmap_init(struct strmap *m);
void strmap_done(struct strmap *m);

/* Inserts key -> value unless key is present. Returns 1 when inserted,
 * 0 when present (its value in *ret_existing if not NULL), -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, size_t value, size_t *ret_existing);
bool strmap_get(const struct strmap *m, const char *key, size_t *ret);
/* The keys, borrowed (valid while m is unchanged), in a malloc'd array of
 * *ret_n; NULL when out of memory. */
const char **strmap_keys(const struct strmap *m, size_t *ret_n);
/* Changes the value of a key that is present; false when it is not. */
bool strmap_set(struct strmap *m, const char *key, size_t value);
