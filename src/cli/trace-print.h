/* Printing TCP events as they come: a table row or one JSON object per
 * line (schema: docs/bpf.md), each flushed at once. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "collect/tcp_event.h"

struct trace_print_options {
        bool json;
        bool show_netns; /* a netns column in the table */
};

/* The table's header line; nothing for JSON. */
int trace_print_header(FILE *out, const struct trace_print_options *o);
/* One event, flushed. Returns 0 or -errno (-EIO when the write failed). */
int trace_print_event(FILE *out, const struct nd_tcp_event *ev, const struct trace_print_options *o);
