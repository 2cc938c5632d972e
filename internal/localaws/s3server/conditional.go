package s3server

import (
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// preconditions evaluates the conditional headers of a GET or HEAD against
// the version's S3 ETag (gofakes3 ignores If-Match) and, when they fail,
// answers as S3 does: 412 PreconditionFailed, or 304 Not Modified. It
// tells whether it answered.
func (s *Server) preconditions(w http.ResponseWriter, r *http.Request, bucket, key string, obj *gofakes3.Object) bool {
	etag := s.etag(bucket, key, obj)
	lastModified, _ := http.ParseTime(obj.Metadata["Last-Modified"])
	failed := ""
	if v := r.Header.Get("If-Match"); v != "" {
		if !etagMatches(v, etag) {
			failed = "If-Match"
		}
	} else if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !lastModified.IsZero() && lastModified.After(t) {
			failed = "If-Unmodified-Since"
		}
	}
	if failed != "" {
		e := newError(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
		e.Condition = failed
		s.writeError(w, r, e)
		return true
	}
	if v := r.Header.Get("If-None-Match"); v != "" && etagMatches(v, etag) {
		s.requestIDs(w.Header())
		w.Header().Set("ETag", `"`+etag+`"`)
		if !lastModified.IsZero() {
			w.Header().Set("Last-Modified", lastModified.UTC().Format(http.TimeFormat))
		}
		if s.versioned(bucket) {
			w.Header().Set("x-amz-version-id", string(obj.VersionID))
		}
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// etagMatches tells whether a condition's list of ETags (quoted or not,
// or "*") names etag.
func etagMatches(list, etag string) bool {
	for c := range strings.SplitSeq(list, ",") {
		c = strings.Trim(strings.TrimPrefix(strings.TrimSpace(c), "W/"), `"`)
		if c == "*" || c == etag {
			return true
		}
	}
	return false
}
