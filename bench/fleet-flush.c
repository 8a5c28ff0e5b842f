#include "fleet-flush.h"

#include <stdio.h>

bool fleet_size_ok(unsigned hosts)
{
        return hosts > FLEET_CLIENT_FLOWS && hosts <= FLEET_MAX_HOSTS && hosts % 13 != 0;
}

void fleet_host_addr(unsigned range, unsigned h, char buf[static ND_ADDR_TEXT_MAX])
{
        snprintf(buf, ND_ADDR_TEXT_MAX, "10.%u.%u.%u", 100 + range, h / 250, h % 250 + 1);
}

void fleet_make_flush(unsigned hosts, unsigned flows, unsigned range, unsigned h, unsigned round,
                      struct nd_edge_observation *rows)
{
        static const char *const processes[] = { "app", "worker", "cron", "backup", "metrics" };

        for (unsigned i = 0; i < flows; i++) {
                struct nd_edge_observation *row = &rows[i];

                *row = (struct nd_edge_observation){
                        .connections = 1 + (i + round) % 7,
                        .rtt_us = 200 + 10 * i + round,
                        .retrans = round,
                        .bytes_sent = 1000ull * (i + 1) * (round + 1),
                        .bytes_received = 3000ull * (i + 1) * (round + 1),
                };
                if (i < FLEET_CLIENT_FLOWS) {
                        /* 13 is prime to the fleet's size (fleet_size_ok),
                         * so a host's 40 servers are distinct hosts. */
                        row->side = ND_SIDE_CLIENT;
                        fleet_host_addr(range, h, row->client.addr);
                        snprintf(row->client.process, sizeof(row->client.process), "%s", processes[i % 5]);
                        row->client.pgid = (int32_t)(1000 + i % 5);
                        fleet_host_addr(range, (h + 1 + 13 * i) % hosts, row->server.addr);
                        row->server.port = (uint16_t)(5432 + i % 4);
                        row->server.pgid = -1;
                } else {
                        row->side = ND_SIDE_SERVER;
                        snprintf(row->client.addr, sizeof(row->client.addr), "10.%u.%u.%u", 200 + range,
                                 h / 250, (h % 250) ^ (i - FLEET_CLIENT_FLOWS));
                        row->client.pgid = -1;
                        fleet_host_addr(range, h, row->server.addr);
                        row->server.port = 80;
                        snprintf(row->server.process, sizeof(row->server.process), "nginx");
                        row->server.pgid = 77;
                }
        }
}
