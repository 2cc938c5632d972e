package main

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
	"github.com/patientsync/patientsync/internal/testutil"
)

// TestReset empties a synced database and the local S3 bucket (versions
// and delete markers), keeps the schema, and is quiet about what is
// already empty or not running.
func TestReset(t *testing.T) {
	t.Parallel()
	pool, dbURL := testutil.DBPool(t)
	root := testutil.RepoRoot(t)
	testutil.Seed(t, pool, filepath.Join(root, "testdata", "patients.json"), filepath.Join(root, "testdata", "payments.json"))

	const bucket = "reset-snapshots"
	srv, err := s3server.New(s3server.Config{Bucket: bucket, Notify: func([]byte) {}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	ctx := context.Background()
	for _, key := range []string{"patients.json", "patients.json", "payments.json", "drop/payments 2.json"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("[]")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json")}); err != nil {
		t.Fatal(err)
	}

	s3Addr := strings.TrimPrefix(ts.URL, "http://")
	env := []string{"DATABASE_URL=" + dbURL}
	o := runEnv(t, env, "reset", "-s3-addr", s3Addr, "-bucket", bucket)
	if o.code != 0 {
		t.Fatalf("reset: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	for _, want := range []string{
		"emptied: patients 4 rows, payments 9 rows, sync_runs 2 rows",
		"bucket " + bucket + " on " + ts.URL + " emptied: 4 object versions, 1 delete markers",
	} {
		if !strings.Contains(o.stdout, want) {
			t.Errorf("reset output lacks %q:\n%s", want, o.stdout)
		}
	}
	for _, table := range resetTables {
		if n := count(t, dbURL, "SELECT count(*) FROM "+table); n != 0 {
			t.Errorf("%d rows left in %s", n, table)
		}
	}
	if n := count(t, dbURL, "SELECT count(*) FROM goose_db_version"); n == 0 {
		t.Error("the migration history went with the rows")
	}
	left, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Versions)+len(left.DeleteMarkers) != 0 {
		t.Errorf("left in the bucket: %d versions, %d delete markers", len(left.Versions), len(left.DeleteMarkers))
	}
	// Ids start over, as in a new database.
	testutil.Seed(t, pool, filepath.Join(root, "testdata", "patients.json"))
	if n := count(t, dbURL, "SELECT min(id) FROM sync_runs"); n != 1 {
		t.Errorf("first sync run after reset has id %d; want 1", n)
	}

	// Again, with no S3 endpoint: the database alone.
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	o = runEnv(t, env, "reset", "-s3-addr", closed.Addr().String())
	if o.code != 0 || !strings.Contains(o.stdout, "no S3 endpoint answers on "+closed.Addr().String()) ||
		!strings.Contains(o.stdout, "emptied: patients 4 rows, payments 0 rows, sync_runs 1 rows") {
		t.Errorf("reset without S3: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
}

// TestResetRefusesRemote: a database or endpoint elsewhere is refused,
// before any connection, unless -force.
func TestResetRefusesRemote(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dbURL string
		args  []string
		want  string
	}{
		{"postgres://app@db.example.com:5432/patientsync", nil, "DATABASE_URL is on db.example.com, not this machine"},
		{"host=10.1.2.3 dbname=patientsync", nil, "DATABASE_URL is on 10.1.2.3"},
		{"postgres://app@127.0.0.1,db.example.com/patientsync", nil, "DATABASE_URL is on db.example.com"},
		{"postgres://postgres@127.0.0.1:1/x", []string{"-s3-addr", "10.1.2.3:4566"}, "-s3-addr 10.1.2.3:4566 is not on this machine"},
	} {
		o := runEnv(t, []string{"DATABASE_URL=" + c.dbURL}, append([]string{"reset"}, c.args...)...)
		if o.code != 1 || !strings.Contains(o.stderr, c.want) || !strings.Contains(o.stderr, "-force") || o.stdout != "" {
			t.Errorf("reset with DATABASE_URL=%s %v: exit %d, stdout %q, stderr %q; want a refusal with %q naming -force",
				c.dbURL, c.args, o.code, o.stdout, o.stderr, c.want)
		}
	}
}

func TestIsLocalHost(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.0.1.1": true, "::1": true, "[::1]": true,
		"/var/run/postgresql": true, "/tmp": true,
		"db.example.com": false, "10.0.0.5": false, "0.0.0.0": false, "": false, "localhost.example.com": false,
	} {
		if got := isLocalHost(host); got != want {
			t.Errorf("isLocalHost(%q) = %v; want %v", host, got, want)
		}
	}
}
