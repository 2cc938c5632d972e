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
// Lambda records it and does not retry.
var ErrRejected = errors.New("snapshot rejected")

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
	return fmt.Errorf("%w: the database refused the snapshot's content: %w%s", ErrRejected, err, detail)
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
