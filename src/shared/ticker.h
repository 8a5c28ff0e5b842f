/* A thread that calls a function now and then every period, until
 * stopped: the server's hourly pruning, its live state's sweeps. */
#pragma once

#include <stdint.h>

struct nd_ticker;

/* fn runs at once, then every period_ms after each run ends. */
int nd_ticker_start(uint64_t period_ms, void (*fn)(void *userdata), void *userdata, struct nd_ticker **ret);
/* Wakes it, waits for a run under way to end, and frees it. */
struct nd_ticker *nd_ticker_stop(struct nd_ticker *t);
