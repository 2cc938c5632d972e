//go:build unix

package migratelambda_test

// The migrate function's real binary under AWS's Lambda runtime interface
// emulator, sent the sample CloudFormation events of events/, answering on
// their ResponseURL as it would on CloudFormation's presigned S3 URL.

import (
	"context"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3/lock"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/localaws/rie"
	"github.com/patientsync/patientsync/internal/testutil"
	"github.com/patientsync/patientsync/migrations"
)

var (
	buildDir  string // the migrate function is built once, here
	buildOnce sync.Once
	bootstrap string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "patientsync-migratelambda-")
	if err != nil {
		panic(err)
	}
	buildDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startMigrate runs functions/migrate under the emulator with the given
// environment and function timeout.
func startMigrate(t *testing.T, env map[string]string, timeout time.Duration) (*rie.Function, *testutil.LogBuffer) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the migrate function and runs it under the emulator")
	}
	emulator := testutil.RIE(t)
	buildOnce.Do(func() {
		bootstrap = testutil.BuildFunction(t, "./functions/migrate", buildDir)
	})
	if bootstrap == "" {
		t.Fatal("the migrate function did not build (see the first test that tried)")
	}
	logs := &testutil.LogBuffer{}
	f, err := rie.Start(context.Background(), rie.Config{
		Name: "migrate", RIE: emulator, Bootstrap: bootstrap, Env: env, Timeout: timeout, Logs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			t.Logf("function output:\n%s", logs.String())
		}
	})
	return f, logs
}

// invoke sends a sample event to the function, which must end normally
// (an invocation error would make Lambda invoke it again), and returns
// its answer to CloudFormation and how long it took.
func invoke(t *testing.T, f *rie.Function, c *cloudFormation, file string) (cfn.Response, time.Duration) {
	t.Helper()
	e, payload := c.event(t, file)
	start := time.Now()
	if _, err := f.Invoke(context.Background(), payload); err != nil {
		t.Fatalf("%s: the invocation failed (CloudFormation may have no answer): %v", file, err)
	}
	return c.answer(t, e), time.Since(start)
}

// emptyDB is a new database without any table.
func emptyDB(t *testing.T) string {
	t.Helper()
	url := testutil.MissingDBURL(t)
	if err := db.EnsureDatabase(context.Background(), url); err != nil {
		t.Fatal(err)
	}
	return url
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// embedded lists the migration files this build carries and the newest
// version among them, read from the file names as goose reads them.
func embedded(t *testing.T) ([]string, int64) {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v %v", names, err)
	}
	slices.Sort(names)
	last := names[len(names)-1]
	v, err := strconv.ParseInt(last[:strings.IndexByte(last, '_')], 10, 64)
	if err != nil {
		t.Fatalf("migration %s: %v", last, err)
	}
	return names, v
}

