package localaws_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/localaws"
	"github.com/patientsync/patientsync/internal/localaws/asyncinvoke"
	"github.com/patientsync/patientsync/internal/testutil"
)

type e2e struct {
	t      *testing.T
	stack  *localaws.Stack
	s3     *s3.Client
	pool   *pgxpool.Pool
	logs   *testutil.LogBuffer
	root   string
	bucket string
}

// TestLocalStackEndToEnd runs the real function binaries under the runtime
// interface emulator behind the local S3 and HTTP API, against a fresh
// database, through the scenarios of issue 4.
func TestLocalStackEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end: builds the functions and the emulator")
	}
	e := setup(t)

	// 1. The sample snapshots through the SDK.
	e.put("patients.json", e.fixture("testdata/patients.json"))
	e.put("payments.json", e.fixture("testdata/payments.json"))
	runs := e.waitRuns(2)
	for i, want := range []string{"patients.json", "payments.json"} {
		r := runs[i]
		if r.Status != "succeeded" || r.Source != "s3://"+e.bucket+"/"+want || r.VersionID == "" || r.Sequencer == "" {
			t.Errorf("run %d = %+v; want a succeeded run of %s with version and sequencer", i, r, want)
		}
		if r.ETag != md5hex(e.fixture("testdata/"+want)) {
			t.Errorf("run %d etag %s; want the file's MD5", i, r.ETag)
		}
	}
	if got := ids(e.getItems("/patients?payment_min=9&payment_max=20")); !slices.Equal(got, []string{"4"}) {
		t.Errorf("GET /patients?payment_min=9&payment_max=20 = %v; want [4]", got)
	}
	p4 := e.getItems("/payments?external_id=4")
	if got := ids(p4); !slices.Equal(got, []string{"701"}) || p4[0]["amount"] != "9.29" {
		t.Errorf("GET /payments?external_id=4 = %v; want 701 of 9.29", p4)
	}
	orphans := append(e.getItems("/payments?external_id=1"), e.getItems("/payments?external_id=3")...)
	if got := ids(orphans); !slices.Equal(got, []string{"501", "502", "503", "601", "602"}) {
		t.Errorf("payments of unknown patients = %v; want 501-503, 601, 602", got)
	}
	for _, p := range orphans {
		if p["patientId"] != nil {
			t.Errorf("payment %v of an unknown patient has patientId %v; want null", p["externalId"], p["patientId"])
		}
	}
	if p4[0]["patientId"] == nil {
		t.Error("payment 701 of patient 4 has no patientId")
	}
	e.status("/patients?payment_min=abc", http.StatusBadRequest)
	e.status("/nowhere", http.StatusNotFound)
	// The uploader learns the outcome from the version's tags; the
	// operator from the function's metrics.
	for i, key := range []string{"patients.json", "payments.json"} {
		e.wantTags(key, runs[i].VersionID, map[string]string{"patientsync-status": "applied", "patientsync-run": fmt.Sprint(runs[i].ID)})
	}
	if m := e.metricLines("SnapshotsApplied"); len(m) != 2 {
		t.Errorf("%d EMF lines with SnapshotsApplied = 1, want 2", len(m))
	}
	afterSample := e.dump()

	// 2. The same files with the real aws CLI: new versions, new events,
	// nothing to change.
	if cli := "/usr/bin/aws"; fileExists(cli) {
		for _, f := range []string{"patients.json", "payments.json"} {
			e.awsCLI(cli, "s3", "cp", filepath.Join(e.root, "testdata", f), "s3://"+e.bucket+"/"+f)
		}
		runs = e.waitRuns(4)
		for _, r := range runs[2:] {
			if r.Status != "succeeded" || r.Inserted+r.Updated+r.Deleted != 0 {
				t.Errorf("CLI re-upload run %+v; want succeeded with no changes", r)
			}
		}
		e.sameRows(afterSample, e.dump(), nil)
	} else {
		t.Log("/usr/bin/aws not installed (Debian package awscli): skipping the aws CLI uploads")
	}

	// 3. Changed snapshots: one patient renamed and one removed; one payment
	// changed and one removed. Payments go up as a multipart upload.
	n := len(runs)
	e.put("patients.json", e.fixture("internal/localaws/testdata/patients_changed.json"))
	e.putMultipart("payments.json", e.fixture("internal/localaws/testdata/payments_changed.json"))
	runs = e.waitRuns(n + 2)
	for _, r := range runs[n:] {
		if r.Status != "succeeded" {
			t.Errorf("changed snapshot run %+v; want succeeded", r)
		}
	}
	if !strings.Contains(e.logs.String(), "ObjectCreated:CompleteMultipartUpload") {
		t.Error("no CompleteMultipartUpload event was logged")
	}
	changed := e.dump()
	e.sameRows(afterSample, changed, map[string]bool{"patient 5": true, "patient 2": true, "payment 801": true, "payment 802": true})
	if p := changed["patient 5"]; p.Name != "Richard Deckard" || !p.Updated.After(afterSample["patient 5"].Updated) || p.Deleted {
		t.Errorf("patient 5 = %+v; want renamed, updated later, live", p)
	}
	if p := changed["patient 2"]; !p.Deleted || p.Name != "Roy Batty" {
		t.Errorf("patient 2 = %+v; want soft-deleted and otherwise kept", p)
	}
	if p := changed["payment 801"]; p.Amount != "26.00" || !p.Updated.After(afterSample["payment 801"].Updated) {
		t.Errorf("payment 801 = %+v; want 26.00, updated later", p)
	}
	if p := changed["payment 802"]; !p.Deleted {
		t.Errorf("payment 802 = %+v; want soft-deleted", p)
	}
	if got := ids(e.getItems("/patients")); !slices.Equal(got, []string{"4", "5", "6"}) {
		t.Errorf("GET /patients = %v; want the live 4, 5, 6", got)
	}
	if got := ids(e.getItems("/payments?external_id=5")); !slices.Equal(got, []string{"801"}) {
		t.Errorf("GET /payments?external_id=5 = %v; want only 801", got)
	}

	// 4. A truncated file changes nothing and is recorded as failed.
	full := e.fixture("internal/localaws/testdata/patients_changed.json")
	e.put("patients.json", full[:len(full)/2])
	runs = e.waitRuns(len(runs) + 1)
	last := runs[len(runs)-1]
	if last.Status != "failed" || last.Source != "s3://"+e.bucket+"/patients.json" || last.Error == "" {
		t.Errorf("truncated upload run %+v; want a failed run with an error", last)
	}
	e.sameRows(changed, e.dump(), nil)
	e.wantTags("patients.json", last.VersionID, map[string]string{
		"patientsync-status": "rejected", "patientsync-run": fmt.Sprint(last.ID), "patientsync-reason": "malformed"})
	rejected := e.metricLines("SnapshotsRejected")
	if len(rejected) != 1 || rejected[0]["Reason"] != "malformed" || rejected[0]["Entity"] != "patients" || rejected[0]["runId"] != float64(last.ID) {
		t.Errorf("EMF lines with SnapshotsRejected = 1: %v; want one for run %d, malformed", rejected, last.ID)
	}
	// GET /syncs, newest first, has both, and the filter finds the rejection.
	syncs := e.getItems("/syncs?entity=patients")
	if len(syncs) == 0 || syncs[0]["id"] != json.Number(fmt.Sprint(last.ID)) || syncs[0]["status"] != "failed" || syncs[0]["reason"] != "malformed" {
		t.Errorf("GET /syncs?entity=patients: newest %v; want run %d, failed, malformed", syncs[0], last.ID)
	}
	if failed := e.getItems("/syncs?status=failed"); len(failed) != 1 || failed[0]["id"] != json.Number(fmt.Sprint(last.ID)) {
		t.Errorf("GET /syncs?status=failed = %v", failed)
	}
	if got := e.getItems("/syncs?status=succeeded&entity=payments"); len(got) == 0 || got[len(got)-1]["id"] != json.Number(fmt.Sprint(runs[1].ID)) {
		t.Errorf("GET /syncs?status=succeeded&entity=payments = %v; want the first payments run last", got)
	}
	if st, body := e.get(fmt.Sprintf("/syncs/%d", last.ID)); st != http.StatusOK || !strings.Contains(string(body), `"reason":"malformed"`) {
		t.Errorf("GET /syncs/%d: %d %s", last.ID, st, body)
	}

	// 5. An empty snapshot would delete every live patient: the guard,
	// configured through the function's environment, refuses it.
	e.put("patients.json", []byte("[]"))
	runs = e.waitRuns(len(runs) + 1)
	last = runs[len(runs)-1]
	if last.Status != "failed" || !strings.Contains(strings.ToLower(last.Error), "delete") || !strings.Contains(last.Error, "make reset") {
		t.Errorf("empty snapshot run %+v; want failed by the mass-deletion guard, with a hint that works under make up", last)
	}
	e.sameRows(changed, e.dump(), nil)

	// 6. A key with a space and a plus reaches the function URL-encoded and
	// is decoded back.
	e.put("drop/patients 2026+11.json", full)
	runs = e.waitRuns(len(runs) + 1)
	last = runs[len(runs)-1]
	if last.Status != "succeeded" || last.Source != "s3://"+e.bucket+"/drop/patients 2026+11.json" {
		t.Errorf("spaced key run %+v; want succeeded for the decoded key", last)
	}
	e.sameRows(changed, e.dump(), nil)

	// 7. The rest of the API: health, the document, a push, an upload URL.
	e.status("/health", http.StatusOK)
	if st, body := e.get("/openapi.json"); st != http.StatusOK || !strings.Contains(string(body), `"openapi"`) {
		t.Errorf("GET /openapi.json: %d", st)
	}
	if st, body := e.post("/patients", "application/json", full); st != http.StatusOK || !strings.Contains(string(body), `"status":"succeeded"`) {
		t.Errorf("POST /patients: %d %s", st, body)
	}
	if st, body := e.post("/patients", "application/json", full[:20]); st != http.StatusUnprocessableEntity || !strings.Contains(string(body), `"reason":"malformed"`) {
		t.Errorf("POST /patients of a truncated snapshot: %d %s", st, body)
	}
	if st, _ := e.post("/payments", "text/csv", []byte("a,b")); st != http.StatusUnsupportedMediaType {
		t.Errorf("POST /payments as CSV: %d", st)
	}
	e.sameRows(changed, e.dump(), nil)
	n = e.finishedRuns()
	st, body := e.post("/uploads", "application/json", []byte(`{"entity": "payments"}`))
	var up struct{ Method, URL, Key string }
	if st != http.StatusOK || json.Unmarshal(body, &up) != nil || up.Key != "payments.json" {
		t.Fatalf("POST /uploads: %d %s", st, body)
	}
	req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(e.fixture("internal/localaws/testdata/payments_changed.json")))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the upload URL: %v %v", err, resp)
	}
	resp.Body.Close()
	runs = e.waitRuns(n + 1)
	if last = runs[len(runs)-1]; last.Status != "succeeded" || last.Source != "s3://"+e.bucket+"/payments.json" {
		t.Errorf("run of the presigned upload %+v", last)
	}
	e.sameRows(changed, e.dump(), nil)

	if st := e.stack.SyncQueue.Stats(); st.Failed != 0 {
		t.Errorf("sync queue %+v; want no undelivered events", st)
	}
}

