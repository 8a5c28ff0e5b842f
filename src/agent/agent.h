/* netdep agent: every interval a snapshot of this host's host flows; every
 * flush interval the merged snapshots go to the store in one transaction,
 * through the writer's bounded queue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "api/flows.h"

struct nd_agent_options {
        const char *store_uri;
        const char *hostname; /* NULL: gethostname() */
        uint64_t interval_ms;
        uint64_t flush_interval_ms;
        uint64_t retention_s;
        uint64_t queue_ms; /* how much flush time the queue holds */
        bool once;
        bool keep_loopback;
        struct nd_flows_options collect;
};

/* Runs until SIGTERM/SIGINT (or one round with once). Returns 0, or -errno
 * when it could not start, or (once) when the store was not written. */
int nd_agent_run(const struct nd_agent_options *o);
