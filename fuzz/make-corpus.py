#!/usr/bin/env python3
"""Writes the starting corpus of the fuzz targets into corpus/.

Kept in the tree with its output so that the corpus can be read, changed
and made again: `python3 fuzz/make-corpus.py`. The files are stable
(gzip's timestamp is 0), so running it twice changes nothing."""

import gzip
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

# The first byte picks the path in fuzz-flush.c and fuzz-report.c: even
# plain, odd gzip.
PLAIN, GZIP = b"\x00", b"\x01"


def edge(client, cproc, cpgid, server, port, sproc, spgid, side, conns, opened=0, failed=0, rtt=0, retrans=0,
         sent=0, received=0, processes=0):
    return [client, cproc, cpgid, server, port, sproc, spgid, side, conns, opened, failed, rtt, retrans, sent,
            received, processes]


def flush(hostname, edges, addrs=(), namespaces=(), ts=1765000000, first_ts=1764999990):
    return json.dumps({"netdep_flush": 1, "hostname": hostname, "ts": ts, "first_ts": first_ts,
                       "addrs": list(addrs), "namespaces": list(namespaces), "edges": edges},
                      separators=(",", ":")).encode()


FLUSHES = {
    "empty": flush("app1", []),
    "one-client": flush("app1", [edge("10.0.0.21", "app", 812, "10.0.0.30", 5432, "", -1, "client", 2,
                                      rtt=350, sent=4096, received=81920, processes=1)],
                        addrs=["10.0.0.21"]),
    "server-v6": flush("db1", [edge("2001:db8::21", "", -1, "2001:db8::30", 5432, "postgres", 301, "server", 7,
                                    opened=3, failed=1, retrans=9223372036854775807)],
                       addrs=["2001:db8::30", "10.0.0.30"]),
    "namespaces": flush("host1", [edge("10.1.0.2", "curl", 1, "192.0.2.1", 65535, "nginx", 2147483647,
                                       "client", 4294967295, processes=4294967295)],
                        addrs=["10.0.1.9"],
                        namespaces=[{"name": "vm1", "addrs": ["10.1.0.2"]},
                                    {"name": "vm2", "addrs": ["fe80::1", "10.2.0.2"]}],
                        first_ts=946684800, ts=4102444800),
    # Refused, each for one reason, so that the reader's checks are reached.
    "bad-port": flush("app1", [edge("10.0.0.21", "app", 1, "10.0.0.30", 70000, "", -1, "client", 1)]),
    "not-an-addr": flush("app1", [edge("010.0.0.21", "app", 1, "10.0.0.30", 80, "", -1, "client", 1)]),
    "not-canonical": flush("app1", [edge("10.0.0.21", "app", 1, "::FFFF:10.0.0.30", 80, "", -1, "client", 1)]),
    "bad-side": flush("app1", [edge("10.0.0.21", "app", 1, "10.0.0.30", 80, "", -1, "both", 1)]),
    "unknown-field": flush("app1", [])[:-1] + b',"extra":true}',
}

def report(hostname, links, indicators=None, addrs=("10.0.0.21",), ts=1765000000, interval=30):
    r = {"netdep_report": 1, "hostname": hostname, "ts": ts, "interval_s": interval, "addrs": list(addrs),
         "links": links}
    if indicators is not None:
        r["indicators"] = indicators
    return json.dumps(r, separators=(",", ":")).encode()


REPORTS = {
    "no-links": report("app1", []),
    "links": report("app1", [["10.0.0.30", 5432, "tcp", 5, 1, 0, 250, 900], ["10.0.0.30", 0, "icmp", 5, 0, 0, 80, 95],
                             ["2001:db8::30", 443, "tcp", 5, 0, 5, -1, -1]],
                    indicators={"load": [0.5, 0.25, 0.125], "cpu": 0.3,
                                "nginx": {"requests_per_s": 120.5, "active": 3,
                                          "errors_per_s": {"404": 0.5, "502": 0.25}}}),
    "no-nginx": report("db1", [["10.0.0.21", 8080, "tcp", 1000, 0, 0, 0, 3600000000]],
                       indicators={"load": [0, 0, 0], "cpu": 1}, addrs=(), interval=86400),
    # Refused, each for one reason.
    "bad-kind": report("app1", [["10.0.0.30", 53, "udp", 5, 0, 0, 1, 2]]),
    "icmp-port": report("app1", [["10.0.0.30", 53, "icmp", 5, 0, 0, 1, 2]]),
    "too-many-lost": report("app1", [["10.0.0.30", 80, "tcp", 5, 4, 2, 1, 2]]),
    "bad-status": report("app1", [], indicators={"nginx": {"errors_per_s": {"200": 1}}}),
    "bad-cpu": report("app1", [], indicators={"cpu": 1.5}),
}

REQUESTS = {
    "look": b"/api/v1/look\0GET\0host=db1&depth=2&direction=in&format=json",
    "graph": b"/api/v1/graph\0GET\0role=pg:primary&group-by=host&format=dot&active",
    "impact": b"/api/v1/impact\0GET\0target=-db1&reverse=yes&since=7d&resolve=2s",
    "diff": b"/api/v1/diff\0GET\0host=db1&before=1d..12h&after=12h..now&json=1",
    "hosts": b"/api/v1/hosts\0GET\0format=json",
    "roles-list": b"/api/v1/roles\0GET\0",
    "roles-import": b"/api/v1/roles\0POST\0allow-empty=true",
    # Refused.
    "no-endpoint": b"/api/v2/look\0GET\0host=db1",
    "wrong-method": b"/api/v1/look\0POST\0host=db1",
    "unknown-param": b"/api/v1/look\0GET\0host=db1&store=sqlite:/etc/passwd",
    "twice": b"/api/v1/look\0GET\0host=db1&host=db2",
    "control": b"/api/v1/look\0GET\0host=db1\n--store=x",
    "no-target": b"/api/v1/impact\0GET\0depth=2",
    "bad-flag": b"/api/v1/impact\0GET\0target=db1&reverse=maybe",
    "many": b"/api/v1/hosts\0GET\0" + b"&".join(b"format=%d" % i for i in range(33)),
}


def write(folder, name, data):
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(data)


for name, text in FLUSHES.items():
    write("flush", name + ".json", PLAIN + text)
for name in ("one-client", "namespaces"):
    write("flush", name + ".json.gz", GZIP + gzip.compress(FLUSHES[name], mtime=0))
# A valid gzip member around something that is not JSON.
write("flush", "not-json.gz", GZIP + gzip.compress(b"netdep", mtime=0))
for name, text in REPORTS.items():
    write("report", name + ".json", PLAIN + text)
write("report", "links.json.gz", GZIP + gzip.compress(REPORTS["links"], mtime=0))
for name, data in REQUESTS.items():
    write("read-request", name, data)
