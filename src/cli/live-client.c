#include "cli/live-client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_live_defaults(struct cli_remote *r)
{
        if (!r->server)
                r->server = getenv("NETDEP_SERVER") ?: CLI_DEFAULT_SERVER;
        if (!r->token_file)
                r->token_file = getenv("NETDEP_TOKEN_FILE");
}

int cli_live_query(struct cli_remote *r, const char *sql, size_t limit, json_t **ret, char *why, size_t why_size)
{
        struct cli_remote q = *r;
        char limit_text[32], *body = NULL;
        size_t size = 0;
        long status = 0;
        json_error_t error;
        json_t *root;
        FILE *out = open_memstream(&body, &size);
        int k;

        if (!out)
                return -ENOMEM;
        q.n = 0;
        cli_remote_param(&q, "sql", sql);
        if (limit) {
                snprintf(limit_text, sizeof(limit_text), "%zu", limit);
                cli_remote_param(&q, "limit", limit_text);
        }
        k = cli_remote_fetch(&q, "/api/v1/query", "GET", NULL, 0, out, &status, why, why_size);
        fclose(out);
        if (k < 0) {
                free(body);
                return status == 400 ? -EINVAL : k;
        }
        root = json_loadb(body, size, 0, &error);
        free(body);
        if (!json_is_object(root) || !json_is_array(json_object_get(root, "rows")) ||
            !json_is_array(json_object_get(root, "columns"))) {
                json_decref(root);
                snprintf(why, why_size, "the server's answer is not a query result");
                return -EPROTO;
        }
        *ret = root;
        return 0;
}

int cli_sql_append_literal(char *sql, size_t size, const char *s)
{
        size_t n = strlen(sql);

        if (n + 1 >= size)
                return -ENOSPC;
        sql[n++] = '\'';
        for (; *s; s++) {
                if (n + 3 >= size)
                        return -ENOSPC;
                if (*s == '\'')
                        sql[n++] = '\'';
                sql[n++] = *s;
        }
        sql[n++] = '\'';
        sql[n] = '\0';
        return 0;
}
