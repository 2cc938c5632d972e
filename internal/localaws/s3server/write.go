package s3server

import (
	"encoding/xml"
	"net/http"
	"strings"
)

// serveWrite passes a request to gofakes3 and, when it created an object
// version (PUT, CompleteMultipartUpload), records the version's multipart
// ETag and sends its event. Copies are served by serveCopy.
func (s *Server) serveWrite(next http.Handler, w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	uploadID := q.Get("uploadId")
	switch {
	case r.Method == http.MethodPut && !hasSubresource(q):
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		if sw.status >= 200 && sw.status <= 299 {
			s.created("ObjectCreated:Put", bucket, key, w.Header(), r, versionExtra{})
		}

	case r.Method == http.MethodPost && uploadID != "":
		b := newBuffered()
		next.ServeHTTP(b, r)
		if b.ok() {
			// gofakes3 computes S3's multipart ETag here, and only here.
			var res struct{ ETag string }
			_ = xml.Unmarshal(b.body.Bytes(), &res)
			s.created("ObjectCreated:CompleteMultipartUpload", bucket, key, b.header, r, versionExtra{
				etag: strings.Trim(res.ETag, `"`),
			})
		}
		b.sendTo(w, b.body.Bytes())

	default:
		next.ServeHTTP(w, r)
	}
}
