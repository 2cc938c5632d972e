package testutil

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/migrations"
)

// AdminURL is the server the test databases are created on
// (TEST_DATABASE_URL, default the local server's postgres database).
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDB creates a migrated database for one test, returns its URL, and
// drops it when the test ends. It is a copy of a template database that is
// migrated once per set of migrations (and kept on the server for the next
// run), which is much faster than migrating every test's database.
func NewDB(t testing.TB) string {
	t.Helper()
	tmpl, err := template()
	if err != nil {
		t.Fatalf("testutil: %v (is PostgreSQL running? see README)", err)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("testutil: connect to %s: %v (is PostgreSQL running? see README)", AdminURL(), err)
	}
	defer admin.Close(ctx)
	name := "patientsync_test_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl); err != nil {
		t.Fatalf("testutil: create database: %v", err)
	}
	t.Cleanup(func() { DropDB(t, name) })
	return dbURL(t, name)
}

// DBPool opens a pool on a new test database, closed when the test ends.
func DBPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	url := NewDB(t)
	pool, err := db.Open(context.Background(), url, db.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("testutil: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, url
}

// MissingDBURL is the URL of a database on the test server that does not
// exist yet, for tests of what creates it; it is dropped when the test ends.
func MissingDBURL(t testing.TB) string {
	t.Helper()
	name := "patientsync_test_" + randomHex(6)
	t.Cleanup(func() { DropDB(t, name) })
	return dbURL(t, name)
}

// DropDB drops database name, logging rather than failing.
func DropDB(t testing.TB, name string) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Logf("testutil: drop %s: %v", name, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("testutil: drop %s: %v", name, err)
	}
}

// Seed applies snapshot files with the real sync engine and its default
// configuration.
func Seed(t testing.TB, pool *pgxpool.Pool, files ...string) {
	t.Helper()
	s, err := syncer.New(pool, syncer.DefaultConfig(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		res, err := s.SyncFile(context.Background(), f)
		if err != nil {
			t.Fatalf("sync %s: %v", f, err)
		}
		if res.Status != syncer.StatusSucceeded {
			t.Fatalf("sync %s: status %s (%s)", f, res.Status, res.Reason)
		}
	}
}

func dbURL(t testing.TB, name string) string {
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("testutil: TEST_DATABASE_URL must be a postgres:// URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// template returns the name of the migrated template database, creating it
// when this set of migrations has none yet.
func template() (string, error) {
	templateOnce.Do(func() {
		templateName, templateErr = ensureTemplate(context.Background())
	})
	return templateName, templateErr
}

func ensureTemplate(ctx context.Context) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	name := "patientsync_template_" + sum[:12]
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", AdminURL(), err)
	}
	defer admin.Close(ctx)
	// Test binaries run in parallel: one builds, the others wait for it.
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock(hashtext('patientsync test template'))"); err != nil {
		return "", err
	}
	defer func() {
		_, _ = admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(hashtext('patientsync test template'))")
	}()

	var ready bool
	err = admin.QueryRow(ctx, "SELECT datistemplate FROM pg_database WHERE datname = $1", name).Scan(&ready)
	if err == nil && ready {
		return name, nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	// A half-built template of ours goes, and so do the templates of other
	// migrations that nobody built for a day: another checkout may be
	// testing with its own right now.
	rows, err := admin.Query(ctx, `
		SELECT d.datname FROM pg_database d LEFT JOIN pg_shdescription c ON c.objoid = d.oid
		WHERE d.datname LIKE 'patientsync\_template\_%'
		  AND (d.datname = $1 OR coalesce(c.description, '0')::bigint < extract(epoch FROM now() - interval '1 day'))`, name)
	if err != nil {
		return "", err
	}
	old, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for _, o := range old {
		id := pgx.Identifier{o}.Sanitize()
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+id+" IS_TEMPLATE false"); err != nil {
			return "", err
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE "+id+" WITH (FORCE)"); err != nil {
			return "", err
		}
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create template database: %w", err)
	}
	u, err := url.Parse(AdminURL())
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	pool, err := db.Open(ctx, u.String(), db.Options{MaxConns: 1})
	if err != nil {
		return "", err
	}
	_, err = db.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	// The mark of a finished template: only now may tests copy it. The
	// comment says when it was built.
	if _, err := admin.Exec(ctx, fmt.Sprintf("COMMENT ON DATABASE %s IS '%d'", name, time.Now().Unix())); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, "ALTER DATABASE "+name+" IS_TEMPLATE true"); err != nil {
		return "", err
	}
	return name, nil
}

// migrationsHash identifies the schema the migrations build.
func migrationsHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := migrations.FS.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00", path)
		_, err = io.Copy(h, f)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), err
}
