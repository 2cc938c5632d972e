package syncer

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrRejected marks a permanent failure: the snapshot itself is unusable
// (malformed, too many invalid records, mass deletion, stale, or content
// the database refuses). Retrying the same object cannot succeed, so the
// Lambda records it and does not retry. Such errors carry a reason code
// (Code).
var ErrRejected = errors.New("snapshot rejected")

// ErrBusy: another sync of the entity held its lock longer than the lock
// timeout. Transient: the same snapshot can be applied once it is done.
var ErrBusy = errors.New("another sync of this entity is running")

// pgCode is err's SQLSTATE, or "".
func pgCode(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// Reason codes: why a run was rejected or skipped, short and stable, for
// sync_runs.reason, S3 tags and metric dimensions.
const (
	CodeMalformed    = "malformed"     // not one complete JSON array (or bad gzip)
	CodeInvalidShare = "invalid-share" // too many invalid records
	CodeMassDelete   = "mass-delete"   // the mass-deletion guard
	CodeContent      = "content"       // the database refused the content
	CodeObjectGone   = "object-gone"   // the object the event names is gone or replaced
	CodeStale        = "stale"         // older than the snapshot already applied
	CodeDuplicate    = "duplicate"     // this very object was already applied
	CodeHandedOff    = "handed-off"    // given to the ECS runner
	CodeTransient    = "transient"     // failed for now; to be retried
)

// rejection is a permanent failure with its reason code.
type rejection struct {
	code string
	err  error
}

func (r *rejection) Error() string { return r.err.Error() }

func (r *rejection) Unwrap() []error { return []error{ErrRejected, r.err} }

// Reject makes err a permanent rejection for the reason code.
func Reject(code string, err error) error { return &rejection{code: code, err: err} }

// Rejectf is Reject with a formatted error; its message starts "snapshot
// rejected: ".
func Rejectf(code, format string, args ...any) error {
	return Reject(code, fmt.Errorf("%w: "+format, append([]any{ErrRejected}, args...)...))
}

// Code is the reason code of a rejection, or "".
func Code(err error) string {
	var r *rejection
	if errors.As(err, &r) {
		return r.code
	}
	return ""
}

// classify makes an error that the snapshot's content caused permanent.
// Only the content can raise these SQLSTATE classes in a sync: 22 (data
// exception: a value out of range, an invalid encoding), 23 (integrity
// constraint violation) and 54 (program limit exceeded: an index entry too
// large). Everything else (connections, timeouts, deadlocks, resources)
// stays transient.
func classify(err error) error {
	var pg *pgconn.PgError
	if errors.Is(err, ErrRejected) || !errors.As(err, &pg) {
		return err
	}
	switch pg.Code[:2] {
	case "22", "23", "54":
	default:
		return err
	}
	detail := ""
	if pg.Detail != "" {
		detail = " (" + pg.Detail + ")"
	}
	return Rejectf(CodeContent, "the database refused the snapshot's content: %w%s", err, detail)
}

// maxErrorBytes bounds the error text stored in sync_runs: a database
// message may quote a whole row.
const maxErrorBytes = 2000

// truncateText cuts s to at most n bytes, on a character boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