func schemaVersion(t *testing.T, conn *pgx.Conn) int64 {
	t.Helper()
	var v int64
	if err := conn.QueryRow(context.Background(), "SELECT coalesce(max(version_id), 0) FROM goose_db_version").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tablesExist(t *testing.T, conn *pgx.Conn, names ...string) bool {
	t.Helper()
	for _, n := range names {
		var ok bool
		if err := conn.QueryRow(context.Background(), "SELECT to_regclass($1) IS NOT NULL", n).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if !ok {
			return false
		}
	}
	return true
}

// TestCreateUpdateDelete: the lifecycle of the stack's schema.
func TestCreateUpdateDelete(t *testing.T) {
	t.Parallel()
	url := emptyDB(t)
	c := newCloudFormation(t)
	f, logs := startMigrate(t, map[string]string{"DATABASE_URL": url}, 60*time.Second)
	conn := connect(t, url)
	files, latest := embedded(t)

	// Create on an empty database: every migration, the schema current.
	r, _ := invoke(t, f, c, "migrate-create.json")
	if r.Status != cfn.StatusSuccess {
		t.Fatalf("create: %+v", r)
	}
	if v := schemaVersion(t, conn); v != latest {
		t.Errorf("goose version %d after create, want the newest migration %d", v, latest)
	}
	want := map[string]any{"SchemaVersion": strconv.FormatInt(latest, 10), "Applied": strings.Join(files, ","), "AppliedCount": strconv.Itoa(len(files))}
	if !mapsEqual(r.Data, want) {
		t.Errorf("create data %v, want %v", r.Data, want)
	}
	if !tablesExist(t, conn, "patients", "payments", "sync_runs") {
		t.Fatal("tables missing after create")
	}
	if _, err := conn.Exec(context.Background(), `INSERT INTO patients (external_id, first_name, last_name, date_of_birth) VALUES ('p1', 'Ada', 'L', '1815-12-10')`); err != nil {
		t.Fatal(err)
	}

	// Update (a new build): nothing left to apply.
	r, _ = invoke(t, f, c, "migrate-update.json")
	want = map[string]any{"SchemaVersion": strconv.FormatInt(latest, 10), "Applied": "", "AppliedCount": "0"}
	if r.Status != cfn.StatusSuccess || !mapsEqual(r.Data, want) {
		t.Errorf("update: %+v, want SUCCESS with %v", r, want)
	}

	// Delete (the stack goes, or the resource is replaced): the schema and
	// its rows stay.
	r, _ = invoke(t, f, c, "migrate-delete.json")
	if r.Status != cfn.StatusSuccess {
		t.Errorf("delete: %+v", r)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM patients").Scan(&n); err != nil || n != 1 {
		t.Errorf("after delete: %d patients (%v), want the 1 row still there", n, err)
	}
	if !tablesExist(t, conn, "patients", "payments", "sync_runs") || schemaVersion(t, conn) != latest {
		t.Error("delete changed the schema")
	}

	// The function logs JSON lines (slog), one per answer at least.
	var answered int
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(strings.TrimPrefix(line, "[migrate] ")), &rec) == nil && rec.Msg == "migrate: answering SUCCESS" && rec.Level == "INFO" {
			answered++
		}
	}
	if answered != 3 {
		t.Errorf("%d JSON log lines answering SUCCESS, want 3:\n%s", answered, logs.String())
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "REPORT RequestId") {
			t.Log(line) // the function's peak memory, for MemorySize
		}
	}
}

func mapsEqual(got map[string]any, want map[string]any) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// TestFailedMigration: the reason names the migration file and what the
// database said, and the failed migration leaves nothing behind.
func TestFailedMigration(t *testing.T) {
	t.Parallel()
	url := emptyDB(t)
	conn := connect(t, url)
	// A table made by hand, in the way of the first migration.
	if _, err := conn.Exec(context.Background(), "CREATE TABLE patients (id int)"); err != nil {
		t.Fatal(err)
	}
	f, _ := startMigrate(t, map[string]string{"DATABASE_URL": url}, 60*time.Second)
	r, _ := invoke(t, f, newCloudFormation(t), "migrate-create.json")
	if r.Status != cfn.StatusFailed {
		t.Fatalf("create over a conflicting table: %+v, want FAILED", r)
	}
	t.Logf("reason: %s", r.Reason)
	for _, want := range []string{"migration 00001_schema.sql failed", `relation "patients" already exists`, "SQLSTATE 42P07"} {
		if !strings.Contains(r.Reason, want) {
			t.Errorf("reason %q lacks %q", r.Reason, want)
		}
	}
	if v := schemaVersion(t, conn); v != 0 || tablesExist(t, conn, "payments") {
		t.Errorf("after the failed migration: version %d, payments exists %v; want 0 and no (rolled back)", v, tablesExist(t, conn, "payments"))
	}
}

// TestRefusedDatabase: nothing listens where the database should be. The
// answer is FAILED, at once, naming the problem; a Delete still succeeds.
func TestRefusedDatabase(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	f, _ := startMigrate(t, map[string]string{"DATABASE_URL": "postgres://postgres@" + addr + "/patientsync?sslmode=disable"}, 30*time.Second)
	c := newCloudFormation(t)
	r, took := invoke(t, f, c, "migrate-create.json")
	if r.Status != cfn.StatusFailed || !strings.Contains(r.Reason, "connect to database 127.0.0.1") || !strings.Contains(r.Reason, "refused") {
		t.Fatalf("create: %+v, want FAILED naming the refused connection", r)
	}
	t.Logf("answered in %s: %s", took.Round(time.Millisecond), r.Reason)
	if took > 15*time.Second {
		t.Errorf("a refused connection took %s to answer", took)
	}
	if r, _ := invoke(t, f, c, "migrate-delete.json"); r.Status != cfn.StatusSuccess {
		t.Errorf("delete with the database down: %+v, want SUCCESS", r)
	}
}

