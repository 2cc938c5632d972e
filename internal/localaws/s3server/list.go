package s3server

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"html"
	"net/http"
	"regexp"
)

var (
	listEntry = regexp.MustCompile(`(?s)<(Contents|Version)>.*?</(?:Contents|Version)>`)
	listETag  = regexp.MustCompile(`<ETag>[^<]*</ETag>`)
)

// serveList passes ListObjects(V2) and ListObjectVersions to gofakes3 and
// puts the multipart ETags of the versions listed into its answer.
func (s *Server) serveList(next http.Handler, w http.ResponseWriter, r *http.Request, bucket string) {
	s.mu.Lock()
	keys := map[string]bool{} // keys with a multipart version
	for ref, x := range s.extras {
		if ref.bucket == bucket && x.etag != "" {
			keys[ref.key] = true
		}
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		next.ServeHTTP(w, r)
		return
	}
	b := newBuffered()
	next.ServeHTTP(b, r)
	body := b.body.Bytes()
	if b.ok() {
		body = listEntry.ReplaceAllFunc(body, func(entry []byte) []byte {
			var e struct{ Key, VersionId, ETag string }
			if xml.Unmarshal(entry, &e) != nil || !keys[e.Key] {
				return entry
			}
			obj, err := s.head(bucket, e.Key, e.VersionId)
			if err != nil || `"`+hex.EncodeToString(obj.Hash)+`"` != e.ETag {
				return entry
			}
			etag := html.EscapeString(`"` + s.etag(bucket, e.Key, obj) + `"`)
			return listETag.ReplaceAll(entry, bytes.ReplaceAll([]byte("<ETag>"+etag+"</ETag>"), []byte("$"), []byte("$$")))
		})
	}
	b.sendTo(w, body)
}