// TestSyncRetriesWhileDatabaseIsDown checks Lambda's asynchronous retry
// behaviour with the real sync function: a transient failure (no database)
// fails the invocation, which is retried twice and then given up and logged.
func TestSyncRetriesWhileDatabaseIsDown(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end: builds the functions and the emulator")
	}
	// Port 1 on loopback refuses connections.
	e := setupWith(t, "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=2")
	e.put("patients.json", e.fixture("testdata/patients.json"))
	if err := e.stack.SyncQueue.Wait(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	// The S3 test event needs no database and succeeds.
	want := asyncinvoke.Stats{Enqueued: 2, Succeeded: 1, Failed: 1, Retried: 2}
	if st := e.stack.SyncQueue.Stats(); st != want {
		t.Errorf("sync queue %+v; want %+v", st, want)
	}
	logs := e.logs.String()
	if got := strings.Count(logs, "sync failed; the invocation will be retried"); got != 3 {
		t.Errorf("the function logged %d transient failures; want 3 attempts", got)
	}
	if !strings.Contains(logs, "retries exhausted") || !strings.Contains(logs, `\"key\":\"patients.json\"`) {
		t.Errorf("the given-up event was not logged with its payload:\n%s", logs)
	}
}

func setup(t *testing.T) *e2e {
	t.Helper()
	return setupWith(t, testutil.NewDB(t))
}

