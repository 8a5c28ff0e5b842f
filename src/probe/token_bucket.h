/* The prober's global rate cap: a token bucket on CLOCK_MONOTONIC
 * microseconds. Holds at most one token, so probes leave at least
 * 1/rate apart: the cap holds over any window, not only on average. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct nd_token_bucket {
        uint64_t rate_per_s;
        uint64_t level;   /* in millionths of a token */
        uint64_t last_us; /* when level was last brought up to date */
};

/* Starts full at now_us. rate_per_s must be > 0. */
void nd_token_bucket_init(struct nd_token_bucket *b, uint64_t rate_per_s, uint64_t now_us);

/* Takes a token if there is one at now_us. */
bool nd_token_bucket_take(struct nd_token_bucket *b, uint64_t now_us);

/* When the next token was or will be there, from the bucket's state as
 * last brought up to date (not from the clock now): a prober woken late
 * can still take the token at the time it came. */
uint64_t nd_token_bucket_ready_us(const struct nd_token_bucket *b);
