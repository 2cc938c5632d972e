-- +goose Up
-- Why a run was rejected or skipped, as a short stable code (malformed,
-- invalid-share, mass-delete, content, object-gone, stale, duplicate,
-- handed-off, transient), beside the full message in error.
ALTER TABLE sync_runs ADD COLUMN reason_code text;

-- GET /syncs lists runs newest first, by entity and status.
CREATE INDEX sync_runs_entity_idx ON sync_runs (entity, id DESC);
CREATE INDEX sync_runs_status_idx ON sync_runs (status, id DESC);

-- +goose Down
DROP INDEX sync_runs_status_idx;
DROP INDEX sync_runs_entity_idx;
ALTER TABLE sync_runs DROP COLUMN reason_code;
