/* A host's peer list: the links its agent probes. They come from the
 * graph itself — the servers the host's own active edges reached lately —
 * plus static additions and minus exclusions from a file:
 *
 *   # HOSTGLOB  add|exclude  ADDR[:PORT]  [tcp|icmp|both]
 *   web-*       add          10.0.9.1:53  tcp
 *   *           exclude      10.0.0.250          # the monitoring box
 *   db-*        add          10.0.2.1     icmp
 *
 * A link's kind says how to probe it: tcp (a connect to the port), icmp
 * (an echo to the address), or both. Added links without a port are icmp;
 * an exclusion without a port covers every port of the address, and
 * without a kind, both kinds. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model/addr.h"
#include "store/store.h" /* struct nd_server_list */

enum {
        ND_PEER_TCP = 1 << 0,
        ND_PEER_ICMP = 1 << 1,
        ND_PEER_BOTH = ND_PEER_TCP | ND_PEER_ICMP,
};

struct nd_peer_rule {
        char host_glob[256];
        bool exclude;
        struct nd_addr addr;
        int port; /* -1: none given */
        unsigned kinds;
};

struct nd_peer_rules {
        struct nd_peer_rule *items;
        size_t n;
};

/* -EINVAL with "LINE: why" in why; *ret set only on success. */
int nd_peer_rules_parse(FILE *f, struct nd_peer_rules *ret, char *why, size_t why_size);
void nd_peer_rules_done(struct nd_peer_rules *rules);

/* "tcp", "icmp" or "both" into ND_PEER_* bits; -EINVAL otherwise. */
int nd_peer_kinds_parse(const char *s, unsigned *ret);
const char *nd_peer_kinds_name(unsigned kinds);

/* host's peer list from the servers its own addresses reached (as its
 * own agent saw them: nd_store_servers_used()), the rules, and the kinds
 * a discovered link gets:
 *   {"host": H, "peers": [{"addr": A, "port": P, "kind": "tcp"}, ...]}
 * sorted, one entry per (addr, port); icmp-only entries have port 0.
 * Links to the host's own addresses and to loopback are left out. */
int nd_peer_list_build(const char *host, const char *const *own_addrs, size_t n_own,
                       const struct nd_server_list *servers, const struct nd_peer_rules *rules,
                       unsigned discovered_kinds, json_t **ret);
