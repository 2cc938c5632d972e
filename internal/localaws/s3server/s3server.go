// Package s3server is the local stack's S3: gofakes3 with an in-memory,
// versioned backend, plus S3 event notifications. Every completed upload to
// the notified bucket (PUT, copy, CompleteMultipartUpload) produces an
// ObjectCreated event in S3's shape, handed to a callback in upload order.
package s3server

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	mu      sync.Mutex // orders sequencers and notifications
	lastSeq uint64
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
	s := &Server{cfg: cfg, log: cfg.Logger, backend: s3mem.New()}
	if err := s.backend.CreateBucket(cfg.Bucket); err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", cfg.Bucket, err)
	}
	if !cfg.Unversioned {
		if err := s.backend.SetVersioningConfiguration(cfg.Bucket, gofakes3.VersioningConfiguration{Status: gofakes3.VersioningEnabled}); err != nil {
			return nil, fmt.Errorf("enable versioning on %s: %w", cfg.Bucket, err)
		}
	}
	faker := gofakes3.New(s.backend, gofakes3.WithLogger(slogAdapter{s.log}))
	s.handler = s.notifying(faker.Server())
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

// notifying wraps the S3 API: after a successful object-creating request it
// reads the new object's size, ETag and version from the backend and emits
// an event.
func (s *Server) notifying(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := eventName(r)
		if name == "" || s.cfg.Notify == nil {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status < 200 || sw.status > 299 {
			return
		}
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if bucket != s.cfg.Bucket || !s.matches(key) {
			return
		}
		s.emit(name, bucket, key, w.Header(), r)
	})
}

// eventName is the ObjectCreated event a successful request r produces, or
// "" when it creates no object. Routing mirrors gofakes3's.
func eventName(r *http.Request) string {
	q := r.URL.Query()
	_, bucketOnly, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucketOnly == "" {
		return "" // bucket-level request (browser POST uploads are not supported)
	}
	switch {
	case r.Method == http.MethodPost && q.Get("uploadId") != "":
		return "ObjectCreated:CompleteMultipartUpload"
	case r.Method != http.MethodPut:
		return ""
	case q.Has("uploadId"), q.Has("uploads"), q.Has("versioning"), q.Has("versions"), q.Has("versionId"),
		q.Has("tagging"), q.Has("acl"), q.Has("retention"), q.Has("legal-hold"):
		return ""
	case r.Header.Get("X-Amz-Copy-Source") != "":
		return "ObjectCreated:Copy"
	default:
		return "ObjectCreated:Put"
	}
}

func (s *Server) matches(key string) bool {
	if len(s.cfg.Suffixes) == 0 {
		return true
	}
	for _, suf := range s.cfg.Suffixes {
		if strings.HasSuffix(key, suf) {
			return true
		}
	}
	return false
}

func (s *Server) emit(name, bucket, key string, h http.Header, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The response names the new version, except for a copy, where
	// gofakes3 returns the source's version: read the key's latest then.
	version := h.Get("x-amz-version-id")
	var obj *gofakes3.Object
	var err error
	if version != "" && name != "ObjectCreated:Copy" {
		obj, err = s.backend.HeadObjectVersion(bucket, key, gofakes3.VersionID(version))
	} else {
		obj, err = s.backend.HeadObject(bucket, key)
	}
	if err != nil {
		s.log.Error("s3 notification: object vanished before its event", "bucket", bucket, "key", key, "error", err)
		return
	}
	if obj.Contents != nil {
		obj.Contents.Close()
	}
	// The backend numbers versions even in unversioned buckets; S3 events
	// carry a versionId only when versioning is on.
	versionID := string(obj.VersionID)
	if vc, err := s.backend.VersioningConfiguration(bucket); err != nil || vc.Status != gofakes3.VersioningEnabled {
		versionID = ""
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := s.cfg.Now()
	rec := objectCreated(name, s.cfg.Region, s.cfg.ConfigurationID, now, objectInfo{
		Bucket: bucket, Key: key, Size: obj.Size,
		// The backend's ETag (what GET and HEAD return), which for a
		// multipart upload here is the MD5 of the whole object.
		ETag:      hex.EncodeToString(obj.Hash),
		VersionID: versionID,
		Sequencer: s.nextSequencer(now),
		RequestID: h.Get("x-amz-request-id"), HostID: h.Get("x-amz-id-2"),
		SourceIP: ip,
	})
	b, err := MarshalEvent(events.S3Event{Records: []events.S3EventRecord{rec}})
	if err != nil {
		s.log.Error("s3 notification: encode event", "error", err)
		return
	}
	s.log.Info("s3 event", "event", name, "bucket", bucket, "key", key, "size", obj.Size,
		"version_id", rec.S3.Object.VersionID, "sequencer", rec.S3.Object.Sequencer)
	s.cfg.Notify(b)
}

// nextSequencer is S3-shaped (18 hex digits) and increases across restarts
// of the local stack: it starts from the clock, because the database keeps
// the sequencers of applied snapshots and rejects older ones as stale.
func (s *Server) nextSequencer(now time.Time) string {
	n := uint64(now.UnixNano())
	if n <= s.lastSeq {
		n = s.lastSeq + 1
	}
	s.lastSeq = n
	return fmt.Sprintf("%018X", n)
}

type statusWriter struct {
	http.ResponseWriter
	status  int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.status, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.written = true
	return w.ResponseWriter.Write(p)
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
