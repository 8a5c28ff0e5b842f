/* netdep db migrate|status: the store's schema. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/store-open.h"
#include "shared/log.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep db migrate|status [--store URI]\n"
                "\n"
                "  migrate   create the schema, or bring it up to this netdep's version\n"
                "            (idempotent; an SQLite file is created if missing)\n"
                "  status    print the store's schema version and this netdep's\n"
                "\n"
                "Options:\n"
                "      --store=URI   sqlite:PATH (default sqlite:netdep.db, or $NETDEP_STORE)\n"
                "                    or postgresql://USER@HOST/DB, postgresql:///DB?host=/run/pg\n"
                "  -v, -q, -h        verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success (status: the schema is current), 1 failure or\n"
                "(status) a missing or different schema, 2 usage error.\n");
}

int verb_db(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                { "store", required_argument, NULL, 's' },
                {}
        };
        const char *uri = NULL, *action;
        struct nd_store *s = NULL;
        int c, r, version;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, NULL)) != -1) {
                switch (c) {
                case 's':
                        uri = optarg;
                        break;
                default:
                        r = cli_common_option(c, "db", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind >= argc)
                return usage_error("db", "missing action (migrate or status)");
        action = argv[optind];
        if (optind + 1 < argc)
                return usage_error("db", "unexpected argument '%s'", argv[optind + 1]);
        if (strcmp(action, "migrate") != 0 && strcmp(action, "status") != 0)
                return usage_error("db", "unknown action '%s' (migrate or status)", action);

        r = cli_open_store(uri, strcmp(action, "migrate") == 0 ? CLI_STORE_CREATE : CLI_STORE_UNCHECKED, &s);
        if (r != 0)
                return r;
        if (strcmp(action, "migrate") == 0) {
                r = nd_store_migrate(s);
                if (r < 0) {
                        r = cli_store_error(s, r, "migrate");
                        nd_store_close(s);
                        return r;
                }
        }
        r = nd_store_schema_version(s, &version);
        if (r < 0) {
                r = cli_store_error(s, r, "read the schema version");
                nd_store_close(s);
                return r;
        }
        printf("store %s: schema version %d (this netdep: %d)%s\n", s->display_uri, version, ND_SCHEMA_VERSION,
               version == ND_SCHEMA_VERSION ? ""
               : version == 0              ? "; no schema: run 'netdep db migrate'"
               : version < ND_SCHEMA_VERSION ? "; run 'netdep db migrate'"
                                             : "; newer than this netdep: upgrade netdep");
        nd_store_close(s);
        return version == ND_SCHEMA_VERSION ? EXIT_OK : EXIT_RUNTIME;
}