// TestSilentDatabase: the database accepts connections and never answers
// (a security group that drops, a hung proxy). The function must answer
// FAILED before its own timeout ends it; otherwise CloudFormation would
// wait for the custom resource's ServiceTimeout.
func TestSilentDatabase(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	const timeout = 6 * time.Second
	f, _ := startMigrate(t, map[string]string{"DATABASE_URL": "postgres://postgres@" + l.Addr().String() + "/patientsync?sslmode=disable"}, timeout)
	r, took := invoke(t, f, newCloudFormation(t), "migrate-create.json")
	if r.Status != cfn.StatusFailed || !strings.Contains(r.Reason, "before the function's deadline") || !strings.Contains(r.Reason, "connect to database") {
		t.Fatalf("create: %+v, want FAILED: out of time connecting", r)
	}
	t.Logf("answered in %s: %s", took.Round(time.Millisecond), r.Reason)
	if took >= timeout {
		t.Errorf("answered after %s, the function's timeout is %s", took, timeout)
	}
}

// TestMigrationLockHeld: another migrator (a concurrent deploy,
// `patientsync migrate`) holds goose's lock for longer than the function
// may run: the function waits for it, then answers FAILED in time; once
// the lock is free it migrates.
func TestMigrationLockHeld(t *testing.T) {
	t.Parallel()
	url := emptyDB(t)
	holder := connect(t, url) // advisory locks belong to one database
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_lock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	const timeout = 8 * time.Second
	f, _ := startMigrate(t, map[string]string{"DATABASE_URL": url}, timeout)
	c := newCloudFormation(t)
	r, took := invoke(t, f, c, "migrate-create.json")
	if r.Status != cfn.StatusFailed || !strings.Contains(r.Reason, "before the function's deadline") ||
		!strings.Contains(r.Reason, "the migration lock is held by another session (pid ") {
		t.Fatalf("create while the lock is held: %+v, want FAILED: out of time waiting for the lock", r)
	}
	t.Logf("answered in %s: %s", took.Round(time.Millisecond), r.Reason)
	if took >= timeout {
		t.Errorf("answered after %s, the function's timeout is %s", took, timeout)
	}
	if _, err := holder.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lock.DefaultLockID); err != nil {
		t.Fatal(err)
	}
	// CloudFormation's next attempt (a new deploy) finds the lock free.
	r, _ = invoke(t, f, c, "migrate-update.json")
	_, latest := embedded(t)
	if r.Status != cfn.StatusSuccess || r.Data["SchemaVersion"] != strconv.FormatInt(latest, 10) {
		t.Fatalf("update after the lock was released: %+v", r)
	}
}

// TestGivesWayToTableLocks: a long transaction (a sync) holds a table the
// migrations need. The function does not queue behind it indefinitely,
// which would stall every reader of the table, but gives up the wait after
// a moment and tries again, and succeeds once the lock is gone.
func TestGivesWayToTableLocks(t *testing.T) {
	t.Parallel()
	url := testutil.NewDB(t) // migrated: goose reads its version table first
	f, logs := startMigrate(t, map[string]string{"DATABASE_URL": url}, 60*time.Second)
	ctx := context.Background()
	tx, err := connect(t, url).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE goose_db_version IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	const held = 3 * time.Second
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(held)
		_ = tx.Rollback(ctx)
	}()
	t.Cleanup(func() { <-released })

	r, took := invoke(t, f, newCloudFormation(t), "migrate-update.json")
	if r.Status != cfn.StatusSuccess || r.Data["AppliedCount"] != "0" {
		t.Fatalf("update while a table lock was held for %s: %+v", held, r)
	}
	if !strings.Contains(logs.String(), "a table lock is held elsewhere; trying again") || !strings.Contains(logs.String(), "SQLSTATE 55P03") {
		t.Errorf("the function did not give way to the lock (no lock_timeout and retry in its log):\n%s", logs.String())
	}
	if took < held {
		t.Errorf("answered in %s, before the lock was released after %s", took, held)
	}
	t.Logf("answered in %s", took.Round(time.Millisecond))
}
