/* The PostgreSQL back end (placeholder until implemented). */
#include <errno.h>

#include "store/store.h"

static int pg_open(const char *uri, unsigned flags, struct nd_store **ret)
{
        return -EOPNOTSUPP;
}

const struct nd_store_ops nd_store_postgres_ops = {
        .name = "postgres",
        .open = pg_open,
};
