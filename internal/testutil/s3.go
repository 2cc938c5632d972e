package testutil

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// S3 serves an S3-compatible endpoint on loopback (the local stack's, an
// in-memory gofakes3 with S3's tagging, copy and ETag behaviour) with a
// versioned bucket, and returns an aws-sdk-go-v2 client for it that does
// not retry. front, when not nil, wraps the endpoint's handler (to answer
// some requests as S3 would fail them).
func S3(t testing.TB, bucket string, front func(http.Handler) http.Handler) (*s3.Client, *httptest.Server) {
	t.Helper()
	srv, err := s3server.New(s3server.Config{Bucket: bucket, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if front != nil {
		h = front(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	client := s3.New(s3.Options{
		BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Region: "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	})
	return client, ts
}
