-- Sent before every query in the same pipeline (implicit transaction) by `patientsync serve` (-statement-timeout 5s):
-- the timeout, the time zone of the timestamps' text (UTC), and the last applied sync run (asOf).
SELECT set_config('statement_timeout', '5000ms', true), set_config('TimeZone', 'UTC', true), last_applied_run FROM sync_state;
