-- Sent before every query in the same pipeline (implicit transaction) by `patientsync serve` (-statement-timeout 5s).
SELECT set_config('statement_timeout', '5000ms', true);
