package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// SyncsPath lists sync runs; SyncsPath/{id} is one run.
const SyncsPath = "/syncs"

// SyncRun is one attempt to apply a snapshot, as sync_runs records it:
// GET /syncs lists them, newest first; GET /syncs/{id} is one.
type SyncRun struct {
	ID     int64  `json:"id"`
	Entity string `json:"entity"`
	// Source is s3://bucket/key, api:<request id> or a local path.
	Source       string     `json:"source"`
	ETag         *string    `json:"etag"`
	VersionID    *string    `json:"versionId"`
	Sequencer    *string    `json:"sequencer"`
	LastModified *time.Time `json:"lastModified"`
	// Status is running, succeeded, failed or skipped; Reason the short
	// code of why it failed or was skipped (malformed, invalid-share,
	// mass-delete, content, object-gone, stale, duplicate, handed-off,
	// transient; null for a succeeded run); Error the message.
	Status   string     `json:"status"`
	Reason   *string    `json:"reason"`
	Error    *string    `json:"error"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished"`

	Received   int64 `json:"received"`
	Inserted   int64 `json:"inserted"`
	Updated    int64 `json:"updated"`
	Deleted    int64 `json:"deleted"`
	Restored   int64 `json:"restored"`
	Unchanged  int64 `json:"unchanged"`
	Duplicates int64 `json:"duplicates"`
	Invalid    int64 `json:"invalid"`
	// InvalidRecords are the first invalid records (at most 100).
	InvalidRecords []snapshot.InvalidRecord `json:"invalidRecords"`

	BytesRead      *int64   `json:"bytesRead"`
	BytesPerSecond *float64 `json:"bytesPerSecond"`
	RowsPerSecond  *float64 `json:"rowsPerSecond"`
}

const syncRunColumns = `id, entity, source, etag, version_id, sequencer, last_modified, status, reason_code, error,
	started, finished, received, inserted, updated, deleted, restored, unchanged, duplicates, invalid,
	coalesce(invalid_records, '[]'::jsonb), bytes_read, bytes_per_second, rows_per_second`

func scanSyncRun(row pgx.CollectableRow) (SyncRun, error) {
	var r SyncRun
	var invalid []byte
	err := row.Scan(&r.ID, &r.Entity, &r.Source, &r.ETag, &r.VersionID, &r.Sequencer, &r.LastModified, &r.Status, &r.Reason, &r.Error,
		&r.Started, &r.Finished, &r.Received, &r.Inserted, &r.Updated, &r.Deleted, &r.Restored, &r.Unchanged, &r.Duplicates, &r.Invalid,
		&invalid, &r.BytesRead, &r.BytesPerSecond, &r.RowsPerSecond)
	if err != nil {
		return r, err
	}
	r.InvalidRecords = []snapshot.InvalidRecord{}
	if err := json.Unmarshal(invalid, &r.InvalidRecords); err != nil {
		return r, fmt.Errorf("invalid_records of run %d: %w", r.ID, err)
	}
	r.Started = r.Started.UTC()
	for _, t := range []*time.Time{r.Finished, r.LastModified} {
		if t != nil {
			*t = t.UTC()
		}
	}
	return r, nil
}

// syncsParams is a validated GET /syncs request.
type syncsParams struct {
	entity, status string // "" for any
	limit          int
	after          int64 // the last id of the previous page; 0 for none
}

var (
	syncEntities = []string{string(snapshot.Patients), string(snapshot.Payments)}
	syncStatuses = []string{"running", "succeeded", "failed", "skipped"}
)

// A page of runs: maxSyncsLimit bounds it (each run may carry 100 invalid
// records).
const (
	defaultSyncsLimit = 20
	maxSyncsLimit     = 100
)

func parseSyncs(q query) (syncsParams, error) {
	p := syncsParams{limit: defaultSyncsLimit}
	for _, f := range []struct {
		name    string
		dst     *string
		allowed []string
	}{{"entity", &p.entity, syncEntities}, {"status", &p.status, syncStatuses}} {
		if v, ok := q.get(f.name); ok {
			if !contains(f.allowed, v) {
				return p, &ParamError{Param: f.name, Detail: fmt.Sprintf("%q is not one of %s", v, strings.Join(f.allowed, ", "))}
			}
			*f.dst = v
		}
	}
	if v, ok := q.get("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || !digitsRe.MatchString(v) || n < 1 || n > maxSyncsLimit {
			return p, &ParamError{Param: "limit", Detail: fmt.Sprintf("%q is not an integer from 1 to %d", v, maxSyncsLimit)}
		}
		p.limit = n
	}
	if c, ok := q.get("cursor"); ok {
		var k paymentKey // an id, like payments'
		if _, err := decodeCursor(c, SyncsPath, p.entity+"|"+p.status, &k); err != nil {
			return p, err
		}
		if k.ID < 1 {
			return p, errBadCursor
		}
		p.after = k.ID
	}
	return p, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// syncs serves GET /syncs: runs newest first, filtered by entity and status.
