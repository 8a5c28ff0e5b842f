#include "shared/strmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void strmap_init(struct strmap *m)
{
        *m = (struct strmap){};
}

void strmap_done(struct strmap *m)
{
        for (size_t i = 0; m->slots && i <= m->mask; i++)
                free(m->slots[i].key);
        free(m->slots);
        strmap_init(m);
}

static size_t hash(const char *s)
{
        uint64_t h = UINT64_C(14695981039346656037);

        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * UINT64_C(1099511628211);
        return (size_t)h;
}

static struct strmap_entry *slot_for(const struct strmap *m, const char *key)
{
        size_t i = hash(key) & m->mask;

        while (m->slots[i].key && strcmp(m->slots[i].key, key) != 0)
                i = (i + 1) & m->mask;
        return &m->slots[i];
}

static int grow(struct strmap *m)
{
        size_t capacity = m->slots ? (m->mask + 1) * 2 : 64;
        struct strmap old = *m;

        m->slots = calloc(capacity, sizeof(*m->slots));
        if (!m->slots) {
                *m = old;
                return -ENOMEM;
        }
        m->mask = capacity - 1;
        for (size_t i = 0; old.slots && i <= old.mask; i++)
                if (old.slots[i].key)
                        *slot_for(m, old.slots[i].key) = old.slots[i];
        free(old.slots);
        return 0;
}

int strmap_put(struct strmap *m, const char *key, size_t value, size_t *ret_existing)
{
        struct strmap_entry *e;

        if (!m->slots || (m->n + 1) * 4 > (m->mask + 1) * 3) {
                int r = grow(m);
                if (r < 0)
                        return r;
        }
        e = slot_for(m, key);
        if (e->key) {
                if (ret_existing)
                        *ret_existing = e->value;
                return 0;
        }
        e->key = strdup(key);
        if (!e->key)
                return -ENOMEM;
        e->value = value;
        m->n++;
        return 1;
}

bool strmap_get(const struct strmap *m, const char *key, size_t *ret)
{
        const struct strmap_entry *e;

        if (!m->slots)
                return false;
        e = slot_for(m, key);
        if (!e->key)
                return false;
        *ret = e->value;
        return true;
}

bool strmap_set(struct strmap *m, const char *key, size_t value)
{
        struct strmap_entry *e;

        if (!m->slots)
                return false;
        e = (struct strmap_entry *)slot_for(m, key);
        if (!e->key)
                return false;
        e->value = value;
        return true;
}

const char **strmap_keys(const struct strmap *m, size_t *ret_n)
{
        const char **keys = calloc(m->n ? m->n : 1, sizeof(*keys));
        size_t n = 0;

        for (size_t i = 0; keys && m->slots && i <= m->mask; i++)
                if (m->slots[i].key)
                        keys[n++] = m->slots[i].key;
        *ret_n = n;
        return keys;
}
