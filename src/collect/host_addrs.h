/* This host's own addresses, as the store's hosts table keeps them (address
 * -> hostname): what lets `look --host NAME` find a host's edges.
 *
 * The store keeps one name per address, so each address is listed once: in
 * the unnamed group (the host's hostname) or in the group of the network
 * namespace named under /run/netns that holds it (that name). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct nd_named_addrs {
        char *name; /* the namespace's name under /run/netns */
        char **addrs;
        size_t n_addrs;
};

struct nd_host_addrs {
        /* The current namespace's, and (all_netns) every unnamed one's. */
        char **addrs;
        size_t n_addrs;
        /* all_netns: one group per named namespace that has an address. */
        struct nd_named_addrs *named;
        size_t n_named;
};

void nd_host_addrs_done(struct nd_host_addrs *h);

/* Non-loopback addresses, as nd_addr_format() writes them: the current
 * namespace's; with all_netns also those of every namespace
 * nd_netns_discover() finds under proc_root and run_netns_dir (NULL:
 * "/proc", "/run/netns"), each entered from a thread of its own so that the
 * caller never leaves its namespace. A namespace that cannot be entered
 * (gone, or no CAP_SYS_ADMIN) is skipped. An address held by two
 * namespaces goes with the first: the current one, then by inode. Caller
 * owns *ret; free with nd_host_addrs_done(). */
int nd_host_addrs_collect(bool all_netns, const char *proc_root, const char *run_netns_dir,
                          struct nd_host_addrs *ret);
