/* Printing the dependency graph as one picture: JSON, Graphviz DOT, Mermaid,
 * or SVG (DOT laid out by Graphviz's dot). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "model/endpoint_graph.h"

enum graph_format {
        GRAPH_FORMAT_JSON,
        GRAPH_FORMAT_DOT,
        GRAPH_FORMAT_MERMAID,
        GRAPH_FORMAT_SVG,
};

/* as_of: the time ages are counted back from (now, or the asked range's
 * end). Sorts g first, for a stable picture. Returns 0, or -errno
 * (-ENOENT: no dot program for SVG). */
int graph_print(FILE *out, struct nd_endpoint_graph *g, enum graph_format format, int64_t as_of);

/* The same picture written as its edges come (nd_endpoint_graph_stream),
 * nodes last: for the whole store, whose edges are not all held at once.
 * begin, then graph_stream_link for each edge (an nd_endpoint_link_fn),
 * then end with the graph that holds the nodes. */
struct graph_stream {
        FILE *out;
        enum graph_format format;
        int64_t as_of;
        size_t links;
        bool started; /* the header is out */
        int error; /* why writing failed (said already), or 0 */
        pid_t dot; /* -1, or Graphviz's dot for SVG, reading out */
};

int graph_stream_begin(struct graph_stream *st, FILE *out, enum graph_format format, int64_t as_of);
int graph_stream_link(const struct nd_endpoint_graph *g, const struct nd_endpoint_link *l, void *userdata);
int graph_stream_end(struct graph_stream *st, const struct nd_endpoint_graph *g);
/* After a failure: ends what was started (Graphviz's dot, reaped). */
void graph_stream_abort(struct graph_stream *st);
