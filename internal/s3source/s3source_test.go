package s3source_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/testutil"
)

const bucket = "snapshots"

// newSource serves a versioned bucket (gofakes3) behind a front that answers
// keys under denied/ with S3's AccessDenied and keys under broken/ with an
// InternalError, as S3 itself would.
func newSource(t *testing.T) (*s3source.Source, *s3.Client, *httptest.Server) {
	t.Helper()
	client, srv := testutil.S3(t, bucket, func(fake http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			code, status := "", 0
			switch {
			case strings.Contains(r.URL.Path, "/denied/"):
				code, status = "AccessDenied", http.StatusForbidden
			case strings.Contains(r.URL.Path, "/broken/"):
				code, status = "InternalError", http.StatusInternalServerError
			}
			if code != "" {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+code+`</Message></Error>`)
				return
			}
			fake.ServeHTTP(w, r)
		})
	})
	return s3source.New(client), client, srv
}

func put(t *testing.T, c *s3.Client, key, body string) syncer.Identity {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return syncer.Identity{ETag: strings.Trim(aws.ToString(out.ETag), `"`), VersionID: aws.ToString(out.VersionId)}
}

func TestObjectReadsTheVersionTheEventNames(t *testing.T) {
	t.Parallel()
	src, client, _ := newSource(t)
	v1 := put(t, client, "clinic/patients.json", "[1]")
	put(t, client, "clinic/patients.json", "[2]") // newer content under the same key
	obj, err := src.Object(bucket, "clinic/patients.json", v1)
	if err != nil {
		t.Fatal(err)
	}
	if obj.Entity != "patients" || obj.Source != "s3://snapshots/clinic/patients.json" {
		t.Fatalf("object = %+v", obj)
	}
	body, id, err := obj.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	b, _ := io.ReadAll(body)
	if string(b) != "[1]" || id.VersionID != v1.VersionID || id.ETag != v1.ETag || id.LastModified.IsZero() {
		t.Fatalf("read %q with identity %+v, want v1 %+v", b, id, v1)
	}
	if sized, ok := body.(interface{ Size() int64 }); !ok || sized.Size() != 3 {
		t.Fatalf("body %T does not report the object's size 3", body)
	}
}

func TestObjectFailuresArePermanentOrTransient(t *testing.T) {
	t.Parallel()
	src, client, srv := newSource(t)
	put(t, client, "patients.json", "[]")
	tests := []struct {
		name, bucket, key string
		id                syncer.Identity
		permanent         bool
	}{
		{"deleted object", bucket, "gone/patients.json", syncer.Identity{}, true},
		{"version that does not exist", bucket, "patients.json", syncer.Identity{VersionID: "no-such-version"}, true},
		{"bucket that does not exist", "no-such-bucket", "patients.json", syncer.Identity{}, true},
		{"access denied: an IAM mistake to fix, then retry", bucket, "denied/patients.json", syncer.Identity{}, false},
		{"S3 internal error", bucket, "broken/patients.json", syncer.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj, err := src.Object(tt.bucket, tt.key, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = obj.Open(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, syncer.ErrRejected); got != tt.permanent {
				t.Fatalf("permanent = %v, want %v: %v", got, tt.permanent, err)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Fatalf("error does not name the object: %v", err)
			}
		})
	}
	// An endpoint that is down is transient too.
	obj, _ := src.Object(bucket, "patients.json", syncer.Identity{})
	srv.Close()
	if _, _, err := obj.Open(context.Background()); err == nil || errors.Is(err, syncer.ErrRejected) {
		t.Fatalf("unreachable S3: %v, want a transient error", err)
	}
}

