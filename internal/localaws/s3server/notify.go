package s3server

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// created is called after a request created a version of bucket/key: it
// records what S3 keeps about the version (x) and sends its ObjectCreated
// event. h is the response's header, which names the version in a
// versioned bucket; otherwise the version is the key's latest.
func (s *Server) created(name, bucket, key string, h http.Header, r *http.Request, x versionExtra) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, err := s.head(bucket, key, h.Get("x-amz-version-id"))
	if err != nil {
		s.log.Error("s3: object vanished after its write", "bucket", bucket, "key", key, "error", err)
		return
	}
	if x.etag != "" || len(x.tags) > 0 {
		*s.extraLocked(versionRef{bucket, key, string(obj.VersionID)}) = x
	}
	if s.cfg.Notify == nil || bucket != s.cfg.Bucket || !s.matches(key) {
		return
	}
	// The backend numbers versions even in unversioned buckets; S3 events
	// carry a versionId only when versioning is on.
	versionID := string(obj.VersionID)
	if !s.versioned(bucket) {
		versionID = ""
	}
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	now := s.cfg.Now()
	rec := objectCreated(name, s.cfg.Region, s.cfg.ConfigurationID, now, objectInfo{
		Bucket: bucket, Key: key, Size: obj.Size,
		ETag:      s.etagLocked(bucket, key, obj), // what GET, HEAD and lists return
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
