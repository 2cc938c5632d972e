package migratelambda_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/patientsync/patientsync/internal/migratelambda"
	"github.com/patientsync/patientsync/internal/testutil"
)

// cloudFormation stands in for the presigned S3 URL a custom resource
// answers on: it records every PUT, by path.
type cloudFormation struct {
	srv *httptest.Server
	mu  sync.Mutex
	got map[string][][]byte
}

func newCloudFormation(t *testing.T) *cloudFormation {
	t.Helper()
	c := &cloudFormation{got: map[string][][]byte{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || r.Method != http.MethodPut {
			http.Error(w, "want a PUT", http.StatusBadRequest)
			return
		}
		// S3 refuses a Content-Type the URL was not signed with.
		if ct := r.Header.Get("Content-Type"); ct != "" {
			http.Error(w, "unsigned Content-Type "+ct, http.StatusForbidden)
			return
		}
		c.mu.Lock()
		c.got[r.URL.Path] = append(c.got[r.URL.Path], body)
		c.mu.Unlock()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// event reads a sample event from events/ and points its ResponseURL here,
// at a path of its own.
func (c *cloudFormation) event(t *testing.T, file string) (cfn.Event, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "events", file))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	raw["ResponseURL"] = c.srv.URL + "/" + strings.TrimSuffix(file, ".json") + "/" + t.Name()
	payload, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var e cfn.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		t.Fatal(err)
	}
	return e, payload
}

// answer is the one response sent for e, decoded.
func (c *cloudFormation) answer(t *testing.T, e cfn.Event) cfn.Response {
	t.Helper()
	c.mu.Lock()
	bodies := c.got[strings.TrimPrefix(e.ResponseURL, c.srv.URL)]
	c.mu.Unlock()
	if len(bodies) != 1 {
		t.Fatalf("%d answers to CloudFormation for %s, want 1", len(bodies), e.RequestType)
	}
	if len(bodies[0]) > 4096 {
		t.Errorf("answer of %d bytes: CloudFormation takes at most 4096", len(bodies[0]))
	}
	var r cfn.Response
	if err := json.Unmarshal(bodies[0], &r); err != nil {
		t.Fatalf("answer %s: %v", bodies[0], err)
	}
	if r.RequestID != e.RequestID || r.StackID != e.StackID || r.LogicalResourceID != e.LogicalResourceID {
		t.Errorf("answer %+v does not echo the request's ids", r)
	}
	if r.PhysicalResourceID != migratelambda.PhysicalResourceID {
		t.Errorf("PhysicalResourceId %q, want %q always (another one is a replacement)", r.PhysicalResourceID, migratelambda.PhysicalResourceID)
	}
	return r
}

// handle runs an event through the handler in this process, wrapped as
// functions/migrate wraps it.
func handle(t *testing.T, c *cloudFormation, file string, getenv func(string) string) cfn.Response {
	t.Helper()
	e, _ := c.event(t, file)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := migratelambda.New(getenv, slog.New(slog.DiscardHandler))
	if _, err := cfn.LambdaWrap(h.Handle)(ctx, e); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return c.answer(t, e)
}

func noEnv(string) string { return "" }

func TestDeleteNeverTouchesTheDatabase(t *testing.T) {
	t.Parallel()
	// No database setting at all: a Delete must succeed anyway (a stack
	// whose database is gone must still delete) and drop nothing.
	r := handle(t, newCloudFormation(t), "migrate-delete.json", noEnv)
	if r.Status != cfn.StatusSuccess || len(r.Data) != 0 {
		t.Fatalf("delete: %+v, want SUCCESS without data", r)
	}
}

func TestRollbackLeavesTheSchema(t *testing.T) {
	t.Parallel()
	c := newCloudFormation(t)
	r := handle(t, c, "migrate-update-rollback.json", noEnv)
	if r.Status != cfn.StatusSuccess || r.Data["Skipped"] != "rollback" {
		t.Fatalf("rollback update: %+v, want SUCCESS without migrating", r)
	}
	// A forward update does migrate: without a database it fails, naming
	// what is missing.
	r = handle(t, c, "migrate-update.json", noEnv)
	if r.Status != cfn.StatusFailed || !strings.Contains(r.Reason, "DATABASE_URL or DATABASE_SECRET_ARN") {
		t.Fatalf("update without a database: %+v, want FAILED naming the settings", r)
	}
}

func TestPanicAnswersFailed(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("é", 5000) // 10,000 bytes
	r := handle(t, newCloudFormation(t), "migrate-create.json", func(string) string { panic("boom " + huge) })
	if r.Status != cfn.StatusFailed || !strings.Contains(r.Reason, "panicked: boom") {
		t.Fatalf("panic: %+v, want FAILED with the panic's value", r)
	}
	if len(r.Reason) > migratelambda.MaxReason || !strings.HasSuffix(r.Reason, "[...]") || strings.ContainsRune(r.Reason, utf8.RuneError) {
		t.Errorf("reason of %d bytes, want it cut to %d on a character boundary", len(r.Reason), migratelambda.MaxReason)
	}
}

func TestUnknownRequestType(t *testing.T) {
	t.Parallel()
	c := newCloudFormation(t)
	e, _ := c.event(t, "migrate-create.json")
	e.RequestType = "Import"
	h := migratelambda.New(noEnv, slog.New(slog.DiscardHandler))
	if _, err := cfn.LambdaWrap(h.Handle)(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if r := c.answer(t, e); r.Status != cfn.StatusFailed || !strings.Contains(r.Reason, `"Import"`) {
		t.Fatalf("%+v, want FAILED naming the request type", r)
	}
}

func TestRollback(t *testing.T) {
	t.Parallel()
	const fn = "arn:aws:lambda:us-east-1:123456789012:function:patientsync-MigrateFunction-X"
	props := func(v string) map[string]any { return map[string]any{migratelambda.VersionProperty: fn + ":" + v} }
	tests := []struct {
		name     string
		e        cfn.Event
		rollback bool
	}{
		{"back to an older version", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: props("9"), OldResourceProperties: props("10")}, true},
		{"forward", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: props("10"), OldResourceProperties: props("9")}, false},
		{"same version, other property", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: props("4"), OldResourceProperties: props("4")}, false},
		{"$LATEST", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: props("$LATEST"), OldResourceProperties: props("4")}, false},
		{"no old version", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: props("1"), OldResourceProperties: map[string]any{}}, false},
		{"not a string", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: map[string]any{migratelambda.VersionProperty: 1}, OldResourceProperties: props("4")}, false},
		{"create", cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: props("1"), OldResourceProperties: props("4")}, false},
	}
	for _, tc := range tests {
		if _, _, got := migratelambda.Rollback(tc.e); got != tc.rollback {
			t.Errorf("%s: Rollback = %v, want %v", tc.name, got, tc.rollback)
		}
	}
}

func TestMargin(t *testing.T) {
	t.Parallel()
	for left, want := range map[time.Duration]time.Duration{
		900 * time.Second: 15 * time.Second,
		60 * time.Second:  6 * time.Second,
		6 * time.Second:   2 * time.Second,
		time.Second:       2 * time.Second,
	} {
		if got := migratelambda.Margin(left); got != want {
			t.Errorf("Margin(%s) = %s, want %s", left, got, want)
		}
	}
}
