/* probe-run: the prober from the command line, for the end-to-end tests.
 *
 *   probe-run [--interval-ms N] [--probes K] [--rounds R] [--timeout-ms T]
 *             [--rate P] [--phase-key X] [-v] TARGET...
 *
 * TARGET is tcp:ADDR:PORT, tcp:[V6ADDR]:PORT or icmp:ADDR. Prints one JSON
 * line per target per round:
 *   {"round":0,"addr":"10.0.0.2","port":80,"kind":"tcp","sent":5,"lost":0,
 *    "refused":0,"rtt_p50_us":83,"rtt_p99_us":120}
 * Exits 0 after R rounds, 1 on an error, 2 on a usage error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe/prober.h"
#include "shared/cleanup.h"
#include "shared/log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct nd_prober *, nd_prober_free);

static int usage(const char *why)
{
        fprintf(stderr, "probe-run: %s\n"
                        "Usage: probe-run [--interval-ms N] [--probes K] [--rounds R] [--timeout-ms T]\n"
                        "                 [--rate P] [--phase-key X] [-v] tcp:ADDR:PORT|tcp:[V6]:PORT|icmp:ADDR...\n",
                why);
        return 2;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* "tcp:ADDR:PORT", "tcp:[V6]:PORT", "icmp:ADDR" or "icmp:[V6]". */
static int parse_target(const char *s, struct nd_probe_target *ret)
{
        struct nd_probe_target t = {};
        char buf[128], *addr, *port = NULL;
        uint64_t v;

        if (strncmp(s, "tcp:", 4) == 0)
                t.kind = ND_PROBE_TCP;
        else if (strncmp(s, "icmp:", 5) == 0)
                t.kind = ND_PROBE_ICMP;
        else
                return -EINVAL;
        if (snprintf(buf, sizeof(buf), "%s", strchr(s, ':') + 1) >= (int)sizeof(buf))
                return -EINVAL;
        addr = buf;
        if (addr[0] == '[') {
                char *close_bracket = strchr(addr, ']');

                if (!close_bracket)
                        return -EINVAL;
                *close_bracket = 0;
                addr++;
                if (close_bracket[1] == ':')
                        port = close_bracket + 2;
                else if (close_bracket[1])
                        return -EINVAL;
        } else if (t.kind == ND_PROBE_TCP) {
                port = strrchr(addr, ':');
                if (!port)
                        return -EINVAL;
                *port++ = 0;
        }
        if ((t.kind == ND_PROBE_TCP) != (port != NULL))
                return -EINVAL;
        if (port) {
                if (parse_u64(port, 1, 65535, &v) < 0)
                        return -EINVAL;
                t.port = (uint16_t)v;
        }
        if (nd_addr_parse(addr, &t.addr) < 0)
                return -EINVAL;
        *ret = t;
        return 0;
}

int main(int argc, char **argv)
{
        _cleanup_(nd_prober_freep) struct nd_prober *p = NULL;
        _cleanup_free_ struct nd_probe_target *targets = NULL;
        struct nd_prober_options o = { .interval_ms = 1000 };
        uint64_t rounds = 1, v;
        size_t n = 0;
        int r;

        targets = calloc((size_t)argc, sizeof(*targets));
        if (!targets)
                return 1;
        for (int i = 1; i < argc; i++) {
                const char *opt = argv[i];

                if (strcmp(opt, "-v") == 0) {
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        continue;
                }
                if (opt[0] != '-') {
                        if (parse_target(opt, &targets[n]) < 0)
                                return usage("bad target");
                        n++;
                        continue;
                }
                if (i + 1 >= argc)
                        return usage("option without a value");
                if (parse_u64(argv[++i], 0, UINT64_MAX, &v) < 0)
                        return usage("bad number");
                if (strcmp(opt, "--interval-ms") == 0)
                        o.interval_ms = v;
                else if (strcmp(opt, "--probes") == 0 && v <= 65535)
                        o.probes_per_round = (unsigned)v;
                else if (strcmp(opt, "--rounds") == 0)
                        rounds = v;
                else if (strcmp(opt, "--timeout-ms") == 0)
                        o.timeout_ms = v;
                else if (strcmp(opt, "--rate") == 0 && v <= 1000000)
                        o.max_probes_per_s = (unsigned)v;
                else if (strcmp(opt, "--phase-key") == 0)
                        o.phase_key = v;
                else
                        return usage("unknown option or value out of range");
        }
        if (n == 0)
                return usage("no target");

        r = nd_prober_new(&o, &p);
        if (r < 0)
                return log_error_errno(r, "probe-run: Failed to make the prober: %m"), 1;
        r = nd_prober_set_targets(p, targets, n);
        if (r < 0)
                return log_error_errno(r, "probe-run: Failed to set the targets: %m"), 1;
        for (uint64_t round = 0; round < rounds; round++) {
                _cleanup_free_ struct nd_probe_result *res = NULL;
                size_t n_res = 0;

                r = nd_prober_run_round(p, &res, &n_res);
                if (r < 0)
                        return log_error_errno(r, "probe-run: Round failed: %m"), 1;
                for (size_t i = 0; i < n_res; i++) {
                        char addr[ND_ADDR_STRLEN];

                        printf("{\"round\":%" PRIu64 ",\"addr\":\"%s\",\"port\":%u,\"kind\":\"%s\",\"sent\":%u,"
                               "\"lost\":%u,\"refused\":%u,\"rtt_p50_us\":%" PRId64 ",\"rtt_p99_us\":%" PRId64 "}\n",
                               round, nd_addr_format(&res[i].target.addr, addr), res[i].target.port,
                               res[i].target.kind == ND_PROBE_TCP ? "tcp" : "icmp", res[i].sent, res[i].lost,
                               res[i].refused, res[i].rtt_p50_us, res[i].rtt_p99_us);
                }
                fflush(stdout);
        }
        return 0;
}
