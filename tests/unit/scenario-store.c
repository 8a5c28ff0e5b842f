#include "scenario-store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

struct nd_edge_observation scenario_obs(enum nd_edge_side side, const char *caddr, const char *cproc, int32_t cpgid,
                                        const char *saddr, uint16_t port, const char *sproc, int32_t spgid,
                                        uint32_t conns)
{
        struct nd_edge_observation o = { .side = side, .connections = conns };

        snprintf(o.client.addr, sizeof(o.client.addr), "%s", caddr);
        snprintf(o.client.process, sizeof(o.client.process), "%s", cproc);
        o.client.pgid = cpgid;
        snprintf(o.server.addr, sizeof(o.server.addr), "%s", saddr);
        o.server.port = port;
        snprintf(o.server.process, sizeof(o.server.process), "%s", sproc);
        o.server.pgid = spgid;
        return o;
}

void scenario_ingest(struct nd_store *s, int64_t ts, const char *host, const char *addr,
                     const struct nd_edge_observation *rows, size_t n)
{
        const char *addrs[] = { addr };
        struct nd_ingest in = {
                .hostname = host, .host_addrs = addrs, .n_host_addrs = 1,
                .ts = ts, .first_ts = ts - 10, .rows = rows, .n_rows = n,
        };

        if (nd_store_ingest(s, &in) < 0)
                fail_msg("ingest: %s", nd_store_last_error(s));
}

struct nd_store *scenario_open(const char *path)
{
        char uri[512], err[512];
        struct nd_store *s = NULL;
        int64_t t = SCENARIO_NOW;

        unlink(path);
        snprintf(uri, sizeof(uri), "sqlite:%s", path);
        if (nd_store_open(uri, ND_STORE_CREATE, &s, err, sizeof(err)) < 0)
                fail_msg("open %s: %s", uri, err);
        if (nd_store_migrate(s) < 0)
                fail_msg("migrate: %s", nd_store_last_error(s));

        const struct nd_edge_observation lb1[] = {
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.30", "curl", 300, "10.77.0.21", 8080, "", -1, 1),
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.30", "nc", 310, "10.77.0.21", 8080, "", -1, 1),
        };
        const struct nd_edge_observation app1[] = {
                scenario_obs(ND_SIDE_SERVER, "10.77.0.30", "", -1, "10.77.0.21", 8080, "python3", 200, 2),
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.21", "psql", 210, "10.77.0.10", 5432, "", -1, 1),
                scenario_obs(ND_SIDE_CLIENT, "10.77.0.21", "nc", 220, "10.77.0.40", 9100, "", -1, 1),
        };
        const struct nd_edge_observation db1[] = {
                scenario_obs(ND_SIDE_SERVER, "10.77.0.21", "", -1, "10.77.0.10", 5432, "postgres", 100, 1),
        };
        for (int64_t ts = t - 120; ts <= t; ts += 60) {
                scenario_ingest(s, ts, "lb1", "10.77.0.30", lb1, 2);
                scenario_ingest(s, ts, "app1", "10.77.0.21", app1, 3);
                scenario_ingest(s, ts, "db1", "10.77.0.10", db1, 1);
        }
        return s;
}
