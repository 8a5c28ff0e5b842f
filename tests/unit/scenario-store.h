/* A small stored graph for the question tests (look, graph, impact), in a
 * fresh SQLite file: what agents on four hosts would have written.
 *
 *   lb1   10.77.0.30  curl (pgid 300) and nc (pgid 310) -> app1:8080
 *   app1  10.77.0.21  python3 (pgid 200) serves :8080;
 *                     psql (pgid 210) -> db1:5432;
 *                     nc (pgid 220) -> mon1:9100
 *   db1   10.77.0.10  postgres (pgid 100) serves :5432
 *   mon1  10.77.0.40  nc (pgid 400) serves :9100; runs no agent
 *
 * Both sides' agents report each edge they see (mon1's side is missing). */
#pragma once

#include <stdint.h>

#include "store/store.h"

#define SCENARIO_NOW 1790000000 /* the last flush */

/* Opens a fresh store at path with the scenario in it. */
struct nd_store *scenario_open(const char *path);

/* One flush by one agent: the host, its address, and rows at ts. */
void scenario_ingest(struct nd_store *s, int64_t ts, const char *host, const char *addr,
                     const struct nd_edge_observation *rows, size_t n);

/* An observation: side, client (addr, process, pgid), server (addr, port,
 * process, pgid), connections. */
struct nd_edge_observation scenario_obs(enum nd_edge_side side, const char *caddr, const char *cproc, int32_t cpgid,
                                        const char *saddr, uint16_t port, const char *sproc, int32_t spgid,
                                        uint32_t conns);
