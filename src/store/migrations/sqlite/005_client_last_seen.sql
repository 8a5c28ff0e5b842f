-- netdep store, version 5 (SQLite): when the client's own agent last saw
-- an edge. A server's agent sees every connection it accepts, probes of
-- its port included, so last_seen alone would keep a probed link alive for
-- as long as it is probed; the links a host uses are those its own agent
-- saw it open (0: never). Edges stored before: their last_seen, where the
-- client's agent had reported them.
ALTER TABLE edges ADD COLUMN client_last_seen INTEGER NOT NULL DEFAULT 0;
UPDATE edges SET client_last_seen = last_seen WHERE sides & 1 <> 0;
