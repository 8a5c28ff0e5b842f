/* netdep: one binary, a verb per job. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "shared/log.h"

#ifndef NETDEP_VERSION
#define NETDEP_VERSION "unknown"
#endif

static const struct verb verbs[] = {
        { "flows", "this host's host flows now, as a table or JSON", verb_flows },
        { "agent", "collect this host's flows into the store, continuously", verb_agent },
        { "look", "the dependency tree of a host or role, from the store", verb_look },
        { "graph", "the stored graph as one picture: DOT, SVG, Mermaid or JSON", verb_graph },
        { "impact", "everything that depends on a host or role, transitively", verb_impact },
        { "diff", "edges that appeared or vanished between two time ranges", verb_diff },
        { "hosts", "the hosts agents reported, and their addresses", verb_hosts },
        { "serve", "the fleet's server: agents report to it, readers ask it", verb_serve },
        { "query", "read-only SQL over the live state of the fleet's links", verb_query },
        { "check", "a Nagios plugin: broken hosts and links down, without flapping", verb_check },
        { "roles", "import or list the rules that group hosts into roles", verb_roles },
        { "db", "create or migrate the store's schema", verb_db },
        { "trace", "TCP connections as they open, close or fail, live (eBPF)", verb_trace },
};

int usage_error(const char *verb, const char *fmt, ...)
{
        va_list ap;

        fputs("netdep: error: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'netdep %s%s--help'.\n", verb ? verb : "", verb ? " " : "");
        return EXIT_USAGE;
}

static void print_help(FILE *out)
{
        fprintf(out,
                "Usage: netdep [-v|-q] VERB [OPTIONS]\n"
                "       netdep --version\n"
                "\n"
                "Discovers which hosts and processes talk to which, from the TCP state\n"
                "the kernel keeps.\n"
                "\n"
                "Verbs:\n");
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
        fprintf(out,
                "\n"
                "Options:\n"
                "  -v, --verbose   more log output (repeat for debug)\n"
                "  -q, --quiet     only errors\n"
                "  -h, --help      this help; 'netdep VERB --help' for a verb's\n"
                "      --version   print the version\n"
                "\n"
                "Exit status: 0 success, 1 the operation failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                { "version", no_argument, NULL, 'V' },
                {}
        };
        int c;

        /* '+' stops at the verb: what follows belongs to it. */
        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:" COMMON_SHORT_OPTIONS, options, NULL)) != -1) {
                switch (c) {
                case 'h':
                        print_help(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("netdep %s\n", NETDEP_VERSION);
                        return EXIT_OK;
                case 'v':
                        log_adjust_level(+1);
                        break;
                case 'q':
                        log_set_max_level(LOG_LEVEL_ERROR);
                        break;
                default:
                        return usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
                }
        }
        if (optind >= argc) {
                print_help(stderr);
                return EXIT_USAGE;
        }

        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
                if (strcmp(argv[optind], verbs[i].name) == 0) {
                        int verb_argc = argc - optind;
                        char **verb_argv = argv + optind;

                        optind = 0; /* a full getopt reset for the verb */
                        return verbs[i].run(verb_argc, verb_argv);
                }
        return usage_error(NULL, "unknown verb '%s'", argv[optind]);
}
