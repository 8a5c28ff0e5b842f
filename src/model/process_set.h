/* The processes one node of a picture stands for: the distinct pgids it
 * was seen with (the first ND_PGIDS_KEPT; past that, "at least"), and the
 * most an agent counted at once. Two nc processes on a host read as nc ×2
 * whether one agent saw both in a snapshot or the store holds them apart,
 * on two edges. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define ND_PGIDS_KEPT 8

struct nd_process_set {
        int32_t pgids[ND_PGIDS_KEPT];
        uint8_t n;
        bool more; /* more distinct pgids than kept */
        uint32_t at_once;
};

/* pgid -1: unknown, says nothing. */
void nd_process_set_add(struct nd_process_set *s, int32_t pgid, uint32_t at_once);
void nd_process_set_merge(struct nd_process_set *s, const struct nd_process_set *other);

/* How many processes: 0 when unknown. */
uint32_t nd_process_set_count(const struct nd_process_set *s);
/* Whether that is a lower bound. */
static inline bool nd_process_set_at_least(const struct nd_process_set *s)
{
        return s->more;
}
/* The pgid when it is exactly one process, else -1. */
int32_t nd_process_set_pgid(const struct nd_process_set *s);
