/* The synthetic fleet that ingest-bench and serve-bench write: one host's
 * flush of edges, the same rows through every path they compare.
 *
 * Host h of address range r is 10.(100 + r).(h / 250).(h % 250 + 1); a
 * bench gives each of its runs a range of its own, so that each starts on
 * edges no run before it wrote. Of a flush's rows the first
 * FLEET_CLIENT_FLOWS are the host as the client of other hosts' servers (5
 * processes, 4 ports), the rest the host as a server (nginx on port 80) to
 * clients that run no agent, at 10.(200 + r).(h / 250).x. Servers are
 * shared, as in a real fleet. */
#pragma once

#include "store/store.h"

#define FLEET_CLIENT_FLOWS 40
#define FLEET_MAX_FLOWS (FLEET_CLIENT_FLOWS + 250)
#define FLEET_MAX_HOSTS 62500
#define FLEET_MAX_RANGE 55

/* Whether a fleet of this many hosts gives each host distinct servers:
 * FLEET_CLIENT_FLOWS < hosts <= FLEET_MAX_HOSTS, not a multiple of 13. */
bool fleet_size_ok(unsigned hosts);

void fleet_host_addr(unsigned range, unsigned h, char buf[static ND_ADDR_TEXT_MAX]);

/* Host h's flush of `flows` rows (FLEET_CLIENT_FLOWS < flows <=
 * FLEET_MAX_FLOWS) in round `round`: distinct edges, the same across
 * rounds; the counters change with the round. */
void fleet_make_flush(unsigned hosts, unsigned flows, unsigned range, unsigned h, unsigned round,
                      struct nd_edge_observation *rows);
