package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/testutil"
)

// TestSyncFromMoto runs `patientsync sync s3://...` against moto_server, an
// S3 implementation this project did not write: a versioned bucket, a
// plain and a gzipped snapshot, read by the SDK through AWS_ENDPOINT_URL.
func TestSyncFromMoto(t *testing.T) {
	t.Parallel()
	endpoint := startMoto(t)
	ctx := context.Background()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	const bucket = "clinic-exports"
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	root := testutil.RepoRoot(t)
	patients, err := os.ReadFile(filepath.Join(root, "testdata", "patients.json"))
	if err != nil {
		t.Fatal(err)
	}
	payments, err := os.ReadFile(filepath.Join(root, "testdata", "payments.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(payments); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for key, body := range map[string][]byte{"patients.json": patients, "payments.json.gz": gz.Bytes()} {
		out, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(out.VersionId) == "" {
			t.Fatalf("moto gave %s no version id", key)
		}
		versions["s3://"+bucket+"/"+key] = aws.ToString(out.VersionId)
	}

	dbURL := testutil.NewDB(t)
	home := t.TempDir()
	o := runEnv(t, []string{
		"DATABASE_URL=" + dbURL, "LOG_LEVEL=WARN",
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_ENDPOINT_URL_S3=", "AWS_S3_USE_PATH_STYLE=",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=", "AWS_REGION=us-east-1", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}, "sync", "s3://"+bucket+"/patients.json", "s3://"+bucket+"/payments.json.gz")
	if o.code != 0 {
		t.Fatalf("sync from moto: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT source, status, coalesce(version_id, ''), inserted FROM sync_runs ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type syncRun struct {
		Source, Status, VersionID string
		Inserted                  int64
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[syncRun])
	if err != nil {
		t.Fatal(err)
	}
	wantInserted := map[string]int64{"s3://" + bucket + "/patients.json": 4, "s3://" + bucket + "/payments.json.gz": 9}
	if len(runs) != 2 {
		t.Fatalf("sync runs %+v; want one per snapshot", runs)
	}
	for _, r := range runs {
		if r.Status != "succeeded" || r.VersionID != versions[r.Source] || r.Inserted != wantInserted[r.Source] {
			t.Errorf("run %+v; want succeeded, version %s, %d inserted", r, versions[r.Source], wantInserted[r.Source])
		}
	}
	var total string
	if err := conn.QueryRow(ctx, `SELECT payments_total::text FROM patients WHERE external_id = '4'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != "9.29" {
		t.Errorf("patient 4's payments total %s; want 9.29", total)
	}
}

// startMoto runs moto_server on a free loopback port until the test ends
// and returns its endpoint. Without moto_server the test is skipped, except
// in CI, which has it.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true and moto_server is not installed")
		}
		t.Skip("moto_server is not installed (pip install 'moto[server]')")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	out := &testutil.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group: pyenv's shim and moto go together.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	started := time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := http.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			t.Logf("moto_server answered after %s", time.Since(started).Round(time.Millisecond))
			return endpoint
		}
		select {
		case <-exited:
			t.Fatalf("moto_server exited: %s", strings.TrimSpace(out.String()))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not answer on %s within 30s: %s", endpoint, out.String())
		}
	}
}
