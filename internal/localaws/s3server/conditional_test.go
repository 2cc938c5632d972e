package s3server_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// conditional sends method with one conditional header over plain HTTP
// and returns the status and the body's S3 error code, if any.
func conditional(t *testing.T, endpoint, method, path, header, value string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(method, endpoint+path, nil)
	req.Header.Set(header, value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Code, Condition string }
	_ = xml.Unmarshal(b, &e)
	return resp.StatusCode, e.Code, e.Condition
}

func TestConditionalReads(t *testing.T) {
	t.Parallel()
	client, _, endpoint := newServerURL(t, s3server.Config{})
	ctx := context.Background()
	v1 := put(t, client, "patients.json", "v1")
	v2 := put(t, client, "patients.json", "v2")
	mp := uploadParts(t, client, "payments.json", randomBytes(4, 5<<20), []byte("end"))
	plainMP := `"` + md5hex(string(randomBytes(4, 5<<20))+"end") + `"`
	cases := []struct {
		method, path, header, value string
		status                      int
		code                        string
	}{
		{"GET", "/patients.json", "If-Match", aws.ToString(v2.ETag), 200, ""},
		{"GET", "/patients.json", "If-Match", md5hex("v2"), 200, ""}, // without quotes
		{"GET", "/patients.json", "If-Match", `"x", ` + aws.ToString(v2.ETag), 200, ""},
		{"GET", "/patients.json", "If-Match", "*", 200, ""},
		{"GET", "/patients.json", "If-Match", aws.ToString(v1.ETag), 412, "PreconditionFailed"},
		{"HEAD", "/patients.json", "If-Match", aws.ToString(v1.ETag), 412, ""},
		{"HEAD", "/patients.json", "If-Match", md5hex("v2"), 200, ""},
		{"GET", "/patients.json?versionId=" + aws.ToString(v1.VersionId), "If-Match", aws.ToString(v1.ETag), 200, ""},
		{"GET", "/patients.json?versionId=" + aws.ToString(v1.VersionId), "If-Match", aws.ToString(v2.ETag), 412, "PreconditionFailed"},
		{"GET", "/patients.json", "If-None-Match", aws.ToString(v2.ETag), 304, ""},
		{"GET", "/patients.json", "If-None-Match", md5hex("v2"), 304, ""},
		{"HEAD", "/patients.json", "If-None-Match", aws.ToString(v2.ETag), 304, ""},
		{"GET", "/patients.json", "If-None-Match", "*", 304, ""},
		{"GET", "/patients.json", "If-None-Match", aws.ToString(v1.ETag), 200, ""},
		{"HEAD", "/patients.json", "If-None-Match", aws.ToString(v1.ETag), 200, ""},
		{"GET", "/payments.json", "If-Match", aws.ToString(mp.ETag), 200, ""},
		{"GET", "/payments.json", "If-Match", plainMP, 412, "PreconditionFailed"},
		{"GET", "/payments.json", "If-None-Match", aws.ToString(mp.ETag), 304, ""},
		{"GET", "/missing.json", "If-Match", aws.ToString(v1.ETag), 404, "NoSuchKey"},
	}
	for _, c := range cases {
		status, code, cond := conditional(t, endpoint, c.method, "/"+bucket+c.path, c.header, c.value)
		if status != c.status || code != c.code {
			t.Errorf("%s %s %s: %s: %d %s; want %d %s", c.method, c.path, c.header, c.value, status, code, c.status, c.code)
		}
		if code == "PreconditionFailed" && cond != "If-Match" {
			t.Errorf("%s %s: condition %q; want If-Match", c.method, c.path, cond)
		}
	}

	// The sync's read: GetObject with IfMatch through the SDK.
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("patients.json"), IfMatch: v1.ETag}); apiCode(err) != "PreconditionFailed" {
		t.Errorf("SDK GetObject with a stale If-Match: %v; want PreconditionFailed", err)
	}
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json"), IfMatch: mp.ETag})
	if err != nil {
		t.Fatalf("SDK GetObject with the multipart ETag: %v", err)
	}
	out.Body.Close()
}
