-- GET /payments?external_id=:external_id: generated from internal/api (go test ./internal/api -run TestPgbenchScripts -update).
-- :limit1 is the page size plus the probe row.
SELECT id, external_id, amount::text AS amount_text, patient_id, patient_external_id,
	created::text AS created_text, updated::text AS updated_text FROM payments WHERE deleted IS NULL AND patient_external_id = :external_id ORDER BY id LIMIT :limit1;
