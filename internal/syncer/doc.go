// Package syncer applies one snapshot of one entity to PostgreSQL, in one
// transaction, writing only what changed.
//
// A sync, in the order it runs (each step in its own file):
//
//   - syncer.go: Sync acquires a connection, records the attempt in
//     sync_runs (runs.go) and skips events already applied or older than the
//     applied one (identity.go);
//   - apply.go: the transaction: session limits, the entity's advisory lock,
//     opening the body, staging or diffing, merging, recording the outcome,
//     commit;
//   - records.go: the body is decoded record by record (invalid records
//     counted, the content fingerprinted: content.go);
//   - stage.go, copy.go: a first load streams the records with COPY into a
//     staging table, from which the tables are built (bulk.go); a first
//     load of payments also sums them per patient as they pass (totals.go);
//   - diff.go: every other sync compares the records with the table's rows
//     in this process, both partitioned to local disk by id hash, and copies
//     only the differences into the changes table;
//   - merge.go: only the differences are written (insert, update, restore,
//     soft-delete), behind the invalid-share and mass-deletion guards;
//   - patients.go, payments.go: everything that differs between the two
//     entities, each described once: staging and changes columns, the
//     export of the table for the diff, the SQL of every merge step, the
//     lock, what follows the merge (links and totals).
//
// Errors wrapping ErrRejected are permanent (the snapshot itself is
// unusable); any other error is transient and the same object may be
// retried.
package syncer
