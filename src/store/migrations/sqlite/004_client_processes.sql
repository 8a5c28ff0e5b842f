-- netdep store, version 4 (SQLite): what the client's agent says of an
-- edge's client processes. A client endpoint is (addr, 0, process), so two
-- processes of one name on one host (two `nc`, each its own process group)
-- are one endpoint, whose pgid is whichever reported last.
--
-- client_pgid: the pgid the client's agent last reported for this edge
-- (-1: never), so that each edge of one endpoint names its own process.
-- client_processes: how many client processes (distinct process groups)
-- the edge stood for at once, as that agent last reported (0: never, or
-- the process was unknown to it).
ALTER TABLE edges ADD COLUMN client_pgid INTEGER NOT NULL DEFAULT -1;
ALTER TABLE edges ADD COLUMN client_processes INTEGER NOT NULL DEFAULT 0;
