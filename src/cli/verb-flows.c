/* netdep flows: this host's host flows now. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/flows.h"
#include "cli/cli.h"
#include "cli/flows-print.h"
#include "collect/netns.h"
#include "collect/reverse_dns.h"
#include "shared/log.h"
#include "shared/parse.h"
#include "shared/sort.h"

#define DEFAULT_RESOLVE_BUDGET_MS 2000

struct flows_args {
        struct nd_flows_options collect;
        bool json;
        bool resolve;
        uint64_t resolve_budget_ms;
};

static void help(FILE *out)
{
        fprintf(out,
                "Usage: netdep flows [OPTIONS]\n"
                "\n"
                "This host's TCP connections folded into host flows: connections to a\n"
                "local listening port are passive (peer port folded to 'many'), the rest\n"
                "active (local port folded). Read from NETLINK_SOCK_DIAG, or from\n"
                "/proc/net/tcp where that is unavailable.\n"
                "\n"
                "Options:\n"
                "      --json              a JSON array of flows (schema: docs/json.md)\n"
                "  -n, --numeric           addresses as numbers (the default)\n"
                "      --resolve[=BUDGET]  reverse-DNS names, within BUDGET in total\n"
                "                          (default 2s; names not back in time stay numeric)\n"
                "      --filter=WHICH      all (default), public or private peers\n"
                "      --no-loopback       leave out flows over loopback addresses\n"
                "      --no-processes      skip process attribution (faster)\n"
                "      --all-netns         every network namespace on the host (needs root)\n"
                "      --source=SOURCE     auto (default), sock_diag or proc\n"
                "  -v, --verbose           more log output\n"
                "  -q, --quiet             only errors\n"
                "  -h, --help              this help\n"
                "\n"
                "Exit status: 0 success, 1 the collection failed, 2 usage error.\n");
}

enum {
        OPT_JSON = 0x100,
        OPT_RESOLVE,
        OPT_FILTER,
        OPT_NO_LOOPBACK,
        OPT_NO_PROCESSES,
        OPT_ALL_NETNS,
        OPT_SOURCE,
};

/* Returns 0 to go on, -1 after --help, or EXIT_USAGE. */
static int parse_args(int argc, char **argv, struct flows_args *a)
{
        static const struct option options[] = {
                COMMON_LONG_OPTIONS,
                { "json", no_argument, NULL, OPT_JSON },
                { "numeric", no_argument, NULL, 'n' },
                { "resolve", optional_argument, NULL, OPT_RESOLVE },
                { "filter", required_argument, NULL, OPT_FILTER },
                { "no-loopback", no_argument, NULL, OPT_NO_LOOPBACK },
                { "no-processes", no_argument, NULL, OPT_NO_PROCESSES },
                { "all-netns", no_argument, NULL, OPT_ALL_NETNS },
                { "source", required_argument, NULL, OPT_SOURCE },
                {}
        };
        static const char *const filters[] = { "all", "public", "private", NULL };
        static const char *const sources[] = { "auto", "sock_diag", "proc", NULL };
        int c, i, r;

        opterr = 0;
        while ((c = getopt_long(argc, argv, ":n" COMMON_SHORT_OPTIONS, options, NULL)) != -1) {
                switch (c) {
                case OPT_JSON:
                        a->json = true;
                        break;
                case 'n':
                        a->resolve = false;
                        break;
                case OPT_RESOLVE:
                        a->resolve = true;
                        if (optarg && parse_duration_ms(optarg, &a->resolve_budget_ms) < 0)
                                return usage_error("flows", "invalid --resolve budget '%s' (e.g. 500ms, 2s)", optarg);
                        break;
                case OPT_FILTER:
                        if ((i = parse_choice(optarg, filters)) < 0)
                                return usage_error("flows", "invalid --filter '%s' (all, public or private)", optarg);
                        a->collect.peer_filter = (enum nd_peer_filter)i;
                        break;
                case OPT_NO_LOOPBACK:
                        a->collect.no_loopback = true;
                        break;
                case OPT_NO_PROCESSES:
                        a->collect.processes = false;
                        break;
                case OPT_ALL_NETNS:
                        a->collect.all_netns = true;
                        break;
                case OPT_SOURCE:
                        if ((i = parse_choice(optarg, sources)) < 0)
                                return usage_error("flows", "invalid --source '%s' (auto, sock_diag or proc)", optarg);
                        a->collect.source = (enum nd_source_choice)i;
                        break;
                default:
                        r = cli_common_option(c, "flows", argv, help);
                        if (r == EXIT_OK)
                                return -1; /* --help: exit 0 */
                        if (r != CLI_OPTION_DONE)
                                return r;
                        break;
                }
        }
        if (optind < argc)
                return usage_error("flows", "unexpected argument '%s'", argv[optind]);
        return 0;
}

