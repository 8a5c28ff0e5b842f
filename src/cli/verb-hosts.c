/* netdep hosts: the addresses agents reported, and the host each is. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/store-open.h"
#include "shared/log.h"
#include "shared/parse.h"
#include "store/store.h"

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep hosts [OPTIONS]\n"
                "\n"
                "Every address an agent reported as its own, with its hostname (or the\n"
                "name of the network namespace that holds it), in address order.\n"
                "\n"
                "Options:\n"
                "      --format=F           table (default) or json\n"
                "      --store=URI          default sqlite:netdep.db or $NETDEP_STORE\n"
                "      --server=URL         ask a netdep server instead of a store\n"
                "      --token-file=FILE    the server's reader token\n"
                "      --ca-file=FILE       the CA to trust for an https server\n"
                "  -v, -q, -h               verbose, quiet, this help\n"
                "\n"
                "Exit status: 0 success, 1 a store failure, 2 usage error.\n");
}

enum { OPT_FORMAT = 0x100, OPT_STORE };

static int print_json(const struct nd_host_list *hosts)
{
        json_t *a = json_array();
        int r;

        for (size_t i = 0; a && i < hosts->n; i++)
                if (json_array_append_new(a, json_pack("{s:s, s:s}", "addr", hosts->items[i].addr, "hostname",
                                                       hosts->items[i].hostname)) < 0) {
                        json_decref(a);
                        a = NULL;
                }
        if (!a)
                return -1;
        r = json_dumpf(a, stdout, JSON_INDENT(2));
        json_decref(a);
        return r < 0 || putchar('\n') == EOF ? -1 : 0;
}

int verb_hosts(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                CLI_REMOTE_LONG_OPTIONS,
                { "format", required_argument, NULL, OPT_FORMAT },
                { "store", required_argument, NULL, OPT_STORE },
                {}
        };
        static const char *const formats[] = { "table", "json", NULL };
        struct cli_remote remote = {};
        struct nd_host_list hosts = {};
        struct nd_store *s = NULL;
        const char *uri = NULL;
        int c, index = 0, format = 0, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":" COMMON_SHORT_OPTIONS, options, &index)) != -1) {
                if (cli_remote_option(&remote, c, options, index))
                        continue;
                switch (c) {
                case OPT_FORMAT:
                        if ((format = parse_choice(optarg, formats)) < 0)
                                return usage_error("hosts", "invalid --format '%s' (table or json)", optarg);
                        break;
                case OPT_STORE:
                        uri = optarg;
                        break;
                default:
                        r = cli_common_option(c, "hosts", argv, help);
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return usage_error("hosts", "unexpected argument '%s'", argv[optind]);
        if (remote.server && uri)
                return usage_error("hosts", "give --store or --server, not both");
        if (remote.server)
                return cli_remote_run(&remote, "hosts", "/api/v1/hosts", "GET", NULL);

        r = cli_open_store(uri, CLI_STORE_CHECKED, &s);
        if (r != 0)
                return r;
        r = nd_store_hosts(s, &hosts);
        if (r < 0)
                r = cli_store_error(s, r, "read hosts");
        else {
                if (format == 1)
                        r = print_json(&hosts);
                else {
                        for (size_t i = 0; i < hosts.n; i++)
                                printf("%-40s %s\n", hosts.items[i].addr, hosts.items[i].hostname);
                        r = 0;
                }
                if (r < 0 || fflush(stdout) != 0) {
                        log_error("Failed to write the hosts");
                        r = EXIT_RUNTIME;
                } else
                        r = EXIT_OK;
        }
        nd_host_list_done(&hosts);
        nd_store_close(s);
        return r;
}
