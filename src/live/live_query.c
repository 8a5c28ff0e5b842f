#include "live/live_query.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "shared/why.h"

struct run {
        struct timespec deadline;
        bool timed_out;
        const char *refused; /* what the authorizer said no to */
};

static int authorize(void *userdata, int action, const char *a, const char *b, const char *db, const char *trigger)
{
        struct run *run = userdata;

        switch (action) {
        case SQLITE_SELECT:
        case SQLITE_READ:
        case SQLITE_RECURSIVE:
                return SQLITE_OK;
        case SQLITE_FUNCTION:
                /* b is the function's name. Everything SQLite itself
                 * registers is pure except these, which reach outside the
                 * database (load_extension) or read its file (the rest are
                 * harmless but say nothing an operator needs). */
                if (b && (strcasecmp(b, "load_extension") == 0 || strcasecmp(b, "readfile") == 0 ||
                          strcasecmp(b, "writefile") == 0 || strcasecmp(b, "edit") == 0 ||
                          strcasecmp(b, "fts3_tokenizer") == 0)) {
                        run->refused = "that function";
                        return SQLITE_DENY;
                }
                return SQLITE_OK;
        case SQLITE_ATTACH:
        case SQLITE_DETACH:
                run->refused = "ATTACH and DETACH";
                return SQLITE_DENY;
        case SQLITE_PRAGMA:
                run->refused = "PRAGMA";
                return SQLITE_DENY;
        default:
                run->refused = "anything but SELECT";
                return SQLITE_DENY;
        }
}

static int progress(void *userdata)
{
        struct run *run = userdata;
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > run->deadline.tv_sec ||
            (now.tv_sec == run->deadline.tv_sec && now.tv_nsec >= run->deadline.tv_nsec)) {
                run->timed_out = true;
                return 1;
        }
        return 0;
}

static json_t *cell(sqlite3_stmt *st, int i)
{
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
                return json_integer(sqlite3_column_int64(st, i));
        case SQLITE_FLOAT:
                return json_real(sqlite3_column_double(st, i));
        case SQLITE_NULL:
                return json_null();
        default: /* text; a blob as its bytes, which is what SQLite's text() would give */
                return json_stringn_nocheck((const char *)sqlite3_column_text(st, i),
                                            (size_t)sqlite3_column_bytes(st, i));
        }
}

static int fill(sqlite3_stmt *st, const struct nd_query_limits *limits, json_t *root, struct run *run)
{
        json_t *columns = json_object_get(root, "columns"), *rows = json_object_get(root, "rows");
        int n = sqlite3_column_count(st), r;

        for (int i = 0; i < n; i++)
                if (json_array_append_new(columns, json_string(sqlite3_column_name(st, i) ?: "?")) < 0)
                        return -ENOMEM;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
                json_t *row;

                if (json_array_size(rows) >= limits->max_rows) {
                        json_object_set_new(root, "truncated", json_true());
                        return 0;
                }
                row = json_array();
                if (!row || json_array_append_new(rows, row) < 0)
                        return -ENOMEM;
                for (int i = 0; i < n; i++)
                        if (json_array_append_new(row, cell(st, i)) < 0)
                                return -ENOMEM;
        }
        if (r == SQLITE_DONE)
                return 0;
        if (run->timed_out)
                return -ETIMEDOUT;
        return r == SQLITE_NOMEM ? -ENOMEM : -EINVAL;
}

int nd_live_query_run(sqlite3 *db, const char *sql, const struct nd_query_limits *limits, json_t **ret, char *why,
                      size_t why_size)
{
        struct run run = {};
        sqlite3_stmt *st = NULL;
        const char *tail = NULL;
        json_t *root;
        int r;

        if (strlen(sql) > ND_QUERY_MAX_SQL) {
                nd_why_set(why, why_size, "query longer than %d bytes", ND_QUERY_MAX_SQL);
                return -EINVAL;
        }
        clock_gettime(CLOCK_MONOTONIC, &run.deadline);
        run.deadline.tv_sec += (time_t)(limits->time_ms / 1000);
        run.deadline.tv_nsec += (long)(limits->time_ms % 1000) * 1000000L;
        if (run.deadline.tv_nsec >= 1000000000L) {
                run.deadline.tv_sec++;
                run.deadline.tv_nsec -= 1000000000L;
        }

        sqlite3_set_authorizer(db, authorize, &run);
        r = sqlite3_prepare_v3(db, sql, -1, 0, &st, &tail);
        sqlite3_set_authorizer(db, NULL, NULL);
        if (r != SQLITE_OK || !st) {
                if (run.refused) {
                        nd_why_set(why, why_size, "refused: queries may read only; %s is not allowed", run.refused);
                        r = -EPERM;
                } else {
                        nd_why_set(why, why_size, "%s", st || r != SQLITE_OK ? sqlite3_errmsg(db) : "empty query");
                        r = -EINVAL;
                }
                sqlite3_finalize(st);
                return r;
        }
        tail += strspn(tail, " \t\r\n;");
        if (*tail) {
                sqlite3_finalize(st);
                nd_why_set(why, why_size, "one statement only; this one goes on at '%.40s'", tail);
                return -EINVAL;
        }
        if (!sqlite3_stmt_readonly(st)) {
                sqlite3_finalize(st);
                nd_why_set(why, why_size, "refused: queries may read only");
                return -EPERM;
        }

        root = json_pack("{s:[], s:[], s:b}", "columns", "rows", "truncated", 0);
        if (!root) {
                sqlite3_finalize(st);
                return -ENOMEM;
        }
        sqlite3_progress_handler(db, 1000, progress, &run);
        r = fill(st, limits, root, &run);
        sqlite3_progress_handler(db, 0, NULL, NULL);
        if (r < 0) {
                if (r == -ETIMEDOUT)
                        nd_why_set(why, why_size, "cut at the time limit of %llu ms",
                                   (unsigned long long)limits->time_ms);
                else if (r == -ENOMEM)
                        nd_why_set(why, why_size, "out of memory");
                else
                        nd_why_set(why, why_size, "%s", sqlite3_errmsg(db));
                sqlite3_finalize(st);
                json_decref(root);
                return r;
        }
        sqlite3_finalize(st);
        *ret = root;
        return 0;
}