func (h *Handler) syncs(r *http.Request, q query, _ []byte) (response, error) {
	p, err := parseSyncs(q)
	if err != nil {
		return response{}, err
	}
	b := &sqlBuilder{where: []string{"true"}}
	if p.entity != "" {
		b.and("entity = " + b.arg(p.entity))
	}
	if p.status != "" {
		b.and("status = " + b.arg(p.status))
	}
	if p.after != 0 {
		b.and("id < " + b.arg(p.after) + "::bigint")
	}
	sql := "SELECT " + syncRunColumns + " FROM sync_runs WHERE " + strings.Join(b.where, " AND ") +
		" ORDER BY id DESC LIMIT " + b.arg(p.limit+1)
	var runs []SyncRun
	asOf, err := h.store.run(r.Context(), sql, b.args, func(rows pgx.Rows) error {
		run, err := scanSyncRun(rows)
		runs = append(runs, run)
		return err
	})
	if err != nil {
		return response{}, err
	}
	pg := Page[SyncRun]{Items: runs, Limit: p.limit, AsOf: asOf}
	if len(runs) > p.limit {
		pg.Items = runs[:p.limit]
		cur := encodeCursor(SyncsPath, p.entity+"|"+p.status, 0, paymentKey{ID: pg.Items[p.limit-1].ID})
		next := nextLink(r, cur)
		pg.NextCursor, pg.Next = &cur, &next
	}
	if pg.Items == nil {
		pg.Items = []SyncRun{}
	}
	body, err := json.Marshal(pg)
	if err != nil {
		return response{}, err
	}
	// Runs change without a sync applying anything (running, failed):
	// not cacheable.
	resp := response{body: append(body, '\n'), items: len(pg.Items), cache: noStore}
	if pg.Next != nil {
		resp.next = *pg.Next
	}
	return resp, nil
}

// errNoSuchRun: GET /syncs/{id} of an id that is not there.
var errNoSuchRun = errors.New("no such sync run")

// syncRun serves GET /syncs/{id}.
func (h *Handler) syncRun(r *http.Request, _ query, _ []byte) (response, error) {
	idText := r.PathValue("id")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || !digitsRe.MatchString(idText) || id < 1 {
		return response{}, &ParamError{Param: "id", Detail: fmt.Sprintf("%q is not a sync run id (a positive integer)", idText)}
	}
	run, err := h.store.syncRun(r.Context(), id)
	if err != nil {
		return response{}, err
	}
	return jsonResponse(run)
}

// syncRun reads run id (errNoSuchRun when there is none).
func (s *store) syncRun(ctx context.Context, id int64) (SyncRun, error) {
	var runs []SyncRun
	_, err := s.run(ctx, "SELECT "+syncRunColumns+" FROM sync_runs WHERE id = $1", []any{id}, func(rows pgx.Rows) error {
		run, err := scanSyncRun(rows)
		runs = append(runs, run)
		return err
	})
	if err != nil {
		return SyncRun{}, err
	}
	if len(runs) == 0 {
		return SyncRun{}, fmt.Errorf("%w: %d", errNoSuchRun, id)
	}
	return runs[0], nil
}

// retryAfter estimates when the running sync of entity ends: the mean
// duration of its last five applied runs, less how long it has run;
// between 1 second and Lambda's 15 minutes, 5 seconds when unknown.
func (s *store) retryAfter(ctx context.Context, entity snapshot.Entity) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var secs *float64
	err := s.pool.QueryRow(ctx, `
		SELECT extract(epoch FROM
			(SELECT avg(finished - started) FROM (
				SELECT finished, started FROM sync_runs
				WHERE entity = $1 AND status = 'succeeded' ORDER BY id DESC LIMIT 5) recent)
			- (SELECT now() - started FROM sync_runs
			   WHERE entity = $1 AND status = 'running' ORDER BY id DESC LIMIT 1))::float8`, string(entity)).Scan(&secs)
	if err != nil || secs == nil {
		return 5 * time.Second
	}
	return time.Duration(min(max(*secs, 1), 900)) * time.Second
}

// ping asks the database a trivial question.
func (s *store) ping(ctx context.Context) error {
	var one int
	return s.pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// ListSyncRuns reads the newest runs (entity and status "" for any), as
// GET /syncs does; the CLI's `runs` prints them.
func ListSyncRuns(ctx context.Context, pool *pgxpool.Pool, entity, status string, limit int) ([]SyncRun, error) {
	rows, err := pool.Query(ctx, "SELECT "+syncRunColumns+` FROM sync_runs
		WHERE ($1 = '' OR entity = $1) AND ($2 = '' OR status = $2) ORDER BY id DESC LIMIT $3`, entity, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list sync runs: %w", err)
	}
	return pgx.CollectRows(rows, scanSyncRun)
}
