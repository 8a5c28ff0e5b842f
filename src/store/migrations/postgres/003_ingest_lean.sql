-- netdep store, version 3 (PostgreSQL): less to write per new edge and
-- observation, since ingest is where a fleet's store spends its time.
--
-- observations_by_bucket: no question needs it. Edge questions over a time
-- range find an edge's observations through the primary key (edge_id,
-- bucket); retention drops whole day partitions, and its two deletes
-- within the cut-off day find their rows by partition (a scan of that one
-- day's partition, once an hour) and through edges and the primary key.
-- Each observation inserted wrote it: one B-tree insert and its WAL less.
DROP INDEX observations_by_bucket;

-- The foreign keys of edges on endpoints: each new edge checked both
-- endpoints, one query per row (about a fifth of the server's CPU for a
-- flush of new edges). netdep keeps them true itself: only its prune
-- deletes endpoints, and only those no edge refers to (edges go first, in
-- the same transaction, under a lock that keeps ingests out); an ingest
-- resolves or inserts its endpoints under that same lock. What the keys
-- also caught, an ingest using an endpoint id it remembered from before a
-- prune that has since deleted it, netdep_prunes now catches: see below.
-- Deleting endpoints by hand must delete their edges too.
ALTER TABLE edges DROP CONSTRAINT edges_client_id_fkey;
ALTER TABLE edges DROP CONSTRAINT edges_server_id_fkey;

-- Room on each page for every edge on it to be updated once in place
-- (HOT: no index entry written) before the page is pruned. A flush
-- inserts its new edges side by side and the next flush updates them all:
-- at 70 an edge row (about 100 bytes) left room for some 24 of a page's
-- 57 rows, and the other 33 moved to another page with an entry in each
-- of the three indexes. At 50, 40 rows and room for 40. Only pages written
-- from now on; edges take about 40% more space.
ALTER TABLE edges SET (fillfactor = 50);

-- How many prunes have deleted endpoints. A connection that remembers
-- endpoint ids says which count they were read at; a flush inserting an
-- edge with them fails (and runs again, remembering nothing) when a prune
-- has deleted endpoints since.
CREATE TABLE netdep_prunes (
        endpoints_deleted bigint NOT NULL
);
INSERT INTO netdep_prunes (endpoints_deleted) VALUES (0);
