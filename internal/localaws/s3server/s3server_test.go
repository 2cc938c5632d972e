package s3server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

const bucket = "snapshots"

type sink struct {
	mu     sync.Mutex
	events [][]byte
}

func (s *sink) add(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, b)
}

func (s *sink) all() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.events...)
}

func newServer(t *testing.T, cfg s3server.Config) (*s3.Client, *sink) {
	t.Helper()
	client, got, _ := newServerURL(t, cfg)
	return client, got
}

// newServerURL also returns the endpoint's URL, for clients other than the
// SDK.
func newServerURL(t *testing.T, cfg s3server.Config) (*s3.Client, *sink, string) {
	t.Helper()
	got := &sink{}
	cfg.Bucket = bucket
	cfg.Notify = got.add
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := s3server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(hs.URL),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	return client, got, hs.URL
}

// decode parses an event the way the sync Lambda does, and checks the raw
// JSON for S3's wire details.
func decode(t *testing.T, raw []byte) events.S3EventRecord {
	t.Helper()
	var m struct {
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Records) != 1 {
		t.Fatalf("event %s: %v, %d records; want 1", raw, err, len(m.Records))
	}
	if ts, _ := m.Records[0]["eventTime"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(ts) {
		t.Errorf("eventTime %q; want S3's 2006-01-02T15:04:05.000Z form", ts)
	}
	obj := m.Records[0]["s3"].(map[string]any)["object"].(map[string]any)
	if _, ok := obj["urlDecodedKey"]; ok {
		t.Errorf("event has urlDecodedKey, which S3 never sends: %s", raw)
	}
	if _, ok := obj["size"]; !ok {
		t.Errorf("event lacks size: %s", raw)
	}
	var e events.S3Event
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e.Records[0]
}

func put(t *testing.T, c *s3.Client, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body),
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return out
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestPutProducesEvent(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, wantKey string
	}{
		{"patients.json", "patients.json"},
		{"clinic a/payments 2026+1.json", "clinic+a/payments+2026%2B1.json"},
		{"in/b/patients.json.gz", "in/b/patients.json.gz"},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			t.Parallel()
			client, got := newServer(t, s3server.Config{Suffixes: []string{".json", ".json.gz"}})
			body := `[{"externalId":"1"}]`
			out := put(t, client, c.key, body)
			evs := got.all()
			if len(evs) != 1 {
				t.Fatalf("%d events; want 1", len(evs))
			}
			r := decode(t, evs[0])
			if r.EventName != "ObjectCreated:Put" || r.EventSource != "aws:s3" || r.EventVersion != "2.1" || r.AWSRegion != "us-east-1" {
				t.Errorf("record header %+v", r)
			}
			if r.S3.Bucket.Name != bucket || r.S3.Bucket.Arn != "arn:aws:s3:::"+bucket {
				t.Errorf("bucket %+v", r.S3.Bucket)
			}
			o := r.S3.Object
			if o.Key != c.wantKey || o.URLDecodedKey != c.key {
				t.Errorf("key %q (decoded %q); want %q (%q)", o.Key, o.URLDecodedKey, c.wantKey, c.key)
			}
			if o.Size != int64(len(body)) || o.ETag != md5hex(body) {
				t.Errorf("size %d etag %s; want %d %s", o.Size, o.ETag, len(body), md5hex(body))
			}
			if o.VersionID == "" || o.VersionID != aws.ToString(out.VersionId) {
				t.Errorf("versionId %q; want the PUT's %q", o.VersionID, aws.ToString(out.VersionId))
			}
			if !regexp.MustCompile(`^[0-9A-F]{18}$`).MatchString(o.Sequencer) {
				t.Errorf("sequencer %q; want 18 hex digits", o.Sequencer)
			}
			if r.ResponseElements["x-amz-request-id"] == "" || r.RequestParameters.SourceIPAddress != "127.0.0.1" {
				t.Errorf("request details %+v %+v", r.ResponseElements, r.RequestParameters)
			}
		})
	}
}

