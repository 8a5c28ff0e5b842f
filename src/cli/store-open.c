#include "cli/store-open.h"

#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "shared/log.h"

int cli_open_store(const char *uri, enum cli_store_mode mode, struct nd_store **ret)
{
        const char *u = nd_store_default_uri(uri);
        struct nd_store *s = NULL;
        char err[512];
        int r;

        r = nd_store_open(u, mode == CLI_STORE_CREATE ? ND_STORE_CREATE : 0, &s, err, sizeof(err));
        if (r < 0) {
                char *shown = nd_store_redact_uri(u);
                log_error("Failed to open store %s: %s", shown ? shown : "(unprintable)", err);
                free(shown);
                return EXIT_RUNTIME;
        }
        if (mode == CLI_STORE_CHECKED) {
                r = nd_store_check_schema(s);
                if (r < 0) {
                        log_error("%s", nd_store_last_error(s));
                        nd_store_close(s);
                        return EXIT_RUNTIME;
                }
        }
        *ret = s;
        return 0;
}

int cli_store_error(struct nd_store *s, int r, const char *what)
{
        const char *detail = nd_store_last_error(s);

        if (detail && *detail)
                log_error("Failed to %s on store %s: %s", what, s->display_uri, detail);
        else
                log_error_errno(r, "Failed to %s on store %s: %m", what, s->display_uri);
        return EXIT_RUNTIME;
}