func setupWith(t *testing.T, dbURL string) *e2e {
	t.Helper()
	root := testutil.RepoRoot(t)
	rieBin := testutil.RIE(t)
	bin := t.TempDir()
	var wg sync.WaitGroup
	for _, f := range localaws.Functions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			testutil.BuildFunction(t, "./functions/"+f, filepath.Join(bin, "lambda", f))
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	logs := &testutil.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_DEBUG") != "" {
			t.Logf("stack output:\n%s", logs.String())
		}
	})
	stack, err := localaws.Start(context.Background(), localaws.Config{
		S3Addr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Bucket: "e2e-snapshots",
		RIE: rieBin, BinDir: bin, DatabaseURL: dbURL,
		SyncTimeout: 60 * time.Second, MaxRetries: 2, RetryDelay: 100 * time.Millisecond,
		SyncEnv:      map[string]string{"SYNC_MIN_DELETES": "3"},
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
		FunctionLogs: logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close)

	// Lazy: the retry test has no database.
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(stack.S3URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	return &e2e{t: t, stack: stack, s3: client, pool: pool, logs: logs, root: root, bucket: stack.Bucket}
}

func (e *e2e) fixture(rel string) []byte {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.root, rel))
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *e2e) put(key string, body []byte) {
	e.t.Helper()
	_, err := e.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
	})
	if err != nil {
		e.t.Fatalf("put %s: %v", key, err)
	}
}

