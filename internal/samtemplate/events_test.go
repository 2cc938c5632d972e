package samtemplate_test

// The sample events in events/ must look exactly like what AWS sends and
// agree with template.yaml: the S3 puts the template subscribes to pass its
// suffix filters, the one it does not subscribe to fails them, and every
// HTTP API event names a route the template has.

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/testutil"
)

// s3Notification is the S3 event message, version 2.1, field for field;
// decoding with DisallowUnknownFields rejects anything else.
type s3Notification struct {
	Records []struct {
		EventVersion string `json:"eventVersion"`
		EventSource  string `json:"eventSource"`
		AWSRegion    string `json:"awsRegion"`
		EventTime    string `json:"eventTime"`
		EventName    string `json:"eventName"`
		UserIdentity struct {
			PrincipalID string `json:"principalId"`
		} `json:"userIdentity"`
		RequestParameters struct {
			SourceIPAddress string `json:"sourceIPAddress"`
		} `json:"requestParameters"`
		ResponseElements struct {
			RequestID string `json:"x-amz-request-id"`
			ID2       string `json:"x-amz-id-2"`
		} `json:"responseElements"`
		S3 struct {
			SchemaVersion   string `json:"s3SchemaVersion"`
			ConfigurationID string `json:"configurationId"`
			Bucket          struct {
				Name          string `json:"name"`
				OwnerIdentity struct {
					PrincipalID string `json:"principalId"`
				} `json:"ownerIdentity"`
				ARN string `json:"arn"`
			} `json:"bucket"`
			Object struct {
				Key       string `json:"key"`
				Size      *int64 `json:"size"`
				ETag      string `json:"eTag"`
				VersionID string `json:"versionId"`
				Sequencer string `json:"sequencer"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

type s3TestEvent struct {
	Service   string `json:"Service"`
	Event     string `json:"Event"`
	Time      string `json:"Time"`
	Bucket    string `json:"Bucket"`
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

var (
	hexSequencer = regexp.MustCompile(`^[0-9A-F]{16,}$`)
	md5ETag      = regexp.MustCompile(`^[0-9a-f]{32}$`)
	multipartTag = regexp.MustCompile(`^[0-9a-f]{32}-[1-9][0-9]*$`)
)

func TestSampleS3Events(t *testing.T) {
	t.Parallel()
	s, _, root := load(t)
	var suffixes []string
	for _, e := range s3Events(s.tpl) {
		suffixes = append(suffixes, e.suffixes...)
	}
	tests := []struct {
		file       string
		eventName  string
		decodedKey string
		multipart  bool
		subscribed bool // passes the template's suffix filters
	}{
		{"s3-put-patients.json", "ObjectCreated:Put", "patients.json", false, true},
		{"s3-put-payments.json", "ObjectCreated:Put", "payments.json", false, true},
		{"s3-put-payments-gz.json", "ObjectCreated:CompleteMultipartUpload", "payments.json.gz", true, true},
		// S3 form-encodes keys: a space arrives as '+', a literal '+' as %2B.
		{"s3-put-key-with-spaces.json", "ObjectCreated:Put", "clinic a/daily export/patients + copy.json", false, true},
		{"s3-put-ignored.json", "ObjectCreated:Put", "notes/readme.txt", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			var n s3Notification
			decodeStrict(t, filepath.Join(root, "events", tc.file), &n)
			if len(n.Records) != 1 {
				t.Fatalf("%d records, want 1", len(n.Records))
			}
			r := n.Records[0]
			if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.AWSRegion == "" || r.S3.SchemaVersion != "1.0" {
				t.Errorf("header: version %q source %q region %q schema %q", r.EventVersion, r.EventSource, r.AWSRegion, r.S3.SchemaVersion)
			}
			if r.EventName != tc.eventName {
				t.Errorf("eventName %q, want %q", r.EventName, tc.eventName)
			}
			if _, err := time.Parse("2006-01-02T15:04:05.000Z", r.EventTime); err != nil {
				t.Errorf("eventTime %q is not S3's ISO-8601 with milliseconds: %v", r.EventTime, err)
			}
			if r.UserIdentity.PrincipalID == "" || r.RequestParameters.SourceIPAddress == "" ||
				r.ResponseElements.RequestID == "" || r.ResponseElements.ID2 == "" || r.S3.ConfigurationID == "" {
				t.Error("userIdentity, requestParameters, responseElements and configurationId must be filled")
			}
			b := r.S3.Bucket
			if b.Name != "patientsync-snapshots" || b.ARN != "arn:aws:s3:::"+b.Name || b.OwnerIdentity.PrincipalID == "" {
				t.Errorf("bucket %+v", b)
			}
			o := r.S3.Object
			key, err := url.QueryUnescape(o.Key)
			if err != nil || key != tc.decodedKey {
				t.Errorf("key %q decodes to %q (%v), want %q", o.Key, key, err, tc.decodedKey)
			}
			if o.Size == nil || *o.Size <= 0 {
				t.Errorf("size %v", o.Size)
			}
			if tc.multipart != multipartTag.MatchString(o.ETag) || (!tc.multipart && !md5ETag.MatchString(o.ETag)) {
				t.Errorf("eTag %q (multipart %v)", o.ETag, tc.multipart)
			}
			if tc.multipart && *o.Size <= 5<<20 {
				t.Errorf("a multipart object has parts of at least 5 MiB: size %d", *o.Size)
			}
			if !hexSequencer.MatchString(o.Sequencer) || o.VersionID == "" {
				t.Errorf("sequencer %q versionId %q (the bucket is versioned)", o.Sequencer, o.VersionID)
			}
			matched := false
			for _, sfx := range suffixes {
				matched = matched || strings.HasSuffix(key, sfx)
			}
			if matched != tc.subscribed {
				t.Errorf("key %q passes the template's suffix filters %v: %v, want %v", key, suffixes, matched, tc.subscribed)
			}
		})
	}
}

func TestSampleS3TestEvent(t *testing.T) {
	t.Parallel()
	root := testutil.RepoRoot(t)
	path := filepath.Join(root, "events", "s3-test-event.json")
	var e s3TestEvent
	decodeStrict(t, path, &e)
	if e.Service != "Amazon S3" || e.Event != "s3:TestEvent" || e.Bucket != "patientsync-snapshots" || e.RequestID == "" || e.HostID == "" {
		t.Errorf("test event %+v", e)
	}
	if _, err := time.Parse(time.RFC3339Nano, e.Time); err != nil {
		t.Errorf("Time %q: %v", e.Time, err)
	}
	// It has no Records: handlers must treat it as a no-op.
	var n s3Notification
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &n); err != nil || len(n.Records) != 0 {
		t.Errorf("the test event decodes to %d records (%v), want 0", len(n.Records), err)
	}
}

// TestSampleAPIEventsHitTemplateRoutes: the HTTP API v2 events are routed by
// routeKey, which must be one of the template's routes.
func TestSampleAPIEventsHitTemplateRoutes(t *testing.T) {
	t.Parallel()
	s, _, root := load(t)
	files, err := filepath.Glob(filepath.Join(root, "events", "api-*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no events/api-*.json")
	}
	have := map[string]bool{}
	for _, r := range routes(s.tpl) {
		have[r.method+" "+r.path] = true
	}
	for _, f := range files {
		var e struct {
			Version  string `json:"version"`
			RouteKey string `json:"routeKey"`
			RawPath  string `json:"rawPath"`
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if e.Version != "2.0" || !have[e.RouteKey] || !strings.HasSuffix(e.RouteKey, " "+e.RawPath) {
			t.Errorf("%s: version %q routeKey %q rawPath %q; template routes %v", filepath.Base(f), e.Version, e.RouteKey, e.RawPath, have)
		}
	}
}
