-- netdep store, version 3 (SQLite): nothing changes. The schema version is
-- shared by both back ends; version 3 is PostgreSQL's leaner ingest (no
-- observations_by_bucket index, no foreign keys on edges, a count of
-- prunes). SQLite keeps its index and keys: its prune deletes observations
-- by bucket through that index (no day partitions to drop), one writer at
-- a time keeps no endpoint ids between flushes, and its keys cost it
-- little next to its row-by-row upserts.
SELECT 1;