// putMultipart uploads body in two parts, padding the JSON with whitespace
// after its opening bracket so that the first part has S3's minimum size.
func (e *e2e) putMultipart(key string, body []byte) {
	e.t.Helper()
	ctx := context.Background()
	i := bytes.IndexByte(body, '[')
	padded := slices.Concat(body[:i+1], bytes.Repeat([]byte(" "), 5<<20), body[i+1:])
	parts := [][]byte{padded[:5<<20], padded[5<<20:]}
	up, err := e.s3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(e.bucket), Key: aws.String(key)})
	if err != nil {
		e.t.Fatal(err)
	}
	var done []types.CompletedPart
	for n, p := range parts {
		out, err := e.s3.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(e.bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(n + 1)), Body: bytes.NewReader(p),
		})
		if err != nil {
			e.t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(n + 1))})
	}
	if _, err := e.s3.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	}); err != nil {
		e.t.Fatal(err)
	}
}

// awsCLI runs Debian's aws against the local endpoint, isolated from any
// configuration of the machine.
func (e *e2e) awsCLI(cli string, args ...string) {
	e.t.Helper()
	home := e.t.TempDir()
	cmd := exec.Command(cli, append([]string{"--endpoint-url", e.stack.S3URL, "--no-cli-pager"}, args...)...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type run struct {
	ID                         int64
	Source, Status, Error      string
	ETag, VersionID, Sequencer string
	Inserted, Updated, Deleted int64
}

// waitRuns waits until n sync runs have finished and the sync function's
// queue is idle, and returns the runs in order.
func (e *e2e) waitRuns(n int) []run {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var finished int
		if err := e.pool.QueryRow(context.Background(),
			`SELECT count(*) FROM sync_runs WHERE status <> 'running'`).Scan(&finished); err != nil {
			e.t.Fatal(err)
		}
		if finished >= n {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d sync runs finished after 2 minutes", finished, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := e.stack.SyncQueue.Wait(time.Minute); err != nil {
		e.t.Fatal(err)
	}
	rows, err := e.pool.Query(context.Background(), `
		SELECT id, source, status, coalesce(error, ''), coalesce(etag, ''), coalesce(version_id, ''),
		       coalesce(sequencer, ''), inserted, updated, deleted
		FROM sync_runs ORDER BY id`)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []run
	for rows.Next() {
		var r run
		if err := rows.Scan(&r.ID, &r.Source, &r.Status, &r.Error, &r.ETag, &r.VersionID, &r.Sequencer,
			&r.Inserted, &r.Updated, &r.Deleted); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	if len(out) != n {
		e.t.Fatalf("%d sync runs; want exactly %d: %+v", len(out), n, out)
	}
	return out
}

type row struct {
	Name, Amount, Detail string
	Updated              time.Time
	Deleted              bool
}

// dump reads every patient and payment, keyed "patient <external id>" and
// "payment <external id>".
func (e *e2e) dump() map[string]row {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `
		SELECT 'patient ' || external_id, first_name || ' ' || last_name, payments_total::text,
		       coalesce(middle_name, '-') || ' ' || date_of_birth || ' ' || payments_count, updated, deleted IS NOT NULL
		FROM patients
		UNION ALL
		SELECT 'payment ' || external_id, '', amount::text,
		       patient_external_id || ' ' || coalesce(patient_id::text, '-'), updated, deleted IS NOT NULL
		FROM payments`)
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]row{}
	for rows.Next() {
		var k string
		var r row
		if err := rows.Scan(&k, &r.Name, &r.Amount, &r.Detail, &r.Updated, &r.Deleted); err != nil {
			e.t.Fatal(err)
		}
		out[k] = r
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// sameRows checks that every row not in changed is identical, updated
// timestamp included.
func (e *e2e) sameRows(before, after map[string]row, changed map[string]bool) {
	e.t.Helper()
	if len(before) != len(after) {
		e.t.Errorf("%d rows before, %d after", len(before), len(after))
	}
	for k, b := range before {
		if changed[k] {
			continue
		}
		a, ok := after[k]
		if !ok || a.Name != b.Name || a.Amount != b.Amount || a.Detail != b.Detail || a.Deleted != b.Deleted || !a.Updated.Equal(b.Updated) {
			e.t.Errorf("%s changed: %+v -> %+v", k, b, a)
		}
	}
}

func (e *e2e) get(path string) (int, []byte) {
	e.t.Helper()
	return e.do(http.MethodGet, path, "", nil)
}

func (e *e2e) post(path, contentType string, body []byte) (int, []byte) {
	e.t.Helper()
	return e.do(http.MethodPost, path, contentType, bytes.NewReader(body))
}

// do sends one request to the stack's API and returns its status and body.
func (e *e2e) do(method, path, contentType string, body io.Reader) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.stack.APIURL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// finishedRuns counts the runs that ended.
func (e *e2e) finishedRuns() int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM sync_runs WHERE status <> 'running'`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *e2e) getItems(path string) []map[string]any {
	e.t.Helper()
	status, body := e.get(path)
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	var page struct {
		Items []map[string]any `json:"items"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&page); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
	for _, it := range page.Items {
		if n, ok := it["amount"].(json.Number); ok {
			it["amount"] = n.String()
		}
	}
	return page.Items
}

// wantTags checks the tags of key's version.
func (e *e2e) wantTags(key, version string, want map[string]string) {
	e.t.Helper()
	out, err := e.s3.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{
		Bucket: aws.String(e.bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		e.t.Fatalf("tags of %s@%s: %v", key, version, err)
	}
	got := map[string]string{}
	for _, tag := range out.TagSet {
		got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	if !maps.Equal(got, want) {
		e.t.Errorf("tags of %s@%s = %v; want %v", key, version, got, want)
	}
}

// metricLines are the sync function's EMF log lines in which metric is 1.
func (e *e2e) metricLines(metric string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(e.logs.String(), "\n") {
		line, ok := strings.CutPrefix(line, "[sync] ")
		if !ok || !strings.Contains(line, `"_aws"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("EMF line %s: %v", line, err)
		}
		if m[metric] == 1.0 {
			out = append(out, m)
		}
	}
	return out
}

func (e *e2e) status(path string, want int) {
	e.t.Helper()
	if got, body := e.get(path); got != want {
		e.t.Errorf("GET %s: %d %s; want %d", path, got, body, want)
	}
}

func ids(items []map[string]any) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, fmt.Sprint(it["externalId"]))
	}
	slices.Sort(out)
	return out
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
