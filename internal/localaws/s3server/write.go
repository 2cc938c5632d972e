package s3server

import "net/http"

// serveWrite passes a request to gofakes3 and, when it created an object
// version (PUT, CompleteMultipartUpload), sends its event.
// Copies are served by serveCopy.
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
			s.created("ObjectCreated:CompleteMultipartUpload", bucket, key, b.header, r, versionExtra{})
		}
		b.sendTo(w, b.body.Bytes())

	default:
		next.ServeHTTP(w, r)
	}
}
