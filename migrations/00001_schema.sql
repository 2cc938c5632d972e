-- +goose Up

-- Patients as the external system sends them. id is ours; external_id is theirs
-- and never changes. deleted is set while the patient is absent upstream.
-- payments_total/payments_count aggregate the patient's live payments (by
-- payments.patient_external_id) and are maintained by every sync.
CREATE TABLE patients (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id    text COLLATE "C" NOT NULL, -- opaque ids: byte order, fast comparisons
    first_name     text        NOT NULL,
    last_name      text        NOT NULL,
    middle_name    text,
    date_of_birth  date        NOT NULL,
    payments_total numeric(18,2) NOT NULL DEFAULT 0,
    payments_count bigint      NOT NULL DEFAULT 0,
    created        timestamptz NOT NULL DEFAULT now(),
    updated        timestamptz NOT NULL DEFAULT now(),
    deleted        timestamptz,
    CONSTRAINT patients_external_id_key UNIQUE (external_id)
) WITH (fillfactor = 90);

-- GET /patients?payment_min=&payment_max= is a range scan of this index,
-- ordered by (payments_total, id) for keyset pagination.
CREATE INDEX patients_live_total_idx ON patients (payments_total, id) WHERE deleted IS NULL;

-- Payments. patient_external_id is what the snapshot says; patient_id links to
-- the patients row with that external id whenever one exists (deleted or not),
-- and is null otherwise. The sync maintains that link; it is deliberately not
-- a declared FOREIGN KEY: patients rows are never removed, so the link cannot
-- dangle, and the per-row RI trigger (which also locks every referenced
-- patient row) cost 21 s of a 77 s initial load of 3M payments here.
CREATE TABLE payments (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id         text COLLATE "C" NOT NULL,
    amount              numeric(14,2) NOT NULL,
    patient_external_id text COLLATE "C" NOT NULL,
    patient_id          bigint, -- patients.id, see above
    created             timestamptz   NOT NULL DEFAULT now(),
    updated             timestamptz   NOT NULL DEFAULT now(),
    deleted             timestamptz,
    CONSTRAINT payments_external_id_key UNIQUE (external_id)
) WITH (fillfactor = 90);

-- Totals recomputation, orphan linking and GET /payments?external_id= (and
-- ?patient_id=, through the patient's external id: no index on patient_id,
-- which would only mirror this one and slow every write).
CREATE INDEX payments_patient_external_id_idx ON payments (patient_external_id, id);

-- One row per sync attempt.
CREATE TABLE sync_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity          text        NOT NULL CHECK (entity IN ('patients', 'payments')),
    source          text        NOT NULL, -- s3://bucket/key or a local path
    etag            text,
    version_id      text,
    sequencer       text,
    last_modified   timestamptz,
    status          text        NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped')),
    started         timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished        timestamptz,
    received        bigint      NOT NULL DEFAULT 0,
    inserted        bigint      NOT NULL DEFAULT 0,
    updated         bigint      NOT NULL DEFAULT 0,
    deleted         bigint      NOT NULL DEFAULT 0,
    restored        bigint      NOT NULL DEFAULT 0,
    unchanged       bigint      NOT NULL DEFAULT 0,
    duplicates      bigint      NOT NULL DEFAULT 0,
    invalid         bigint      NOT NULL DEFAULT 0,
    error           text,
    invalid_records jsonb       -- the first invalid records: [{index, externalId, field, reason}]
);

-- "What was last applied from this key?" for idempotency and ordering.
CREATE INDEX sync_runs_applied_idx ON sync_runs (source, id DESC) WHERE status = 'succeeded';

-- +goose Down
DROP TABLE sync_runs;
DROP TABLE payments;
DROP TABLE patients;
