package localaws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLocalStackBoto3 drives the running stack with a second S3 client we
// did not write, boto3 (testdata/boto3_stack.py): a ~20 MB multipart
// upload, a PUT, a multipart copy and tags. Each upload must reach the
// sync function and the database, and the API must answer from it.
func TestLocalStackBoto3(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("end-to-end: builds the functions and the emulator")
	}
	python := boto3Python(t)
	e := setup(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, python, filepath.Join(e.root, "internal/localaws/testdata/boto3_stack.py"),
		e.stack.S3URL, e.bucket, t.TempDir(), filepath.Join(e.root, "testdata/payments.json"))
	// Nothing of the machine's AWS configuration.
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("boto3_stack.py: %v\n%s%s", err, out, stderr.Bytes())
	}
	var got struct {
		Patients int    `json:"patients"`
		ETag     string `json:"etag"`
		CopyETag string `json:"copy_etag"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boto3_stack.py printed %q: %v", out, err)
	}
	t.Logf("boto3 uploaded %d patients as %s", got.Patients, got.ETag)

	runs := e.waitRuns(3)
	for i, want := range []struct {
		key, etag string
		changed   bool
	}{
		{"patients.json", got.ETag, true},
		{"payments.json", md5hex(e.fixture("testdata/payments.json")), true},
		{"exports/patients-copy.json", got.CopyETag, false}, // the same patients again
	} {
		r := runs[i]
		if r.Status != "succeeded" || r.Source != "s3://"+e.bucket+"/"+want.key || r.ETag != want.etag || r.VersionID == "" {
			t.Errorf("run %d = %+v; want a succeeded run of %s, ETag %s, with its version", i, r, want.key, want.etag)
		}
		if changed := r.Inserted+r.Updated+r.Deleted > 0; changed != want.changed {
			t.Errorf("run %d of %s changed rows: %v; want %v", i, want.key, changed, want.changed)
		}
	}
	if n := strings.Count(e.logs.String(), "ObjectCreated:CompleteMultipartUpload"); n < 2 {
		t.Errorf("%d CompleteMultipartUpload events logged; want the upload's and the copy's", n)
	}
	var live, linked int
	if err := e.pool.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM patients WHERE deleted IS NULL),
		       (SELECT count(*) FROM payments WHERE patient_id IS NOT NULL)`).Scan(&live, &linked); err != nil {
		t.Fatal(err)
	}
	if live != got.Patients || linked != 9 {
		t.Errorf("%d live patients, %d payments linked to one; want %d and all 9", live, linked, got.Patients)
	}
	// Patient 1: 4.46 + 13.00 + 2.10; patient 4: 9.29.
	if ids := ids(e.getItems("/patients?payment_min=9&payment_max=20")); !slices.Equal(ids, []string{"1", "4"}) {
		t.Errorf("GET /patients?payment_min=9&payment_max=20 = %v; want [1 4]", ids)
	}
	if p := e.getItems("/payments?external_id=4"); len(p) != 1 || p[0]["externalId"] != "701" || p[0]["patientId"] == nil {
		t.Errorf("GET /payments?external_id=4 = %v; want 701, linked", p)
	}
}

// boto3Python is the interpreter that has boto3 (pyenv's shim needs the
// real HOME, the test's environment has another). Without it the test is
// skipped, except in CI, which has it.
func boto3Python(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("python3", "-c", "import sys, boto3; print(sys.executable)").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and python3 cannot import boto3: %v", err)
		}
		t.Skipf("python3 cannot import boto3 (%v): pip install boto3 to run this test", err)
	}
	return strings.TrimSpace(string(out))
}
