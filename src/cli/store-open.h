/* Opening the store from a verb: the URI from --store, $NETDEP_STORE or
 * the default, errors logged with the URI's password redacted. */
#pragma once

#include <stdbool.h>

#include "store/store.h"

enum cli_store_mode {
        CLI_STORE_CHECKED, /* the schema must be current (every verb but db) */
        CLI_STORE_UNCHECKED, /* db status */
        CLI_STORE_CREATE, /* db migrate: an SQLite file may be created */
};

/* Returns 0, or an exit status (EXIT_RUNTIME) after logging why. */
int cli_open_store(const char *uri, enum cli_store_mode mode, struct nd_store **ret);

/* Logs a store operation's failure: "Failed to WHAT on STORE: detail". */
int cli_store_error(struct nd_store *s, int r, const char *what);
