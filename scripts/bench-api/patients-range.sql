-- GET /patients?payment_min=:min&payment_max=:max: generated from internal/api (go test ./internal/api -run TestPgbenchScripts -update).
-- :limit1 is the page size plus the probe row.
SELECT id, external_id, first_name, last_name, middle_name,
	to_char(date_of_birth, 'YYYY-MM-DD') AS dob_text, payments_total::text AS total_text, payments_count,
	created::text AS created_text, updated::text AS updated_text FROM patients WHERE deleted IS NULL AND payments_total >= :min::numeric AND payments_total <= :max::numeric ORDER BY payments_total, id LIMIT :limit1;
