-- netdep store, version 2 (PostgreSQL): streaming mode's counts per bucket.
-- Connections opened are counted by each side's agent separately, since
-- both agents see the same connections: the edge's count is the larger of
-- the two. Failed connects are only ever seen by the client. Adding a
-- column with a constant default rewrites no partition.
ALTER TABLE observations ADD COLUMN opened_by_client bigint NOT NULL DEFAULT 0;
ALTER TABLE observations ADD COLUMN opened_by_server bigint NOT NULL DEFAULT 0;
ALTER TABLE observations ADD COLUMN failed bigint NOT NULL DEFAULT 0;

-- The same counts over the edge's whole life, for questions with no time range.
ALTER TABLE edges ADD COLUMN opened_by_client bigint NOT NULL DEFAULT 0;
ALTER TABLE edges ADD COLUMN opened_by_server bigint NOT NULL DEFAULT 0;
ALTER TABLE edges ADD COLUMN failed bigint NOT NULL DEFAULT 0;
