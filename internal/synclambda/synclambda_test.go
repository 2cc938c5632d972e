package synclambda_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/synclambda"
	"github.com/patientsync/patientsync/internal/testutil"
)

const bucket = "patientsync-snapshots"

type fixture struct {
	t       *testing.T
	pool    *pgxpool.Pool
	client  *s3.Client
	server  *httptest.Server
	handler lambda.Handler
	metrics *bytes.Buffer // the EMF lines the handler wrote
}

// newFixture serves a versioned S3-compatible bucket on loopback (gofakes3)
// and wraps the real handler the way lambda.Start does.
func newFixture(t *testing.T) *fixture {
	return newFixtureWith(t, nil, synclambda.DefaultSettings())
}

// newFixtureWith is newFixture with an ECS client and settings.
func newFixtureWith(t *testing.T, runTask synclambda.RunTaskAPI, s synclambda.Settings) *fixture {
	return newFixtureFront(t, runTask, s, nil)
}

// newFixtureFront is newFixtureWith with front wrapping the S3 endpoint
// (see testutil.S3).
func newFixtureFront(t *testing.T, runTask synclambda.RunTaskAPI, s synclambda.Settings, front func(http.Handler) http.Handler) *fixture {
	t.Helper()
	pool, _ := testutil.DBPool(t)
	client, srv := testutil.S3(t, bucket, front)
	h, err := synclambda.New(pool, s3source.New(client), runTask, s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	metrics := &bytes.Buffer{}
	h.WithMetrics(metrics)
	return &fixture{t: t, pool: pool, client: client, server: srv, handler: lambda.NewHandler(h.Handle), metrics: metrics}
}

// event uploads content under the key of each record of the sample event
// name and returns the event pointing at the stored versions, as S3 would
// send it.
func (f *fixture) event(name string, content func(key string) []byte) []byte {
	f.t.Helper()
	return f.eventAt(name, "", content)
}

// eventAt is event with the (single) record's key replaced by key, unless
// key is empty.
func (f *fixture) eventAt(name, key string, content func(key string) []byte) []byte {
	f.t.Helper()
	raw, err := os.ReadFile("../../events/" + name)
	if err != nil {
		f.t.Fatal(err)
	}
	if key != "" {
		var generic map[string]any
		if err := json.Unmarshal(raw, &generic); err != nil {
			f.t.Fatal(err)
		}
		recs := generic["Records"].([]any)
		if len(recs) != 1 {
			f.t.Fatalf("%s has %d records, want 1", name, len(recs))
		}
		recs[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)["key"] = strings.ReplaceAll(url.QueryEscape(key), "%2F", "/") // as S3 encodes keys
		raw, _ = json.Marshal(generic)
	}
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		f.t.Fatal(err)
	}
	for i, rec := range ev.Records {
		key, err := url.QueryUnescape(rec.S3.Object.Key)
		if err != nil {
			f.t.Fatal(err)
		}
		body := content(key)
		out, err := f.client.PutObject(context.Background(), &s3.PutObjectInput{
			Bucket: aws.String(rec.S3.Bucket.Name), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			f.t.Fatalf("put %s: %v", key, err)
		}
		ev.Records[i].S3.Object.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
		ev.Records[i].S3.Object.VersionID = aws.ToString(out.VersionId)
		ev.Records[i].S3.Object.Size = int64(len(body))
	}
	// Keep the rest of the real event as it is: only identity fields change.
	var generic map[string]any
	_ = json.Unmarshal(raw, &generic)
	recs, _ := generic["Records"].([]any)
	for i, r := range recs {
		obj := r.(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)
		obj["eTag"] = ev.Records[i].S3.Object.ETag
		obj["versionId"] = ev.Records[i].S3.Object.VersionID
		obj["size"] = ev.Records[i].S3.Object.Size
	}
	out, _ := json.Marshal(generic)
	return out
}

func (f *fixture) invoke(payload []byte) error {
	f.t.Helper()
	_, err := f.handler.Invoke(context.Background(), payload)
	return err
}

func (f *fixture) count(sql string) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func sample(t *testing.T, name string) []byte {
	b, err := os.ReadFile("../../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSampleEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	patients := f.event("s3-put-patients.json", func(string) []byte { return sample(t, "patients.json") })
	if err := f.invoke(patients); err != nil {
		t.Fatal(err)
	}
	if err := f.invoke(f.event("s3-put-payments-gz.json", func(string) []byte { return testutil.Gzip(sample(t, "payments.json")) })); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM patients WHERE deleted IS NULL"); n != 4 {
		t.Fatalf("%d patients, want 4", n)
	}
	if n := f.count("SELECT count(*) FROM payments WHERE deleted IS NULL"); n != 9 {
		t.Fatalf("%d payments, want 9", n)
	}
	// S3 delivers at least once: the same event again is skipped.
	if err := f.invoke(patients); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM sync_runs WHERE status = 'skipped'"); n != 1 {
		t.Fatalf("%d skipped runs, want 1 for the redelivered event", n)
	}

	// The test event and keys that are not snapshots change nothing.
	before := f.count("SELECT count(*) FROM sync_runs")
	raw, err := os.ReadFile("../../events/s3-test-event.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.invoke(raw); err != nil {
		t.Fatal(err)
	}
	if err := f.invoke(f.event("s3-put-ignored.json", func(string) []byte { return []byte("hello") })); err != nil {
		t.Fatal(err)
	}
	if after := f.count("SELECT count(*) FROM sync_runs"); after != before {
		t.Fatalf("test event or ignored key made %d sync runs", after-before)
	}
}

func TestKeyWithSpacesAndPlus(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var stored string
	ev := f.event("s3-put-key-with-spaces.json", func(key string) []byte { stored = key; return sample(t, "patients.json") })
	if !strings.Contains(stored, " ") {
		t.Fatalf("sample event key %q does not decode to one with spaces", stored)
	}
	if err := f.invoke(ev); err != nil {
		t.Fatal(err)
	}
	var source string
	if err := f.pool.QueryRow(context.Background(), "SELECT source FROM sync_runs WHERE status = 'succeeded'").Scan(&source); err != nil {
		t.Fatal(err)
	}
	if source != "s3://"+bucket+"/"+stored {
		t.Fatalf("source %q, want the decoded key %q", source, stored)
	}
}

func TestPermanentAndTransientFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A truncated upload is recorded and not retried (the invocation succeeds).
	truncated := sample(t, "patients.json")[:40]
	if err := f.invoke(f.event("s3-put-patients.json", func(string) []byte { return truncated })); err != nil {
		t.Fatalf("a bad file must not fail the invocation: %v", err)
	}
	if n := f.count("SELECT count(*) FROM sync_runs WHERE status = 'failed' AND error LIKE '%truncated%'"); n != 1 {
		t.Fatalf("%d failed runs recorded, want 1", n)
	}
	// S3 unreachable: the invocation fails so that Lambda retries it.
	ev := f.event("s3-put-payments.json", func(string) []byte { return sample(t, "payments.json") })
	f.server.Close()
	if err := f.invoke(ev); err == nil {
		t.Fatal("an unreachable S3 must fail the invocation")
	}
	if n := f.count("SELECT count(*) FROM payments"); n != 0 {
		t.Fatalf("%d payments after a failed read", n)
	}
}
