/* Host flows as JSON (the schema is in docs/json.md). */
#pragma once

#include <jansson.h>

#include "model/flow.h"

/* Optional reverse-DNS names for the two endpoints; either may be NULL. */
struct nd_flow_names {
        const char *local, *peer;
};

/* Returns a new reference, or NULL on allocation failure. */
json_t *nd_flow_to_json(const struct nd_flow *f, const struct nd_flow_names *names);
