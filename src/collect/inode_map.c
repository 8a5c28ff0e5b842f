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

static int grow(struct nd_inode_map *m)
{
        size_t capacity = m->keys ? (m->mask + 1) * 2 : INODE_MAP_MIN_CAPACITY;
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

int nd_inode_map_add(struct nd_inode_map *m, uint32_t key, uint32_t value)
{
        size_t i;

        if (key == 0)
                return -EINVAL;
        /* Keep the load under 3/4 so probes stay short. */
        if (!m->keys || (m->n + 1) * 4 > (m->mask + 1) * 3) {
                int r = grow(m);
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
