package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/testutil"
)

// motoBucket starts moto_server with a versioned bucket and returns its
// endpoint and a client for it.
func motoBucket(t *testing.T, bucket string) (string, *s3.Client) {
	t.Helper()
	endpoint := testutil.Moto(t)
	ctx := context.Background()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	return endpoint, client
}

// TestSyncFromMoto runs `patientsync sync s3://...` against moto_server, an
// S3 implementation this project did not write: a versioned bucket, a
// plain and a gzipped snapshot, read by the SDK through AWS_ENDPOINT_URL.
func TestSyncFromMoto(t *testing.T) {
	t.Parallel()
	const bucket = "clinic-exports"
	endpoint, client := motoBucket(t, bucket)
	ctx := context.Background()
	root := testutil.RepoRoot(t)
	patients, err := os.ReadFile(filepath.Join(root, "testdata", "patients.json"))
	if err != nil {
		t.Fatal(err)
	}
	payments, err := os.ReadFile(filepath.Join(root, "testdata", "payments.json"))
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for key, body := range map[string][]byte{"patients.json": patients, "payments.json.gz": testutil.Gzip(payments)} {
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
	o := runEnv(t, append(motoEnv(t, endpoint), "DATABASE_URL="+dbURL, "DATABASE_SECRET_ARN=", "LOG_LEVEL=WARN"), "sync", "s3://"+bucket+"/patients.json", "s3://"+bucket+"/payments.json.gz")
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

// motoEnv is the environment that points the CLI's AWS clients (S3 and
// Secrets Manager) at moto_server, and at nothing of this machine's.
func motoEnv(t *testing.T, endpoint string) []string {
	home := t.TempDir()
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint, "AWS_ENDPOINT_URL_S3=", "AWS_S3_USE_PATH_STYLE=",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_SESSION_TOKEN=", "AWS_REGION=us-east-1", "AWS_PROFILE=",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// TestSyncVersionWithSecretFromMoto runs the CLI the way the ECS runner
// does: `patientsync sync s3://bucket/key?versionId=V` with only
// DATABASE_SECRET_ARN (a secret in moto_server's Secrets Manager holding the
// URL). It must read exactly that version, not the key's current one, and a
// version that is a bad file is recorded as failed and exits non-zero.
func TestSyncVersionWithSecretFromMoto(t *testing.T) {
	t.Parallel()
	const bucket = "clinic-exports"
	endpoint, client := motoBucket(t, bucket)
	ctx := context.Background()
	patients, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "testdata", "patients.json"))
	if err != nil {
		t.Fatal(err)
	}
	// A key that needs escaping in a URL, three versions: the sample, a
	// truncated upload, and the current one, which names one other patient.
	const key = "clinic 7/a+b?/patients.json"
	var versions []string
	for _, body := range []string{string(patients), string(patients[:40]),
		`[{"externalId": "99", "firstName": "Cur", "lastName": "Rent", "dateOfBirth": "2000-01-01"}]`} {
		out, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, aws.ToString(out.VersionId))
	}

	dbURL := testutil.NewDB(t)
	sm := secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	secret, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("patientsync/db"), SecretString: aws.String(dbURL)})
	if err != nil {
		t.Fatal(err)
	}
	env := append(motoEnv(t, endpoint), "DATABASE_URL=", "DATABASE_SECRET_ARN="+aws.ToString(secret.ARN), "LOG_LEVEL=WARN")
	url := func(version string) string {
		return "s3://" + bucket + "/clinic%207/a+b%3F/patients.json?versionId=" + version
	}

	o := runEnv(t, env, "sync", url(versions[0]))
	if o.code != 0 {
		t.Fatalf("sync of version 1: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}
	o = runEnv(t, env, "sync", url(versions[1]))
	if o.code == 0 || !strings.Contains(o.stderr, "truncated") {
		t.Fatalf("sync of the truncated version 2: exit %d, want non-zero and the reason\n%s%s", o.code, o.stdout, o.stderr)
	}
	o = runEnv(t, env, "sync", "s3://"+bucket+"/clinic%207/a+b%3F/patients.json?version="+versions[0])
	if o.code == 0 || !strings.Contains(o.stderr, `unknown parameter "version"`) {
		t.Fatalf("misspelt parameter: exit %d\n%s%s", o.code, o.stdout, o.stderr)
	}

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT source, status, coalesce(version_id, ''), inserted, coalesce(error, '') FROM sync_runs ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type syncRun struct {
		Source, Status, VersionID string
		Inserted                  int64
		Error                     string
	}
	runs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[syncRun])
	if err != nil {
		t.Fatal(err)
	}
	source := "s3://" + bucket + "/" + key
	if len(runs) != 2 ||
		runs[0] != (syncRun{source, "succeeded", versions[0], 4, ""}) ||
		runs[1].Source != source || runs[1].Status != "failed" || runs[1].VersionID != versions[1] || !strings.Contains(runs[1].Error, "truncated") {
		t.Fatalf("sync runs %+v; want version 1 succeeded with 4 rows, then version 2 failed as truncated", runs)
	}
	var ids []string
	if err := conn.QueryRow(ctx, `SELECT array_agg(external_id ORDER BY external_id) FROM patients`).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, ",") != "2,4,5,6" {
		t.Fatalf("patients %v: want the 4 of version 1, not the current version's", ids)
	}
}
