/* The "flows" operation: this host's host flows now, in one namespace or in
 * all of them. The CLI and, later, the agent and HTTP server call this. */
#pragma once

#include <stdbool.h>

#include "collect/socket_owners.h"
#include "model/flow.h"

enum nd_peer_filter {
        ND_PEER_ALL,
        ND_PEER_PUBLIC, /* only flows whose peer is a public address */
        ND_PEER_PRIVATE, /* only flows whose peer is private or loopback */
};

enum nd_source_choice {
        ND_SOURCE_AUTO, /* sock_diag, falling back to /proc/net/tcp */
        ND_SOURCE_SOCK_DIAG,
        ND_SOURCE_PROCFS,
};

struct nd_flows_options {
        bool all_netns;
        bool processes; /* attribute sockets to processes */
        bool tcp_info; /* ask the kernel for RTT, retransmits and bytes */
        bool no_loopback;
        enum nd_peer_filter peer_filter;
        enum nd_source_choice source;
        /* Optional, the caller's, kept across calls: refreshed incrementally
         * instead of scanned afresh (see collect/socket_owners.h). */
        struct nd_socket_owners *owners;
        const char *proc_root; /* NULL means "/proc" */
        const char *run_netns_dir; /* NULL means "/run/netns" */
};

/* What happened on the way, for the caller to tell the user. */
struct nd_flows_report {
        const char *source; /* name of the socket source used last */
        bool fell_back; /* sock_diag was unavailable: /proc/net/tcp was read */
        int fallback_reason; /* -errno that made it fall back */
        unsigned namespaces; /* namespaces dumped */
        unsigned namespaces_gone; /* found but gone before they could be entered */
        unsigned procs_denied; /* processes whose fds could not be read */
        unsigned long sockets, unowned;
};

/* Collects flows into *ret (initialised here; free with nd_flow_set_done()),
 * filtered and sorted. Returns 0 or -errno; *ret is set only on success. */
int nd_flows_collect(const struct nd_flows_options *o, struct nd_flow_set *ret,
                     struct nd_flows_report *report);
