/* Printing the dependency graph as one picture: JSON, Graphviz DOT, Mermaid,
 * or SVG (DOT laid out by Graphviz's dot). */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "model/endpoint_graph.h"

enum graph_format {
        GRAPH_FORMAT_JSON,
        GRAPH_FORMAT_DOT,
        GRAPH_FORMAT_MERMAID,
        GRAPH_FORMAT_SVG,
};

/* as_of: the time ages are counted back from (now, or the asked range's
 * end). Returns 0, or -errno (-ENOENT: no dot program for SVG). */
int graph_print(FILE *out, struct nd_endpoint_graph *g, enum graph_format format, int64_t as_of);
