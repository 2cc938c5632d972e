-- +goose Up
-- The sync run whose changes were committed last. Runs of the two entities
-- can commit in another order than they started (their ids), so the
-- readers' "asOf" cannot be max(id) of the succeeded runs: a run that
-- began first and commits last would not move it. Each applying
-- transaction updates this one row just before it commits; the row lock
-- orders those commits, and a reader's snapshot sees the value that goes
-- with the data it sees.
CREATE TABLE sync_state (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_applied_run bigint  NOT NULL DEFAULT 0
);
INSERT INTO sync_state (last_applied_run)
SELECT coalesce(max(id), 0) FROM sync_runs WHERE status = 'succeeded';

-- +goose Down
DROP TABLE sync_state;