static int compare_addr(const void *a, const void *b)
{
        return nd_addr_compare(a, b);
}

static char *name_of(const struct nd_addr *a, const struct nd_addr *unique, size_t n, char **names)
{
        const struct nd_addr *hit = bsearch(a, unique, n, sizeof(*unique), compare_addr);
        size_t i = (size_t)(hit - unique);

        return hit && names[i] ? strdup(names[i]) : NULL;
}

/* Reverse DNS for every distinct address in the flows, in one budget. */
static int resolve_names(const struct nd_flow_set *flows, uint64_t budget_ms, char ***ret_local,
                         char ***ret_peer)
{
        size_t n = flows->n, n_unique = 0;
        struct nd_addr *addrs = malloc((2 * n + 1) * sizeof(*addrs));
        char **names = NULL, **local = NULL, **peer = NULL;
        int r;

        if (!addrs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                addrs[2 * i] = flows->flows[i].local;
                addrs[2 * i + 1] = flows->flows[i].peer;
        }
        qsort_safe(addrs, 2 * n, sizeof(*addrs), compare_addr);
        for (size_t i = 0; i < 2 * n; i++)
                if (n_unique == 0 || !nd_addr_equal(&addrs[n_unique - 1], &addrs[i]))
                        addrs[n_unique++] = addrs[i];

        r = nd_reverse_dns(addrs, n_unique, budget_ms > UINT32_MAX ? UINT32_MAX : (unsigned)budget_ms, &names);
        if (r < 0)
                goto finish;
        local = calloc(n ? n : 1, sizeof(char *));
        peer = calloc(n ? n : 1, sizeof(char *));
        if (!local || !peer) {
                r = -ENOMEM;
                goto finish;
        }
        for (size_t i = 0; i < n; i++) {
                local[i] = name_of(&flows->flows[i].local, addrs, n_unique, names);
                peer[i] = name_of(&flows->flows[i].peer, addrs, n_unique, names);
        }
        *ret_local = local;
        *ret_peer = peer;
        local = peer = NULL;
finish:
        nd_names_free(names, n_unique);
        nd_names_free(local, n);
        nd_names_free(peer, n);
        free(addrs);
        return r;
}

int verb_flows(int argc, char **argv)
{
        struct flows_args a = {
                .collect = { .processes = true },
                .resolve_budget_ms = DEFAULT_RESOLVE_BUDGET_MS,
        };
        struct flows_print_options print = {};
        struct nd_netns_list netns_names = {};
        struct nd_flows_report report;
        struct nd_flow_set flows;
        int r;

        r = parse_args(argc, argv, &a);
        if (r != 0)
                return r < 0 ? EXIT_OK : r;

        /* Only the JSON carries RTT and byte counts: the table need not pay
         * for them. */
        a.collect.tcp_info = a.json;
        r = nd_flows_collect(&a.collect, &flows, &report);
        if (r == -EPERM && a.collect.all_netns) {
                log_error_errno(r, "Failed to enter other network namespaces: %m (--all-netns needs root)");
                return EXIT_RUNTIME;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to collect TCP sockets: %m");
                return EXIT_RUNTIME;
        }

        if (report.fell_back)
                log_notice_errno(report.fallback_reason,
                                 "sock_diag unavailable (%m); read /proc/net/tcp instead, without RTT or byte counts");
        if (a.collect.processes && report.procs_denied > 0) {
                if (geteuid() != 0)
                        log_notice("process attribution is partial: the fds of %u processes are not readable without root",
                                   report.procs_denied);
                else
                        log_debug("the fds of %u processes were not readable", report.procs_denied);
        }
        log_debug("%lu connections in %u namespaces from %s; %lu without a known process",
                  report.sockets, report.namespaces, report.source ? report.source : "-", report.unowned);

        if (a.resolve) {
                r = resolve_names(&flows, a.resolve_budget_ms, &print.local_names, &print.peer_names);
                if (r < 0)
                        log_warning_errno(r, "Failed to resolve names, printing addresses: %m");
        }

        print.json = a.json;
        print.show_netns = a.collect.all_netns;
        if (print.show_netns && !a.json) {
                /* Named ones by name; a namespace not found keeps its inode. */
                if (nd_netns_discover(NULL, "/run/netns", &netns_names) >= 0)
                        print.netns_names = &netns_names;
        }
        r = flows_print(stdout, &flows, &print);
        nd_netns_list_done(&netns_names);
        if (r >= 0 && fflush(stdout) != 0)
                r = -errno;
        if (r < 0)
                log_error_errno(r, "Failed to write the flows: %m");

        nd_names_free(print.local_names, flows.n);
        nd_names_free(print.peer_names, flows.n);
        nd_flow_set_done(&flows);
        return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
