-- netdep store, version 2 (SQLite): streaming mode's counts per bucket.
-- Connections opened are counted by each side's agent separately, since
-- both agents see the same connections: the edge's count is the larger of
-- the two. Failed connects are only ever seen by the client.
ALTER TABLE observations ADD COLUMN opened_by_client INTEGER NOT NULL DEFAULT 0;
ALTER TABLE observations ADD COLUMN opened_by_server INTEGER NOT NULL DEFAULT 0;
ALTER TABLE observations ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;

-- The same counts over the edge's whole life, for questions with no time range.
ALTER TABLE edges ADD COLUMN opened_by_client INTEGER NOT NULL DEFAULT 0;
ALTER TABLE edges ADD COLUMN opened_by_server INTEGER NOT NULL DEFAULT 0;
ALTER TABLE edges ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
