/* netdep agent: every interval a snapshot of this host's host flows; every
 * flush interval the merged snapshots go to the store in one transaction,
 * through the writer's bounded queue. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/destination.h"
#include "agent/probe_loop.h"
#include "api/flows.h"
#include "collect/tcp_events.h"

/* Where the agent's flows come from. */
enum nd_agent_mode {
        ND_AGENT_MODE_AUTO, /* hybrid where eBPF loads, polling elsewhere */
        ND_AGENT_MODE_POLLING, /* sock_diag scans only: what is open at each scan */
        ND_AGENT_MODE_STREAMING, /* eBPF events only: every connection from load on */
        ND_AGENT_MODE_HYBRID, /* both: scans for what is open, events for what opened and failed */
};

const char *nd_agent_mode_to_string(enum nd_agent_mode m);
/* "auto", "polling", "streaming" or "hybrid"; -EINVAL for others. */
int nd_agent_mode_from_string(const char *s, enum nd_agent_mode *ret);

#define ND_AGENT_DEFAULT_SPOOL_DIR "/var/lib/netdep/spool"

struct nd_agent_options {
        /* A store, or a netdep server (--server). */
        struct nd_destination_config dest;
        const char *hostname; /* NULL: gethostname() */
        /* Where flushes the store has not taken at stop are kept, and
         * delivered from first at the next start; NULL: lost at stop.
         * --once neither reads nor writes it. */
        const char *spool_dir;
        uint64_t interval_ms;
        uint64_t flush_interval_ms;
        uint64_t retention_s;
        uint64_t queue_ms; /* how much flush time the queue holds */
        bool once;
        bool keep_loopback;
        enum nd_agent_mode mode;
        const char *mode_source; /* where mode was set, for the log line */
        struct nd_flows_options collect;
        struct nd_tcp_events_options events; /* all_netns is taken from collect */
        /* With a server: probe this host's links (agent/probe_loop.h);
         * probe.interval_ms 0 turns it off. The server, token, CA and
         * hostname are taken from dest and hostname. */
        struct nd_probe_loop_options probe;
};

/* Runs until SIGTERM/SIGINT (or one round with once). Returns 0, or -errno
 * when it could not start, or (once) when the store was not written, or
 * when flushes were lost at stop: not written to the store and not spooled
 * (the spool's error), or dropped for the spool's bound (-ENOBUFS). */
int nd_agent_run(const struct nd_agent_options *o);
