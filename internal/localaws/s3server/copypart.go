package s3server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// serveCopyPart is UploadPartCopy: PUT ?partNumber&uploadId with
// x-amz-copy-source (optionally ?versionId=) and x-amz-copy-source-range.
// gofakes3 takes it for an UploadPart without a body. This reads the range
// of the source version and hands gofakes3 an ordinary UploadPart of those
// bytes, whose ETag (their MD5, as in S3) goes into S3's CopyPartResult.
func (s *Server) serveCopyPart(next http.Handler, w http.ResponseWriter, r *http.Request, bucket, key string) {
	src, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, data, err := s.readSource(src)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rng := r.Header.Get("X-Amz-Copy-Source-Range"); rng != "" {
		if data, err = sourceRange(data, rng); err != nil {
			s.writeError(w, r, err)
			return
		}
	}

	part := r.Clone(r.Context())
	part.Header = http.Header{"Content-Length": {strconv.Itoa(len(data))}}
	part.ContentLength = int64(len(data))
	part.Body = io.NopCloser(bytes.NewReader(data))
	b := newBuffered()
	next.ServeHTTP(b, part)
	if !b.ok() {
		b.sendTo(w, b.body.Bytes()) // gofakes3's error (NoSuchUpload, InvalidPart)
		return
	}
	for _, h := range []string{"x-amz-request-id", "x-amz-id-2", "Server"} {
		w.Header().Set(h, b.header.Get(h))
	}
	if s.versioned(src.bucket) {
		w.Header().Set("x-amz-copy-source-version-id", string(obj.VersionID))
	}
	s.writeXML(w, http.StatusOK, copyResult("CopyPartResult", strings.Trim(b.header.Get("ETag"), `"`), s.cfg.Now()))
}

var rangePattern = regexp.MustCompile(`^bytes=(\d+)-(\d+)$`)

// sourceRange is the inclusive byte range "bytes=first-last" of data, with
// S3's errors.
func sourceRange(data []byte, rng string) ([]byte, error) {
	m := rangePattern.FindStringSubmatch(rng)
	var first, last int64
	if m != nil {
		first, _ = strconv.ParseInt(m[1], 10, 64)
		last, _ = strconv.ParseInt(m[2], 10, 64)
	}
	if m == nil || first > last {
		return nil, invalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
			"x-amz-copy-source-range", rng)
	}
	if last >= int64(len(data)) {
		return nil, invalidArgument(fmt.Sprintf("Range specified is not valid for source object of size: %d", len(data)),
			"x-amz-copy-source-range", rng)
	}
	return data[first : last+1], nil
}
