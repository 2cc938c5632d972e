-- +goose Up
-- A fingerprint of what the snapshot said (order and layout aside): a
-- snapshot identical to the last one applied to its entity changes nothing,
-- and is recorded without diffing it against the tables.
ALTER TABLE sync_runs ADD COLUMN content_hash text;

-- "What was last applied to this entity?"
CREATE INDEX sync_runs_entity_applied_idx ON sync_runs (entity, id DESC) WHERE status = 'succeeded';

-- +goose Down
DROP INDEX sync_runs_entity_applied_idx;
ALTER TABLE sync_runs DROP COLUMN content_hash;
