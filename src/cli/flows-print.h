/* Printing host flows: the table and the JSON array. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "model/flow.h"

struct flows_print_options {
        bool json;
        bool show_netns; /* a netns column in the table */
        /* Per flow, reverse-DNS names of local and peer, or NULL. */
        char **local_names, **peer_names;
};

int flows_print(FILE *out, const struct nd_flow_set *flows, const struct flows_print_options *o);
