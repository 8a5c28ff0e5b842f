/* What the live state's files share; nothing outside src/live uses it. */
#pragma once

#include <pthread.h>
#include <sqlite3.h>

#include "live/live_db.h"

enum live_stmt {
        ST_HOST_UPSERT,
        ST_HOST_ADDRS_CLEAR,
        ST_HOST_ADDR_PUT,
        ST_HOST_OF_ADDR,
        ST_ERRORS_CLEAR,
        ST_ERROR_PUT,
        ST_LINKS_OF,
        ST_LINK_PUT,
        ST_LINK_DELETE,
        ST_HOST_RECOUNT,
        ST_HOST_STATE,
        ST_HOST_SET_STATE,
        ST_ALERT,
        ST_HOST_ADDRS_OF,
        ST_LINKS_RENAME,
        ST_BEGIN,
        ST_COMMIT,
        ST_ROLLBACK,
        _ST_MAX,
};

struct nd_live {
        pthread_mutex_t lock;
        sqlite3 *db;
        sqlite3_stmt *st[_ST_MAX];
        struct nd_link_policy policy;
        struct nd_role_rules roles;
};

/* Runs SQL that returns no rows; -EIO (logged at debug) on failure. */
int nd_live_exec(struct nd_live *live, const char *sql);
