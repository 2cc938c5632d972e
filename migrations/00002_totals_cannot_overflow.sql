-- +goose Up
-- A patient's total is at most (2^63 - 1) payments of 999,999,999,999.99:
-- under 10^31, which numeric(33,2) holds, so no valid snapshot can overflow
-- it. Raising a numeric's precision (same scale) rewrites neither the table
-- nor its indexes.
ALTER TABLE patients ALTER COLUMN payments_total TYPE numeric(33,2);

-- +goose Down
ALTER TABLE patients ALTER COLUMN payments_total TYPE numeric(18,2);
