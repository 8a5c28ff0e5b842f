/* What the prober probes, and what one round of probing a target found. */
#pragma once

#include <stdint.h>

#include "model/addr.h"

enum nd_probe_kind {
        ND_PROBE_TCP = 1,  /* a connect(): answered, refused or lost */
        ND_PROBE_ICMP = 2, /* an echo request: answered or lost */
};

struct nd_probe_target {
        struct nd_addr addr;
        uint16_t port; /* 0 for ICMP */
        enum nd_probe_kind kind;
};

struct nd_probe_result {
        struct nd_probe_target target;
        /* sent counts probes that left; probes the rate cap kept back until
         * the round was over are not in it. lost: no answer within the
         * timeout, or a send that failed (unreachable). refused: a TCP reset
         * answered the connect, so the link works but nothing listens. */
        unsigned sent, lost, refused;
        int64_t rtt_p50_us, rtt_p99_us; /* -1 when no sample */
};
