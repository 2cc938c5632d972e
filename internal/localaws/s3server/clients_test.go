package s3server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// requireClient skips a test whose client is missing, except in CI, which
// has them all.
func requireClient(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and %s", why)
	}
	t.Skip(why)
}

// awsEnv is an environment for a client process that keeps any
// configuration of the machine out.
func awsEnv(t *testing.T) []string {
	home := t.TempDir()
	return []string{
		"PATH=/usr/bin:/bin", "HOME=" + home, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

func run(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// TestBoto3 drives the endpoint with boto3 (testdata/boto3_client.py):
// multipart upload and copy, tagging by version, metadata and ETags.
func TestBoto3(t *testing.T) {
	t.Parallel()
	// The interpreter itself, since pyenv's shim needs the real HOME.
	out, err := exec.Command("python3", "-c", "import sys, boto3; print(sys.executable)").Output()
	if err != nil {
		requireClient(t, "python3 with boto3 is not installed")
	}
	python := strings.TrimSpace(string(out))
	_, got, endpoint := newServerURL(t, s3server.Config{})
	script, err := filepath.Abs("testdata/boto3_client.py")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", run(t, awsEnv(t), python, script, endpoint, bucket, t.TempDir()))
	// Upload, copy, the small PUT and the grown upload.
	if n := len(got.all()); n != 4 {
		t.Errorf("%d events; want 4", n)
	}
}

// TestAWSCLI drives the endpoint with Debian's aws CLI v2.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	const cli = "/usr/bin/aws"
	if _, err := os.Stat(cli); err != nil {
		requireClient(t, cli+" is not installed (Debian package awscli)")
	}
	_, got, endpoint := newServerURL(t, s3server.Config{})
	env := awsEnv(t)
	aws := func(args ...string) []byte {
		t.Helper()
		return run(t, env, cli, append([]string{"--endpoint-url", endpoint, "--no-cli-pager", "--output", "json"}, args...)...)
	}
	dir := t.TempDir()
	data := randomBytes(5, 24<<20)
	local := filepath.Join(dir, "big.bin")
	if err := os.WriteFile(local, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var parts [][]byte
	for i := 0; i < len(data); i += 8 << 20 {
		parts = append(parts, data[i:min(i+8<<20, len(data))])
	}
	want := `"` + multipartETag(parts...) + `"`

	aws("s3", "cp", local, "s3://"+bucket+"/big.bin", "--metadata", "Clinic=north")
	aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "big.bin",
		"--tagging", "TagSet=[{Key=patientsync-status,Value=applied}]")
	aws("s3", "cp", "s3://"+bucket+"/big.bin", "s3://"+bucket+"/copy.bin")

	var tagging struct {
		VersionId string
		TagSet    []struct{ Key, Value string }
	}
	if err := json.Unmarshal(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "copy.bin"), &tagging); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tagging.TagSet) != "[{patientsync-status applied}]" || tagging.VersionId == "" {
		t.Errorf("tags of the copy %+v; want the source's, copied by the CLI", tagging)
	}
	var head struct {
		ETag, VersionId string
		Metadata        map[string]string
		ContentLength   int
	}
	if err := json.Unmarshal(aws("s3api", "head-object", "--bucket", bucket, "--key", "copy.bin"), &head); err != nil {
		t.Fatal(err)
	}
	if head.ETag != want || head.ContentLength != len(data) || fmt.Sprint(head.Metadata) != "map[clinic:north]" {
		t.Errorf("HEAD of the copy %+v; want ETag %s, %d bytes, metadata clinic", head, want, len(data))
	}
	back := filepath.Join(dir, "back.bin")
	aws("s3", "cp", "s3://"+bucket+"/copy.bin", back)
	if b, err := os.ReadFile(back); err != nil || !bytes.Equal(b, data) {
		t.Errorf("downloaded copy: %v, equal %v", err, bytes.Equal(b, data))
	}

	// Tagging by version.
	aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "copy.bin", "--version-id", head.VersionId,
		"--tagging", "TagSet=[{Key=patientsync-status,Value=rejected}]")
	if err := json.Unmarshal(aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "copy.bin", "--version-id", head.VersionId), &tagging); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tagging.TagSet) != "[{patientsync-status rejected}]" || tagging.VersionId != head.VersionId {
		t.Errorf("tags by version %+v", tagging)
	}
	// The upload and the copy; tagging sends nothing.
	evs := got.all()
	if len(evs) != 2 {
		t.Fatalf("%d events; want 2", len(evs))
	}
	for _, raw := range evs {
		if e := decode(t, raw).S3.Object.ETag; `"`+e+`"` != want {
			t.Errorf("event ETag %s; want %s", e, want)
		}
	}
	sum := md5.Sum(data)
	t.Logf("24 MB object %s (whole MD5 %s) uploaded, copied and tagged with %s", want, hex.EncodeToString(sum[:]), cli)
}
