package s3server

import (
	"encoding/hex"
	"net/http"
	"strings"
)

// serveRead is GetObject and HeadObject: gofakes3's response is rewritten
// as S3's.
func (s *Server) serveRead(next http.Handler, w http.ResponseWriter, r *http.Request, bucket, key string) {
	version := versionParam(r.URL.Query())
	fwd := r.Clone(r.Context())
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

// objectHeaders puts the version's multipart ETag into gofakes3's
// object headers.
func (s *Server) objectHeaders(h http.Header, bucket, key string) {
	served := strings.Trim(h.Get("ETag"), `"`)
	if obj, err := s.head(bucket, key, h.Get("x-amz-version-id")); err == nil && hex.EncodeToString(obj.Hash) == served {
		s.mu.Lock()
		x := s.extras[versionRef{bucket, key, string(obj.VersionID)}]
		if x != nil && x.etag != "" {
			h.Set("ETag", `"`+x.etag+`"`)
		}
		s.mu.Unlock()
	}
}
