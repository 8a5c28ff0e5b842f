/* What became of one probe, and the socket addresses probes are sent to. */
#pragma once

#include <stdint.h>
#include <sys/socket.h>

#include "model/addr.h"

enum nd_probe_outcome {
        ND_PROBE_PENDING,  /* still waiting for an answer */
        ND_PROBE_ANSWERED, /* an RTT sample */
        ND_PROBE_REFUSED,  /* TCP only: a reset, the host is there */
        ND_PROBE_LOST,     /* no answer, or the send failed */
};

/* addr and port as a sockaddr of their family; returns its length. */
socklen_t nd_probe_sockaddr(const struct nd_addr *addr, uint16_t port, struct sockaddr_storage *ret);
