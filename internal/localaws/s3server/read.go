package s3server

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// serveRead is GetObject and HeadObject: conditions are evaluated here
// against S3's ETag, and gofakes3's response is rewritten as S3's.
func (s *Server) serveRead(next http.Handler, w http.ResponseWriter, r *http.Request, bucket, key string) {
	version := versionParam(r.URL.Query())
	fwd := r.Clone(r.Context())
	if obj, err := s.head(bucket, key, version); err == nil {
		if s.preconditions(w, r, bucket, key, obj) {
			return
		}
		// gofakes3 compares If-None-Match with the MD5 only.
		for _, h := range []string{"If-Match", "If-None-Match", "If-Unmodified-Since"} {
			fwd.Header.Del(h)
		}
		if r.Header.Get("If-None-Match") != "" {
			fwd.Header.Del("If-Modified-Since") // ignored then, as HTTP says
		}
	}
	if r.Method == http.MethodHead && version != "" {
		// gofakes3's HEAD ignores versionId; its GET does not, and the
		// body is dropped below.
		fwd.Method = http.MethodGet
	}
	ow := &objectWriter{ResponseWriter: w, s: s, bucket: bucket, key: key, head: r.Method == http.MethodHead}
	next.ServeHTTP(ow, fwd)
	if !ow.wrote {
		ow.WriteHeader(http.StatusOK) // gofakes3's HEAD leaves it implicit
	}
}

// objectWriter rewrites the headers of a successful GET or HEAD before
// they are sent.
type objectWriter struct {
	http.ResponseWriter
	s           *Server
	bucket, key string
	head        bool
	wrote       bool
}

func (o *objectWriter) WriteHeader(code int) {
	if o.wrote {
		return // gofakes3's error after a failed body write: too late
	}
	o.wrote = true
	if code == http.StatusOK || code == http.StatusPartialContent {
		o.s.objectHeaders(o.Header(), o.bucket, o.key)
	}
	o.ResponseWriter.WriteHeader(code)
}

func (o *objectWriter) Write(p []byte) (int, error) {
	if !o.wrote {
		o.WriteHeader(http.StatusOK)
	}
	if o.head {
		return len(p), nil
	}
	return o.ResponseWriter.Write(p)
}

// keptHeaders are the x-amz-* headers S3 sends with an object. gofakes3
// also stores every x-amz-* header of the upload request (x-amz-date,
// x-amz-checksum-*, ...) and sends them back, carried over to later
// versions: a stale x-amz-checksum-crc32 fails boto3's validation.
var keptHeaders = map[string]bool{
	"x-amz-version-id": true, "x-amz-delete-marker": true, "x-amz-request-id": true, "x-amz-id-2": true,
	"x-amz-tagging-count": true, "x-amz-website-redirect-location": true, "x-amz-storage-class": true,
	"x-amz-server-side-encryption": true, "x-amz-restore": true, "x-amz-expiration": true,
	"x-amz-object-lock-mode": true, "x-amz-object-lock-retain-until-date": true, "x-amz-object-lock-legal-hold": true,
}

// objectHeaders makes gofakes3's object headers S3's: the version's
// multipart ETag and tag count, lowercase user metadata names (Go
// canonicalizes X-Amz-Meta-Clinic; S3 sends x-amz-meta-clinic, and
// clients keep the case they get), no version id in an unversioned bucket.
func (s *Server) objectHeaders(h http.Header, bucket, key string) {
	served := strings.Trim(h.Get("ETag"), `"`)
	if obj, err := s.head(bucket, key, h.Get("x-amz-version-id")); err == nil && hex.EncodeToString(obj.Hash) == served {
		s.mu.Lock()
		x := s.extras[versionRef{bucket, key, string(obj.VersionID)}]
		if x != nil && x.etag != "" {
			h.Set("ETag", `"`+x.etag+`"`)
		}
		if x != nil && len(x.tags) > 0 {
			h.Set("x-amz-tagging-count", strconv.Itoa(len(x.tags)))
		}
		s.mu.Unlock()
	}
	if !s.versioned(bucket) {
		h.Del("x-amz-version-id")
	}
	for k, v := range h {
		lower := strings.ToLower(k)
		switch {
		case strings.HasPrefix(lower, "x-amz-meta-"):
			delete(h, k)
			h[lower] = v
		case strings.HasPrefix(lower, "x-amz-") && !keptHeaders[lower]:
			delete(h, k)
		}
	}
}
