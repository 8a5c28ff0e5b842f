#include "model/edge.h"

#include <errno.h>
#include <stdlib.h>

int nd_edge_list_push(struct nd_edge_list *list, const struct nd_edge *e)
{
        if (list->n == list->allocated) {
                size_t want = list->allocated ? list->allocated * 2 : 64;
                struct nd_edge *items = reallocarray(list->items, want, sizeof(*items));
                if (!items)
                        return -ENOMEM;
                list->items = items;
                list->allocated = want;
        }
        list->items[list->n++] = *e;
        return 0;
}

void nd_edge_list_done(struct nd_edge_list *list)
{
        free(list->items);
        *list = (struct nd_edge_list){};
}