func TestObjectIgnoresOtherKeys(t *testing.T) {
	t.Parallel()
	src, _, _ := newSource(t)
	for _, key := range []string{"notes.txt", "patients.csv", "archive/", "reports/summary.json"} {
		if _, err := src.Object(bucket, key, syncer.Identity{}); !errors.Is(err, s3source.ErrNotSnapshot) {
			t.Errorf("%s: %v, want ErrNotSnapshot", key, err)
		}
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, bucket, key string
		id              syncer.Identity
		wantErr         string // "" = ok
	}{
		{"s3://b/patients.json", "b", "patients.json", syncer.Identity{}, ""},
		{"s3://my-bucket/clinic/a b/payments.json.gz", "my-bucket", "clinic/a b/payments.json.gz", syncer.Identity{}, ""},
		{"s3://b/patients.json?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "b", "patients.json",
			syncer.Identity{VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}, ""},
		{"s3://b/patients.json?versionId=v1&sequencer=0055AED6DCD90281E5", "b", "patients.json",
			syncer.Identity{VersionID: "v1", Sequencer: "0055AED6DCD90281E5"}, ""},
		{"s3://b/patients.json?etag=0123abc", "b", "patients.json", syncer.Identity{ETag: "0123abc"}, ""},
		{"s3://b/what%3F%23%25+x/patients.json", "b", "what?#%+x/patients.json", syncer.Identity{}, ""},
		{"s3://b/patients.json?", "b", "patients.json", syncer.Identity{}, ""},
		{"s3://b/patients.json?version=v1", "", "", syncer.Identity{}, `unknown parameter "version"`},
		{"s3://b/patients.json?versionId=", "", "", syncer.Identity{}, "not empty"},
		{"s3://b/patients.json?versionId=a&versionId=b", "", "", syncer.Identity{}, "once"},
		{"s3://b/a#b/patients.json", "", "", syncer.Identity{}, "%23"},
		{"s3://b/patients.json#", "", "", syncer.Identity{}, "%23"},
		{"s3://b/100%/patients.json", "", "", syncer.Identity{}, "want s3://"},
		{"s3://b/", "", "", syncer.Identity{}, "want s3://"},
		{"s3://b", "", "", syncer.Identity{}, "want s3://"},
		{"s3:///key", "", "", syncer.Identity{}, "want s3://"},
		{"https://b/key", "", "", syncer.Identity{}, "want s3://"},
		{"patients.json", "", "", syncer.Identity{}, "want s3://"},
		{"", "", "", syncer.Identity{}, "want s3://"},
	}
	for _, tt := range tests {
		b, k, id, err := s3source.ParseURL(tt.in)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) ||
			b != tt.bucket || k != tt.key || id != tt.id {
			t.Errorf("ParseURL(%q) = %q, %q, %+v, %v; want %q, %q, %+v, error with %q", tt.in, b, k, id, err, tt.bucket, tt.key, tt.id, tt.wantErr)
		}
	}
}

// TestFormatURLRoundTrips: what the sync Lambda hands to the ECS runner is
// read back as the same object, whatever the key holds.
func TestFormatURLRoundTrips(t *testing.T) {
	t.Parallel()
	keys := []string{"patients.json", "clinic/a b/payments.json.gz", "why?/#1/100%/a+b/patients.json", "/leading/patients.json", "ünï/patients.json"}
	ids := []syncer.Identity{
		{},
		{VersionID: "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", ETag: "d41d8cd98f00b204e9800998ecf8427e", Sequencer: "0055AED6DCD90281E5"},
		{VersionID: "null", ETag: `"abc-2"`},
		{ETag: "abc"},
	}
	for _, key := range keys {
		for _, id := range ids {
			raw := s3source.FormatURL(bucket, key, id)
			b, k, got, err := s3source.ParseURL(raw)
			// The version is enough to read; the ETag stands in only without one.
			want := syncer.Identity{VersionID: id.VersionID, Sequencer: id.Sequencer}
			if id.VersionID == "" || id.VersionID == "null" {
				want.VersionID, want.ETag = "", strings.Trim(id.ETag, `"`)
			}
			if err != nil || b != bucket || k != key || got != want {
				t.Errorf("FormatURL(%q, %+v) = %s, read back as %q, %q, %+v, %v; want %+v", key, id, raw, b, k, got, err, want)
			}
		}
	}
}
