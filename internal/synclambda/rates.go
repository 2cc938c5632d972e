package synclambda

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
)

// What Decide reads from sync_runs (migration 00003 records bytes_read and
// bytes_per_second for every run).

// recentRatesSQL: bytes/s of the entity's newest succeeded runs that read
// at least $2 bytes of an object compressed like this one ($3: its key ends
// in .gz), newest first, at most $4. (Runs on the ECS runner count too:
// same code and database, more CPU; the safety factor covers that.)
const recentRatesSQL = `
	SELECT bytes_per_second FROM sync_runs
	WHERE entity = $1 AND status = 'succeeded'
	  AND bytes_read >= $2 AND bytes_per_second > 0
	  AND (source LIKE '%.gz') = $3
	ORDER BY id DESC
	LIMIT $4`

// recentRates runs recentRatesSQL for the object named source.
func recentRates(ctx context.Context, pool *pgxpool.Pool, entity snapshot.Entity, source string) ([]float64, error) {
	rows, err := pool.Query(ctx, recentRatesSQL, string(entity), int64(MinHistoryBytes), isGzip(source), HistoryRuns)
	if err != nil {
		return nil, fmt.Errorf("read recent sync rates: %w", err)
	}
	rates, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, fmt.Errorf("read recent sync rates: %w", err)
	}
	return rates, nil
}

func isGzip(source string) bool { return strings.HasSuffix(source, ".gz") }

// handOffPrefix starts the reason of every run the sync Lambda records
// when it hands a snapshot to the ECS runner (runnerBusySQL looks for it).
const handOffPrefix = "handed to the ECS runner: "

// runnerBusySQL: whether the entity's live run ('running') is the ECS
// runner's, i.e. follows a hand-off of the same object (same key, and the
// same S3 sequencer or version). Such a run may hold the entity's lock for
// far longer than a Lambda can wait. A run whose process died stays
// 'running' until the next sync of the entity settles it: until then
// snapshots of the entity are handed off, and the runner settles it.
const runnerBusySQL = `
	SELECT EXISTS (
		SELECT 1 FROM sync_runs r JOIN sync_runs h
		  ON h.source = r.source AND (h.sequencer = r.sequencer OR h.version_id = r.version_id)
		WHERE r.entity = $1 AND r.status = 'running'
		  AND h.status = 'skipped' AND h.id < r.id AND starts_with(h.error, $2))`

func runnerBusy(ctx context.Context, pool *pgxpool.Pool, entity snapshot.Entity) (bool, error) {
	var busy bool
	if err := pool.QueryRow(ctx, runnerBusySQL, string(entity), handOffPrefix).Scan(&busy); err != nil {
		return false, fmt.Errorf("look for a runner sync of %s: %w", entity, err)
	}
	return busy, nil
}

// handledSQL: the newest run that applied this very object (same key, and
// the same S3 sequencer, or version and ETag) or handed it to the runner.
// An event S3 delivers twice, or a retried invocation whose first record
// was handed off before another one failed, must not start a second task.
const handledSQL = `
	SELECT id, status = 'succeeded' FROM sync_runs
	WHERE source = $1
	  AND (sequencer = $2 OR (version_id = $3 AND etag = $4))
	  AND (status = 'succeeded' OR (status = 'skipped' AND starts_with(error, $5)))
	ORDER BY id DESC
	LIMIT 1`

// handledBefore is the reason to skip obj instead of handing it off, or "".
func handledBefore(ctx context.Context, pool *pgxpool.Pool, obj syncer.Object) (string, error) {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var id int64
	var applied bool
	err := pool.QueryRow(ctx, handledSQL, obj.Source, null(obj.Identity.Sequencer), null(obj.Identity.VersionID),
		null(strings.Trim(obj.Identity.ETag, `"`)), handOffPrefix).Scan(&id, &applied)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("look for an earlier hand-off of %s: %w", obj.Source, err)
	case applied:
		return fmt.Sprintf("duplicate event: already applied by run %d", id), nil
	}
	return fmt.Sprintf("duplicate event: already handed to the ECS runner by run %d", id), nil
}
