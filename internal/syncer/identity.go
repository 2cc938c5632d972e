package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Identity is what S3 tells about one version of an object. Local files have none.
type Identity struct {
	ETag         string
	VersionID    string
	Sequencer    string // from the S3 event; orders events of one key
	LastModified time.Time
}

func (id Identity) empty() bool {
	return id.ETag == "" && id.VersionID == "" && id.Sequencer == "" && id.LastModified.IsZero()
}

// mergeIdentity completes what the event said with what the read learned.
func mergeIdentity(event, read Identity) Identity {
	id := event
	if id.ETag == "" {
		id.ETag = read.ETag
	}
	if id.VersionID == "" {
		id.VersionID = read.VersionID
	}
	if id.LastModified.IsZero() {
		id.LastModified = read.LastModified
	}
	return id
}

// queryRower is a connection or a transaction.
type queryRower interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// lastApplied is the identity of the newest succeeded run of source, or nil.
func lastApplied(ctx context.Context, q queryRower, source string) (*Identity, error) {
	var etag, version, seq *string
	var lm *time.Time
	err := q.QueryRow(ctx, `
		SELECT etag, version_id, sequencer, last_modified FROM sync_runs
		WHERE source = $1 AND status = 'succeeded' ORDER BY id DESC LIMIT 1`, source).Scan(&etag, &version, &seq, &lm)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up last applied snapshot: %w", err)
	}
	id := &Identity{ETag: deref(etag), VersionID: deref(version), Sequencer: deref(seq)}
	if lm != nil {
		id.LastModified = *lm
	}
	return id, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// skipReason says why an object with identity id must not be applied after
// last (the newest applied snapshot of the same key), as a reason code and
// a message, or "" to apply it.
func skipReason(id Identity, last *Identity) (code, reason string) {
	if last == nil || id.empty() {
		return "", ""
	}
	if id.Sequencer != "" && last.Sequencer != "" {
		switch c := compareSequencers(id.Sequencer, last.Sequencer); {
		case c < 0:
			return CodeStale, fmt.Sprintf("stale: event sequencer %s is older than the applied %s", id.Sequencer, last.Sequencer)
		case c == 0:
			return CodeDuplicate, "duplicate event: sequencer " + id.Sequencer + " was already applied"
		}
	}
	if id.ETag != "" && unquote(id.ETag) == unquote(last.ETag) && id.VersionID == last.VersionID {
		return CodeDuplicate, "identical to the last applied snapshot (same ETag and version)"
	}
	if id.Sequencer == "" && !id.LastModified.IsZero() && !last.LastModified.IsZero() && id.LastModified.Before(last.LastModified) {
		return CodeStale, fmt.Sprintf("stale: object last modified %s, before the applied %s",
			id.LastModified.UTC().Format(time.RFC3339), last.LastModified.UTC().Format(time.RFC3339))
	}
	return "", ""
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }

// compareSequencers orders two S3 event sequencers of one key: hex strings
// compared after left-padding the shorter with zeros.
func compareSequencers(a, b string) int {
	a, b = strings.ToUpper(a), strings.ToUpper(b)
	for len(a) < len(b) {
		a = "0" + a
	}
	for len(b) < len(a) {
		b = "0" + b
	}
	return strings.Compare(a, b)
}
