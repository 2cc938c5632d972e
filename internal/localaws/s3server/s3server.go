// Package s3server is the local stack's S3: gofakes3 with an in-memory,
// versioned backend, plus S3 event notifications. Every completed upload to
// the notified bucket (PUT, copy, CompleteMultipartUpload) produces an
// ObjectCreated event in S3's shape, handed to a callback in upload order.
//
// A front handler (front.go) serves what gofakes3 lacks or gets wrong
// where real clients (the SDKs, boto3, the aws CLI) notice, and rewrites
// its responses where S3's differ. gofakes3 still stores the objects; what
// S3 keeps per version beyond them is kept in the Server.
package s3server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Config describes the endpoint and its one notification configuration.
type Config struct {
	Bucket string // created at start, with versioning unless Unversioned
	// Unversioned leaves versioning off: events then carry no versionId, as
	// S3's do for unversioned buckets.
	Unversioned bool
	Region      string // awsRegion of events (default us-east-1)
	// Suffixes filters the keys that produce events (the notification's
	// suffix rules); empty means every key.
	Suffixes []string
	// ConfigurationID names the notification configuration in events.
	ConfigurationID string
	// Notify receives each event as JSON. It is called in sequencer order,
	// under a lock: it must not block (enqueue and return).
	Notify func(event []byte)
	Logger *slog.Logger
	Now    func() time.Time
}

// Server is an S3-compatible HTTP handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	backend *s3mem.Backend
	handler http.Handler

	mu      sync.Mutex // orders sequencers and notifications; guards the maps
	lastSeq uint64
	// extras holds what S3 keeps per version beyond the backend's object.
	extras map[versionRef]*versionExtra
	// uploadTags are the tags of multipart uploads in progress, by
	// bucket+"/"+upload id, for the version their completion creates.
	uploadTags map[string][]tag

	requests uint64 // request ids of responses written here (atomic)
}

// New creates the backend and the bucket.
func New(cfg Config) (*Server, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3server: bucket name is empty")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.ConfigurationID == "" {
		cfg.ConfigurationID = "local-notification"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg: cfg, log: cfg.Logger, backend: s3mem.New(),
		extras: map[versionRef]*versionExtra{}, uploadTags: map[string][]tag{},
	}
	if err := s.backend.CreateBucket(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
	}
	if !cfg.Unversioned {
		if err := s.backend.SetVersioningConfiguration(cfg.Bucket, gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled}); err != nil {
			return nil, fmt.Errorf("enable versioning on %s: %w", cfg.Bucket, err)
		}
	}
	faker := gofakes3.New(s.backend, gofakes3.WithLogger(slogAdapter{s.log}))
	s.handler = s.front(faker.Server())
	return s, nil
}

// Handler serves the S3 API (path-style addressing).
func (s *Server) Handler() http.Handler { return s.handler }

// TestEvent is the s3:TestEvent S3 sends when a notification configuration
// is put; functions must treat it as a no-op.
func (s *Server) TestEvent() []byte {
	b, _ := MarshalTestEvent(events.S3TestEvent{
		Service: "Amazon S3", Event: "s3:TestEvent", Bucket: s.cfg.Bucket,
		Time: s.cfg.Now(), RequestID: fmt.Sprintf("%016X", s.cfg.Now().UnixNano()), HostID: "local",
	})
	return b
}

// MarshalTestEvent writes an s3:TestEvent with S3's time format.
func MarshalTestEvent(e events.S3TestEvent) ([]byte, error) {
	return json.Marshal(struct {
		Service   string `json:"Service"`
		Event     string `json:"Event"`
		Time      string `json:"Time"`
		Bucket    string `json:"Bucket"`
		RequestID string `json:"RequestId"`
		HostID    string `json:"HostId"`
	}{e.Service, e.Event, e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), e.Bucket, e.RequestID, e.HostID})
}

// slogAdapter sends gofakes3's per-request chatter to debug level.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Print(level gofakes3.LogLevel, v ...any) {
	msg := strings.TrimSpace(fmt.Sprintln(v...))
	switch level {
	case gofakes3.LogErr:
		a.log.Error("gofakes3: " + msg)
	case gofakes3.LogWarn:
		a.log.Warn("gofakes3: " + msg)
	default:
		a.log.Debug("gofakes3: " + msg)
	}
}
