-- netdep store, version 1 (PostgreSQL). Times are unix seconds, as in the
-- SQLite schema, so both back ends answer alike.

CREATE TABLE netdep_schema (
        version integer NOT NULL,
        applied_at bigint NOT NULL
);

-- A client endpoint is (addr, port 0, process): the process is part of its
-- identity ('' when unknown). A server endpoint is (addr, port, ''), and
-- name/pgid tell which process serves it, as its own agent last said.
CREATE TABLE endpoints (
        id bigserial PRIMARY KEY,
        addr text NOT NULL,
        port integer NOT NULL,
        process text NOT NULL,
        name text NOT NULL DEFAULT '',
        pgid integer NOT NULL DEFAULT -1,
        UNIQUE (addr, port, process)
);

CREATE TABLE edges (
        id bigserial PRIMARY KEY,
        client_id bigint NOT NULL REFERENCES endpoints (id),
        server_id bigint NOT NULL REFERENCES endpoints (id),
        first_seen bigint NOT NULL,
        last_seen bigint NOT NULL,
        last_connections integer NOT NULL,
        sides integer NOT NULL, -- 1: the client's agent reported it, 2: the server's
        UNIQUE (client_id, server_id)
) WITH (fillfactor = 70); -- room on each page: every flush updates its edges, in place (HOT)
CREATE INDEX edges_by_server ON edges (server_id);

-- Per-bucket history of an edge, partitioned by day so that retention drops
-- whole days. Partitions (observations_YYYYMMDD) are made on first use.
CREATE TABLE observations (
        edge_id bigint NOT NULL,
        bucket bigint NOT NULL,
        connections integer NOT NULL,
        rtt_us integer NOT NULL,
        retrans bigint NOT NULL,
        bytes_sent bigint NOT NULL,
        bytes_received bigint NOT NULL,
        PRIMARY KEY (edge_id, bucket)
) PARTITION BY RANGE (bucket);
CREATE INDEX observations_by_bucket ON observations (bucket);

-- The addresses of hosts that run an agent, with their hostnames.
CREATE TABLE hosts (
        addr text PRIMARY KEY,
        hostname text NOT NULL,
        last_seen bigint NOT NULL
);
CREATE INDEX hosts_by_hostname ON hosts (hostname);

-- Role rules in file order; the first match wins.
CREATE TABLE roles (
        position integer PRIMARY KEY,
        match text NOT NULL,
        service text NOT NULL,
        role text NOT NULL,
        datacenter text NOT NULL DEFAULT '',
        name text NOT NULL DEFAULT ''
);
