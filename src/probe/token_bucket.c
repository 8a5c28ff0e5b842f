#include "probe/token_bucket.h"

#define ONE_TOKEN 1000000ULL

void nd_token_bucket_init(struct nd_token_bucket *b, uint64_t rate_per_s, uint64_t now_us)
{
        *b = (struct nd_token_bucket){ .rate_per_s = rate_per_s, .level = ONE_TOKEN, .last_us = now_us };
}

static void refill(struct nd_token_bucket *b, uint64_t now_us)
{
        uint64_t elapsed;

        if (now_us <= b->last_us)
                return;
        elapsed = now_us - b->last_us;
        b->last_us = now_us;
        /* A bucket idle for a second or more is simply full. */
        if (elapsed >= ONE_TOKEN || b->level + elapsed * b->rate_per_s >= ONE_TOKEN)
                b->level = ONE_TOKEN;
        else
                b->level += elapsed * b->rate_per_s;
}

bool nd_token_bucket_take(struct nd_token_bucket *b, uint64_t now_us)
{
        refill(b, now_us);
        if (b->level < ONE_TOKEN)
                return false;
        b->level -= ONE_TOKEN;
        return true;
}

uint64_t nd_token_bucket_ready_us(const struct nd_token_bucket *b)
{
        if (b->level >= ONE_TOKEN)
                return b->last_us;
        return b->last_us + (ONE_TOKEN - b->level + b->rate_per_s - 1) / b->rate_per_s;
}
