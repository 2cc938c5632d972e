package s3server

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// serveWrite passes a request to gofakes3 and, when it created an object
// version (PUT, CompleteMultipartUpload), records the version's tags and
// multipart ETag and sends its event. Copies are served by serveCopy.
func (s *Server) serveWrite(next http.Handler, w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	uploadID := q.Get("uploadId")
	switch {
	case r.Method == http.MethodPut && !hasSubresource(q):
		tags, ok := s.taggingHeader(w, r)
		if !ok {
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status >= 200 && sw.status <= 299 {
			s.created("ObjectCreated:Put", bucket, key, w.Header(), r, versionExtra{tags: tags})
		}

	case r.Method == http.MethodPost && q.Has("uploads"):
		tags, ok := s.taggingHeader(w, r)
		if !ok {
			return
		}
		b := newBuffered()
		next.ServeHTTP(b, r)
		var res struct {
			UploadID string `xml:"UploadId"`
		}
		if b.ok() && len(tags) > 0 && xml.Unmarshal(b.body.Bytes(), &res) == nil {
			s.mu.Lock()
			s.uploadTags[bucket+"/"+res.UploadID] = tags
			s.mu.Unlock()
		}
		b.sendTo(w, b.body.Bytes())

	case r.Method == http.MethodPost && uploadID != "":
		b := newBuffered()
		next.ServeHTTP(b, r)
		if b.ok() {
			// gofakes3 computes S3's multipart ETag here, and only here.
			var res struct{ ETag string }
			_ = xml.Unmarshal(b.body.Bytes(), &res)
			s.created("ObjectCreated:CompleteMultipartUpload", bucket, key, b.header, r, versionExtra{
				etag: strings.Trim(res.ETag, `"`), tags: s.takeUploadTags(bucket, uploadID),
			})
		}
		b.sendTo(w, b.body.Bytes())

	case r.Method == http.MethodDelete && uploadID != "":
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status >= 200 && sw.status <= 299 {
			s.takeUploadTags(bucket, uploadID)
		}

	default:
		next.ServeHTTP(w, r)
	}
}

func (s *Server) takeUploadTags(bucket, uploadID string) []tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags := s.uploadTags[bucket+"/"+uploadID]
	delete(s.uploadTags, bucket+"/"+uploadID)
	return tags
}

// taggingHeader reads and checks x-amz-tagging, and takes it off the
// request, which gofakes3 would otherwise store as metadata. On an error
// it has answered the request.
func (s *Server) taggingHeader(w http.ResponseWriter, r *http.Request) ([]tag, bool) {
	v, ok := r.Header["X-Amz-Tagging"]
	if !ok {
		return nil, true
	}
	r.Header.Del("X-Amz-Tagging")
	tags, err := parseTaggingHeader(strings.Join(v, "&"))
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	return tags, true
}
