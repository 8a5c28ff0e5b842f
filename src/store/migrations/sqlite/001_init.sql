-- netdep store, version 1 (SQLite). Times are unix seconds.

CREATE TABLE netdep_schema (
        version INTEGER NOT NULL,
        applied_at INTEGER NOT NULL
);

-- A client endpoint is (addr, port 0, process): the process is part of its
-- identity ('' when unknown). A server endpoint is (addr, port, ''), and
-- name/pgid tell which process serves it, as its own agent last said.
CREATE TABLE endpoints (
        id INTEGER PRIMARY KEY,
        addr TEXT NOT NULL,
        port INTEGER NOT NULL,
        process TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        pgid INTEGER NOT NULL DEFAULT -1,
        UNIQUE (addr, port, process)
);

CREATE TABLE edges (
        id INTEGER PRIMARY KEY,
        client_id INTEGER NOT NULL REFERENCES endpoints (id),
        server_id INTEGER NOT NULL REFERENCES endpoints (id),
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        last_connections INTEGER NOT NULL,
        sides INTEGER NOT NULL, -- 1: the client's agent reported it, 2: the server's
        UNIQUE (client_id, server_id)
);
CREATE INDEX edges_by_server ON edges (server_id);

-- Per-bucket history of an edge (ND_BUCKET_SECONDS wide).
CREATE TABLE observations (
        edge_id INTEGER NOT NULL REFERENCES edges (id) ON DELETE CASCADE,
        bucket INTEGER NOT NULL,
        connections INTEGER NOT NULL,
        rtt_us INTEGER NOT NULL,
        retrans INTEGER NOT NULL,
        bytes_sent INTEGER NOT NULL,
        bytes_received INTEGER NOT NULL,
        PRIMARY KEY (edge_id, bucket)
) WITHOUT ROWID;
CREATE INDEX observations_by_bucket ON observations (bucket);

-- The addresses of hosts that run an agent, with their hostnames.
CREATE TABLE hosts (
        addr TEXT PRIMARY KEY,
        hostname TEXT NOT NULL,
        last_seen INTEGER NOT NULL
);
CREATE INDEX hosts_by_hostname ON hosts (hostname);

-- Role rules in file order; the first match wins.
CREATE TABLE roles (
        position INTEGER PRIMARY KEY,
        match TEXT NOT NULL,
        service TEXT NOT NULL,
        role TEXT NOT NULL,
        datacenter TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT ''
);
