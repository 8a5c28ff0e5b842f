/* netdep roles import FILE | roles list: role rules in the store. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/store-open.h"
#include "shared/cleanup.h"
#include "shared/log.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep roles import FILE [--allow-empty] [--store URI]\n"
                "       netdep roles list [--store URI]\n"
                "\n"
                "Role rules group hosts as SERVICE:ROLE for 'look --group-by role' and\n"
                "'--role'. 'import' replaces the stored rules with FILE's. One rule a line,\n"
                "the first match wins, '#' starts a comment:\n"
                "\n"
                "  MATCH  SERVICE:ROLE  [dc=DATACENTER]  [name=NAME]\n"
                "\n"
                "  10.0.1.0/24        blog:web     dc=tokyo1\n"
                "  10.0.2.5           blog:db      dc=tokyo1 name=db-primary\n"
                "  redis-*.internal   blog:redis\n"
                "\n"
                "MATCH is an address, a CIDR block or a hostname glob (hostnames are those\n"
                "the agents report). A FILE with no rule (only comments, or empty) would\n"
                "remove every stored rule: it is refused unless --allow-empty says so.\n"
                "\n"
                "--server=URL asks a netdep server instead of a store (--token-file: an\n"
                "admin token to import, a reader token to list; --ca-file for https).\n"
                "\n"
                "Exit status: 0 success, 1 failure (a malformed file names the line), 2 usage.\n");
}

static int import(struct nd_store *s, const char *path, bool allow_empty)
{
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct nd_role_rules rules = {};
        char why[512];
        int r;

        if (!f) {
                log_error_errno(errno, "Failed to open roles file %s: %m", path);
                return EXIT_RUNTIME;
        }
        r = nd_role_rules_parse(f, &rules, why, sizeof(why));
        if (r < 0) {
                log_error("%s:%s", path, why);
                return EXIT_RUNTIME;
        }
        if (rules.n == 0 && !allow_empty) {
                log_error("%s holds no role rule; importing it would remove every stored rule "
                          "(--allow-empty to do that)", path);
                nd_role_rules_done(&rules);
                return EXIT_RUNTIME;
        }
        r = nd_store_roles_replace(s, &rules);
        if (r < 0) {
                nd_role_rules_done(&rules);
                return cli_store_error(s, r, "store the roles");
        }
        printf("imported %zu role rules from %s\n", rules.n, path);
        nd_role_rules_done(&rules);
        return EXIT_OK;
}

static int list(struct nd_store *s)
{
        struct nd_role_rules rules = {};
        int r = nd_store_roles_load(s, &rules);

        if (r < 0)
                return cli_store_error(s, r, "read the roles");
        for (size_t i = 0; i < rules.n; i++) {
                const struct nd_role_rule *rule = &rules.items[i];
                printf("%-24s %s:%s", rule->match, rule->service, rule->role);
                if (rule->datacenter[0])
                        printf(" dc=%s", rule->datacenter);
                if (rule->name[0])
                        printf(" name=%s", rule->name);
                putchar('\n');
        }
        nd_role_rules_done(&rules);
        return EXIT_OK;
}

int verb_roles(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                { "store", required_argument, NULL, 's' },
                { "allow-empty", no_argument, NULL, 'e' },
                {}
        };
        const char *uri = NULL, *action;
        struct nd_store *s = NULL;
        struct cli_remote remote = {};
        bool allow_empty = false;
        int c, index = 0, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                if (cli_remote_option(&remote, c, options, index))
                        continue;
                switch (c) {
                case 's':
                        uri = optarg;
                        break;
                case 'e':
                        allow_empty = true;
                        break;
                default:
                        r = cli_common_option(c, "roles", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind >= argc)
                return usage_error("roles", "missing action (import FILE or list)");
        action = argv[optind++];
        if (strcmp(action, "import") == 0) {
                if (optind >= argc)
                        return usage_error("roles", "import needs a FILE");
        } else if (strcmp(action, "list") != 0)
                return usage_error("roles", "unknown action '%s' (import or list)", action);
        if (optind + (strcmp(action, "import") == 0) < argc)
                return usage_error("roles", "unexpected argument '%s'", argv[argc - 1]);

        if (remote.server && uri)
                return usage_error("roles", "give --store or --server, not both");
        if (remote.server && strcmp(action, "import") == 0) {
                if (allow_empty)
                        cli_remote_param(&remote, "allow-empty", NULL);
                return cli_remote_run(&remote, "roles", "/api/v1/roles", "POST", argv[optind]);
        }
        if (remote.server)
                return cli_remote_run(&remote, "roles", "/api/v1/roles", "GET", NULL);

        r = cli_open_store(uri, CLI_STORE_CHECKED, &s);
        if (r != 0)
                return r;
        r = strcmp(action, "import") == 0 ? import(s, argv[optind], allow_empty) : list(s);
        nd_store_close(s);
        return r;
}
