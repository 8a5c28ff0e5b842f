/* A hash map from socket inode to a small integer (an index).
 *
 * Socket inodes come from the kernel's get_next_ino() and sock_diag reports
 * them as 32 bits, so both keys and values are uint32_t: 8 bytes a slot keeps
 * 200k sockets in about 2 MiB. Inode 0 means "no inode" and is never stored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nd_inode_map {
        uint32_t *keys;
        uint32_t *values;
        size_t mask; /* capacity - 1; capacity is a power of two */
        size_t n;
};

void nd_inode_map_init(struct nd_inode_map *m);
void nd_inode_map_done(struct nd_inode_map *m);
void nd_inode_map_clear(struct nd_inode_map *m);

/* Makes room for n keys in an empty map at once, so that filling it never
 * holds an old and a new table together. -ENOMEM, or -EBUSY if not empty. */
int nd_inode_map_reserve(struct nd_inode_map *m, size_t n);

/* Inserts key -> value. An existing key keeps its value and 0 is returned;
 * 1 when inserted; -ENOMEM or -EINVAL (key 0). */
int nd_inode_map_add(struct nd_inode_map *m, uint32_t key, uint32_t value);
/* Overwrites the value of an existing key; -ENOENT if it is absent. */
int nd_inode_map_replace(struct nd_inode_map *m, uint32_t key, uint32_t value);
bool nd_inode_map_get(const struct nd_inode_map *m, uint32_t key, uint32_t *ret);
