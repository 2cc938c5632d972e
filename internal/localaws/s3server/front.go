package s3server

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// front serves the requests gofakes3 lacks or gets wrong and rewrites its
// responses where S3's differ; the rest passes through to next, gofakes3,
// which keeps the objects.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		q := r.URL.Query()
		copySource := r.Header.Get("X-Amz-Copy-Source") != ""
		switch {
		case bucket == "":
			next.ServeHTTP(w, r)
		case key == "":
			if r.Method == http.MethodGet && isListing(q) {
				s.serveList(next, w, r, bucket)
				return
			}
			next.ServeHTTP(w, r)
		case q.Has("tagging"):
			s.serveTagging(w, r, bucket, key)
		case r.Method == http.MethodPut && copySource && q.Has("uploadId"):
			s.serveCopyPart(next, w, r, bucket, key)
		case r.Method == http.MethodPut && copySource && !hasSubresource(q):
			s.serveCopy(w, r, bucket, key)
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && !hasSubresource(q, "versionId"):
			s.serveRead(next, w, r, bucket, key)
		default:
			s.serveWrite(next, w, r, bucket, key)
		}
	})
}

// subresources are the query parameters that make a request on an object
// something other than a read or write of its content.
var subresources = []string{
	"uploadId", "uploads", "versioning", "versions", "versionId", "tagging", "acl",
	"retention", "legal-hold", "attributes", "torrent", "restore", "select",
}

func hasSubresource(q map[string][]string, except ...string) bool {
	for _, p := range subresources {
		if _, ok := q[p]; ok && !slices.Contains(except, p) {
			return true
		}
	}
	return false
}

// isListing tells a ListObjects(V2) or ListObjectVersions request from the
// other GETs on a bucket.
func isListing(q map[string][]string) bool {
	for _, p := range []string{"location", "uploads", "versioning", "tagging", "acl", "policy", "cors", "lifecycle", "notification", "encryption", "website", "logging", "replication", "ownershipControls", "object-lock", "accelerate", "requestPayment", "analytics", "metrics", "inventory", "intelligent-tiering", "publicAccessBlock", "policyStatus"} {
		if _, ok := q[p]; ok {
			return false
		}
	}
	return true
}

// statusWriter records the status of a response it passes through.
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

// buffered holds a (small) gofakes3 response to read or rewrite before it
// is sent.
type buffered struct {
	header  http.Header
	status  int
	written bool
	body    bytes.Buffer
}

func newBuffered() *buffered { return &buffered{header: http.Header{}, status: http.StatusOK} }

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(code int) {
	if !b.written {
		b.status, b.written = code, true
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	b.written = true
	return b.body.Write(p)
}

func (b *buffered) ok() bool { return b.status >= 200 && b.status <= 299 }

// sendTo writes the response, with body in place of the buffered one.
func (b *buffered) sendTo(w http.ResponseWriter, body []byte) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(b.status)
	_, _ = w.Write(body)
}
