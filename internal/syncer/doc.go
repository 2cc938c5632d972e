// Package syncer applies one snapshot of one entity to PostgreSQL, in one
// transaction, writing only what changed.
//
// A sync, in the order it runs (each step in its own file):
//
//   - syncer.go: Sync acquires a connection, records the attempt in
//     sync_runs (runs.go) and skips events already applied or older than the
//     applied one (identity.go);
//   - apply.go: the transaction: session limits, the entity's advisory lock,
//     opening the body, staging, merging, recording the outcome, commit;
//   - stage.go: the body is decoded record by record and streamed with COPY
//     into a temporary staging table;
//   - merge.go: the staging table is diffed against the target table and
//     only the differences are written (insert, update, restore,
//     soft-delete), behind the invalid-share and mass-deletion guards;
//   - patients.go, payments.go: everything that differs between the two
//     entities, each described once: staging columns, the SQL of every
//     merge step, the lock, what follows the merge (links and totals).
//
// Errors wrapping ErrRejected are permanent (the snapshot itself is
// unusable); any other error is transient and the same object may be
// retried.
package syncer
