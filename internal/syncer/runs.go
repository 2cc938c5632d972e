package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Everything that writes sync_runs is here. A run's row is inserted when the
// attempt starts (or directly as skipped), and updated with its outcome:
// inside the sync's transaction on success, so that the data and the record
// of having applied it commit together, and on its own after a failure.

// runColumns are the sync_runs columns a Result fills, in runValues' order.
var runColumns = []string{
	"entity", "source", "etag", "version_id", "sequencer", "last_modified", "status", "error",
	"received", "inserted", "updated", "deleted", "restored", "unchanged", "duplicates", "invalid", "invalid_records",
	"bytes_read", "bytes_per_second", "rows_per_second", "content_hash", "reason_code",
}

// runValues are r's values for runColumns.
func runValues(r *Result) []any {
	return []any{
		string(r.Entity), r.Source, nullString(r.Identity.ETag), nullString(r.Identity.VersionID),
		nullString(r.Identity.Sequencer), nullTime(r.Identity.LastModified), r.Status, nullString(truncateText(r.Reason, maxErrorBytes)),
		r.Received, r.Inserted, r.Updated, r.Deleted, r.Restored, r.Unchanged, r.Duplicates, r.Invalid,
		invalidRecordsJSON(r.InvalidRecords),
		nullInt(r.BytesRead), rate(r.BytesRead, r), rate(r.Received, r), nullString(r.ContentHash), nullString(r.Code),
	}
}

// rate is n per second of the run, when both are known.
func rate(n int64, r *Result) any {
	secs := r.Finished.Sub(r.Started).Seconds()
	if n <= 0 || r.Finished.IsZero() || secs <= 0 {
		return nil
	}
	return float64(n) / secs
}

func nullInt(n int64) any {
	if n <= 0 {
		return nil
	}
	return n
}

// finishedSQL stamps the end of a run whose status ($7) is final.
const finishedSQL = "CASE WHEN $7 = 'running' THEN NULL ELSE clock_timestamp() END"

var (
	// INSERT INTO sync_runs (entity, ..., finished) VALUES ($1, ..., CASE ...) RETURNING id
	insertRunSQL = "INSERT INTO sync_runs (" + strings.Join(runColumns, ", ") + ", finished) VALUES (" +
		placeholders(1, len(runColumns)) + ", " + finishedSQL + ") RETURNING id"
	// UPDATE sync_runs SET (entity, ..., finished) = ($1, ..., CASE ...) WHERE id = $N
	updateRunSQL = "UPDATE sync_runs SET (" + strings.Join(runColumns, ", ") + ", finished) = (" +
		placeholders(1, len(runColumns)) + ", " + finishedSQL + ") WHERE id = $" + strconv.Itoa(len(runColumns)+1)
)

func placeholders(from, n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = "$" + strconv.Itoa(from+i)
	}
	return strings.Join(p, ", ")
}

type execer interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}

// startRun settles the entity's runs left 'running' by processes that
// died, and records r as running. The caller holds the entity's lock, which
// every live run holds: any other running row of the entity is dead.
func startRun(ctx context.Context, conn *pgxpool.Conn, r *Result) (settled int64, err error) {
	r.Status = StatusRunning
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE sync_runs SET status = 'failed', finished = clock_timestamp(),
			       error = 'abandoned: the process ended without finishing (found by the next ' || entity || ' sync)'
			WHERE entity = $1 AND status = 'running'`, string(r.Entity))
		if err != nil {
			return fmt.Errorf("settle abandoned runs: %w", err)
		}
		settled = tag.RowsAffected()
		return insertRun(ctx, tx, r)
	})
	return settled, err
}

// insertRun records a new attempt and sets r.ID.
func insertRun(ctx context.Context, q queryRower, r *Result) error {
	if err := q.QueryRow(ctx, insertRunSQL, runValues(r)...).Scan(&r.ID); err != nil {
		return fmt.Errorf("record sync run: %w", err)
	}
	return nil
}

// RecordSkipped records obj as a run skipped for reason, without reading
// it and without taking the entity's lock: the sync Lambda records so a
// snapshot it handed to the ECS runner, whose own run of it follows.
func (s *Syncer) RecordSkipped(ctx context.Context, obj Object, code, reason string) (Result, error) {
	now := time.Now()
	res := Result{Entity: obj.Entity, Source: obj.Source, Identity: obj.Identity,
		Status: StatusSkipped, Code: code, Reason: reason, Started: now, Finished: now}
	if err := insertRun(ctx, s.pool, &res); err != nil {
		return res, err
	}
	s.log.Info("sync skipped", "entity", obj.Entity, "source", obj.Source, "reason", reason, "run_id", res.ID)
	return res, nil
}

// updateRun records r's outcome in its row.
func updateRun(ctx context.Context, q execer, r *Result) error {
	if _, err := q.Exec(ctx, updateRunSQL, append(runValues(r), r.ID)...); err != nil {
		return fmt.Errorf("record sync outcome: %w", err)
	}
	return nil
}

func invalidRecordsJSON(p []snapshot.InvalidRecord) any {
	if len(p) == 0 {
		return nil
	}
	b, _ := json.Marshal(p)
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
