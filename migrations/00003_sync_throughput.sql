-- +goose Up
-- What a run read and how fast: the sync Lambda predicts from the recent
-- rates whether a snapshot can finish before its deadline.
ALTER TABLE sync_runs
    ADD COLUMN bytes_read       bigint,           -- bytes of the object as stored (compressed or not)
    ADD COLUMN bytes_per_second double precision, -- bytes_read over the run's duration
    ADD COLUMN rows_per_second  double precision; -- records received over the run's duration

-- +goose Down
ALTER TABLE sync_runs DROP COLUMN bytes_read, DROP COLUMN bytes_per_second, DROP COLUMN rows_per_second;
