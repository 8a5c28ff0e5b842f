/* Printing host flows: the table and the JSON array. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "collect/netns.h"
#include "model/flow.h"

struct flows_print_options {
        bool json;
        bool show_netns; /* a netns column in the table */
        /* Named namespaces (`ip netns`), shown by name in that column
         * rather than by inode; may be NULL. */
        const struct nd_netns_list *netns_names;
        /* Per flow, reverse-DNS names of local and peer, or NULL. */
        char **local_names, **peer_names;
};

int flows_print(FILE *out, const struct nd_flow_set *flows, const struct flows_print_options *o);
