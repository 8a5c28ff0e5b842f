#include "collect/inode_map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INODE_MAP_MIN_CAPACITY 1024

void nd_inode_map_init(struct nd_inode_map *m)
{
        *m = (struct nd_inode_map){};
}

void nd_inode_map_done(struct nd_inode_map *m)
{
        free(m->keys);
        free(m->values);
        nd_inode_map_init(m);
}

void nd_inode_map_clear(struct nd_inode_map *m)
{
        if (m->keys)
                memset(m->keys, 0, (m->mask + 1) * sizeof(*m->keys));
        m->n = 0;
}

/* Fibonacci hashing spreads the mostly sequential inode numbers. */
static size_t slot_of(uint32_t key, size_t mask)
{
        return (size_t)((key * UINT64_C(11400714819323198485)) >> 32) & mask;
}

static void insert_new(uint32_t *keys, uint32_t *values, size_t mask, uint32_t key, uint32_t value)
{
        size_t i = slot_of(key, mask);

        while (keys[i])
                i = (i + 1) & mask;
        keys[i] = key;
        values[i] = value;
}

/* At most 4/5 full: 200k sockets fit 2^18 slots (2 MiB), probes stay short. */
static bool too_full(size_t n, size_t capacity)
{
        return n * 5 > capacity * 4;
}

static int resize(struct nd_inode_map *m, size_t capacity)
{
        uint32_t *keys = calloc(capacity, sizeof(*keys));
        uint32_t *values = malloc(capacity * sizeof(*values));

        if (!keys || !values) {
                free(keys);
                free(values);
                return -ENOMEM;
        }
        for (size_t i = 0; m->keys && i <= m->mask; i++)
                if (m->keys[i])
                        insert_new(keys, values, capacity - 1, m->keys[i], m->values[i]);
        free(m->keys);
        free(m->values);
        m->keys = keys;
        m->values = values;
        m->mask = capacity - 1;
        return 0;
}

int nd_inode_map_reserve(struct nd_inode_map *m, size_t n)
{
        size_t capacity = m->keys ? m->mask + 1 : INODE_MAP_MIN_CAPACITY;

        if (m->n > 0)
                return -EBUSY;
        while (too_full(n, capacity))
                capacity *= 2;
        if (m->keys && capacity == m->mask + 1)
                return 0;
        /* Empty: drop the old table first, then allocate the new one. */
        free(m->keys);
        free(m->values);
        m->keys = m->values = NULL;
        return resize(m, capacity);
}

int nd_inode_map_add(struct nd_inode_map *m, uint32_t key, uint32_t value)
{
        size_t i;

        if (key == 0)
                return -EINVAL;
        if (!m->keys || too_full(m->n + 1, m->mask + 1)) {
                int r = resize(m, m->keys ? (m->mask + 1) * 2 : INODE_MAP_MIN_CAPACITY);
                if (r < 0)
                        return r;
        }
        for (i = slot_of(key, m->mask); m->keys[i]; i = (i + 1) & m->mask)
                if (m->keys[i] == key)
                        return 0;
        m->keys[i] = key;
        m->values[i] = value;
        m->n++;
        return 1;
}

static uint32_t *find_value(const struct nd_inode_map *m, uint32_t key)
{
        if (!m->keys || key == 0)
                return NULL;
        for (size_t i = slot_of(key, m->mask); m->keys[i]; i = (i + 1) & m->mask)
                if (m->keys[i] == key)
                        return &m->values[i];
        return NULL;
}

int nd_inode_map_replace(struct nd_inode_map *m, uint32_t key, uint32_t value)
{
        uint32_t *v = find_value(m, key);

        if (!v)
                return -ENOENT;
        *v = value;
        return 0;
}

bool nd_inode_map_get(const struct nd_inode_map *m, uint32_t key, uint32_t *ret)
{
        const uint32_t *v = find_value(m, key);

        if (!v)
                return false;
        *ret = *v;
        return true;
}