func TestEverySuccessfulWriteIsEventedInOrder(t *testing.T) {
	t.Parallel()
	client, got := newServer(t, s3server.Config{Suffixes: []string{".json"}})
	ctx := context.Background()
	put(t, client, "patients.json", "v1")
	put(t, client, "patients.json", "v2 longer")
	put(t, client, "notes.txt", "filtered by suffix")
	// Not the notified bucket.
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("patients.json"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	// A failed write creates nothing.
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("missing"), Key: aws.String("patients.json"), Body: strings.NewReader("x")}); err == nil {
		t.Fatal("put to a missing bucket succeeded")
	}
	if _, err := client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("payments.json"), CopySource: aws.String(bucket + "/patients.json"),
	}); err != nil {
		t.Fatal(err)
	}

	// Multipart: parts produce nothing, completion one event.
	create, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("payments.json")})
	if err != nil {
		t.Fatal(err)
	}
	parts := []string{strings.Repeat("a", 5<<20), "tail"}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String("payments.json"), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader(p),
		})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if len(got.all()) != 3 {
		t.Fatalf("%d events before completing the multipart upload; want 3", len(got.all()))
	}
	complete, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("payments.json"), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatal(err)
	}

	evs := got.all()
	want := []struct{ name, key string }{
		{"ObjectCreated:Put", "patients.json"},
		{"ObjectCreated:Put", "patients.json"},
		{"ObjectCreated:Copy", "payments.json"},
		{"ObjectCreated:CompleteMultipartUpload", "payments.json"},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d events; want %d", len(evs), len(want))
	}
	var recs []events.S3EventRecord
	for i, raw := range evs {
		r := decode(t, raw)
		recs = append(recs, r)
		if r.EventName != want[i].name || r.S3.Object.Key != want[i].key {
			t.Errorf("event %d: %s %s; want %s %s", i, r.EventName, r.S3.Object.Key, want[i].name, want[i].key)
		}
		if i > 0 && r.S3.Object.Sequencer <= recs[i-1].S3.Object.Sequencer {
			t.Errorf("sequencer %s after %s; want increasing", r.S3.Object.Sequencer, recs[i-1].S3.Object.Sequencer)
		}
	}
	if recs[0].S3.Object.VersionID == recs[1].S3.Object.VersionID {
		t.Error("two writes of one key share a versionId")
	}
	if recs[1].S3.Object.Size != int64(len("v2 longer")) {
		t.Errorf("second put size %d", recs[1].S3.Object.Size)
	}

	mp := recs[3].S3.Object
	if mp.Size != int64(len(parts[0])+len(parts[1])) || mp.VersionID != aws.ToString(complete.VersionId) {
		t.Errorf("multipart event size %d version %q; want %d %q", mp.Size, mp.VersionID, len(parts[0])+len(parts[1]), aws.ToString(complete.VersionId))
	}
	// The event names exactly the object a GET by version returns.
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json"), VersionId: aws.String(mp.VersionID)})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if strings.Trim(aws.ToString(obj.ETag), `"`) != mp.ETag || !bytes.Equal(body, []byte(parts[0]+parts[1])) {
		t.Errorf("GET by version: etag %s (event %s), %d bytes", aws.ToString(obj.ETag), mp.ETag, len(body))
	}
}

func TestUnversionedBucketHasNoVersionID(t *testing.T) {
	t.Parallel()
	client, got := newServer(t, s3server.Config{Unversioned: true})
	put(t, client, "patients.json", "x")
	evs := got.all()
	if len(evs) != 1 {
		t.Fatalf("%d events; want 1", len(evs))
	}
	if bytes.Contains(evs[0], []byte("versionId")) {
		t.Errorf("unversioned event has a versionId: %s", evs[0])
	}
}

func TestEncodeKey(t *testing.T) {
	cases := map[string]string{
		"patients.json":             "patients.json",
		"a b.json":                  "a+b.json",
		"a+b.json":                  "a%2Bb.json",
		"dir/sub dir/x.json":        "dir/sub+dir/x.json",
		"t=2026-01-01T00:00.json":   "t%3D2026-01-01T00%3A00.json",
		"ünïcode.json":              "%C3%BCn%C3%AFcode.json",
		"already%20encoded.json.gz": "already%2520encoded.json.gz",
	}
	for in, want := range cases {
		if got := s3server.EncodeKey(in); got != want {
			t.Errorf("EncodeKey(%q) = %q; want %q", in, got, want)
		}
	}
}

// apiCode is the S3 error code of err, or "" when err is no API error.
func apiCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
