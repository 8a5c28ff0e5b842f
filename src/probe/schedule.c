#include "probe/schedule.h"

#include <string.h>

/* splitmix64's finaliser: every input bit reaches every output bit. */
static uint64_t mix64(uint64_t x)
{
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

uint64_t nd_probe_target_hash(uint64_t key, const struct nd_probe_target *t)
{
        uint64_t h = mix64(key), lo, hi;

        memcpy(&lo, t->addr.bytes, sizeof(lo));
        memcpy(&hi, t->addr.bytes + 8, sizeof(hi));
        h = mix64(h ^ lo);
        h = mix64(h ^ hi);
        return mix64(h ^ ((uint64_t)t->addr.family << 32 | (uint64_t)t->port << 8 | (uint64_t)t->kind));
}

uint64_t nd_probe_phase(uint64_t target_hash, uint64_t slot_us)
{
        return slot_us ? target_hash % slot_us : 0;
}

uint64_t nd_probe_offset(uint64_t target_hash, uint64_t round, unsigned j, unsigned probes, uint64_t span_us)
{
        uint64_t slot, jitter_width, at;
        int64_t jitter = 0, offset;

        if (probes == 0 || span_us == 0)
                return 0;
        slot = span_us / probes;
        jitter_width = slot / 10;
        if (jitter_width > 0)
                jitter = (int64_t)(mix64(target_hash ^ mix64(round * 65537 + j)) % (2 * jitter_width + 1)) -
                         (int64_t)jitter_width;
        at = nd_probe_phase(target_hash, slot) + (uint64_t)j * slot;
        offset = (int64_t)at + jitter;
        /* Jitter past either end of the round comes back in as far: clamped
         * to the end instead, probes of different targets would meet there
         * and leave at the same instant. */
        if (offset < 0)
                offset = -offset;
        if ((uint64_t)offset >= span_us)
                offset = 2 * ((int64_t)span_us - 1) - offset;
        if (offset < 0)
                offset = 0; /* a span shorter than the jitter */
        return (uint64_t)offset;
}
