/* Printing a look result: the tree, JSON, or as a picture (DOT, Mermaid). */
#pragma once

#include <stdio.h>

#include "api/look.h"

enum look_format {
        LOOK_FORMAT_TREE,
        LOOK_FORMAT_JSON,
        LOOK_FORMAT_DOT,
        LOOK_FORMAT_MERMAID,
};

int look_print(FILE *out, const struct nd_look_result *r, enum look_format format);
