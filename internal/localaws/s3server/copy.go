package s3server

import (
	"bytes"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
)

// copySource is the object version named by x-amz-copy-source:
// "bucket/key" or "/bucket/key", URL-encoded, with an optional
// "?versionId=".
type copySource struct{ bucket, key, version string }

func parseCopySource(v string) (copySource, error) {
	bad := invalidArgument("Invalid copy source object key", "x-amz-copy-source", v)
	path, query, _ := strings.Cut(v, "?")
	// Path-unescaped: clients encode "+" as %2B, and a "+" sent as it is
	// is a "+" (gofakes3 made it a space).
	path, err := url.PathUnescape(strings.TrimPrefix(path, "/"))
	if err != nil {
		return copySource{}, bad
	}
	b, k, ok := strings.Cut(path, "/")
	if !ok || b == "" || k == "" {
		return copySource{}, bad
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return copySource{}, bad
	}
	return copySource{bucket: b, key: k, version: versionParam(q)}, nil
}

// readSource reads the source version of a copy whole: objects here are
// in memory anyway.
func (s *Server) readSource(src copySource) (*gofakes3.Object, []byte, error) {
	if ok, err := s.backend.BucketExists(src.bucket); err != nil || !ok {
		return nil, nil, newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	}
	obj, err := s.backend.GetObjectVersion(src.bucket, src.key, gofakes3.VersionID(src.version), nil)
	if err != nil {
		return nil, nil, err
	}
	defer obj.Contents.Close()
	if obj.IsDeleteMarker {
		if src.version == "" {
			return nil, nil, gofakes3.KeyNotFound(src.key)
		}
		return nil, nil, newError(http.StatusBadRequest, "InvalidRequest", "The source of a copy request may not specifically refer to a delete marker by version id.")
	}
	data, err := io.ReadAll(obj.Contents)
	if err != nil {
		return nil, nil, err
	}
	if obj.VersionID == "" {
		// GetObject masks the id in unversioned buckets; the state here is
		// kept by the backend's id.
		if h, err := s.head(src.bucket, src.key, ""); err == nil && bytes.Equal(h.Hash, obj.Hash) {
			obj.VersionID = h.VersionID
		}
	}
	return obj, data, nil
}

// serveCopy is CopyObject. gofakes3's copies the latest version whatever
// the versionId, answers with the source's version id, and merges the
// source's metadata into a REPLACE; this one copies as S3 does, with
// x-amz-metadata-directive and x-amz-tagging-directive.
func (s *Server) serveCopy(w http.ResponseWriter, r *http.Request, bucket, key string) {
	src, err := parseCopySource(r.Header.Get("X-Amz-Copy-Source"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if ok, err := s.backend.BucketExists(bucket); err != nil || !ok {
		s.writeError(w, r, newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist"))
		return
	}
	if len(key) > gofakes3.KeySizeLimit {
		s.writeError(w, r, newError(http.StatusBadRequest, "KeyTooLongError", "Your key is too long"))
		return
	}
	metaDirective := strings.ToUpper(r.Header.Get("X-Amz-Metadata-Directive"))
	tagDirective := strings.ToUpper(r.Header.Get("X-Amz-Tagging-Directive"))
	for name, d := range map[string]string{"x-amz-metadata-directive": metaDirective, "x-amz-tagging-directive": tagDirective} {
		if d != "" && d != "COPY" && d != "REPLACE" {
			s.writeError(w, r, invalidArgument("Unknown "+name, name, d))
			return
		}
	}
	var newTags []tag
	if tagDirective == "REPLACE" {
		if newTags, err = parseTaggingHeader(r.Header.Get("X-Amz-Tagging")); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if src.bucket == bucket && src.key == key && metaDirective != "REPLACE" && tagDirective != "REPLACE" {
		s.writeError(w, r, newError(http.StatusBadRequest, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."))
		return
	}
	obj, data, err := s.readSource(src)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	meta := map[string]string{}
	if metaDirective == "REPLACE" {
		for k, v := range r.Header {
			if storedHeader(k) {
				meta[k] = v[0]
			}
		}
	} else {
		for k, v := range obj.Metadata {
			if storedHeader(k) {
				meta[k] = v
			}
		}
	}
	now := s.cfg.Now()
	meta["Last-Modified"] = now.UTC().Format(http.TimeFormat)
	if tagDirective != "REPLACE" {
		s.mu.Lock()
		if x := s.extras[versionRef{src.bucket, src.key, string(obj.VersionID)}]; x != nil {
			newTags = x.tags
		}
		s.mu.Unlock()
	}

	res, err := s.backend.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.requestIDs(w.Header())
	if s.versioned(src.bucket) {
		w.Header().Set("x-amz-copy-source-version-id", string(obj.VersionID))
	}
	if res.VersionID != "" {
		w.Header().Set("x-amz-version-id", string(res.VersionID))
	}
	// A copy in one request has the content's MD5 as ETag, even from a
	// multipart source.
	s.writeXML(w, http.StatusOK, copyResult("CopyObjectResult", hex.EncodeToString(obj.Hash), now))
	s.created("ObjectCreated:Copy", bucket, key, w.Header(), r, versionExtra{tags: newTags})
}

// storedHeader tells the request headers S3 keeps with an object: user
// metadata and the content headers.
func storedHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Type", "Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control", "Expires":
		return true
	}
	return strings.HasPrefix(strings.ToLower(k), "x-amz-meta-")
}

type copyResultXML struct {
	XMLName      xml.Name
	Xmlns        string `xml:"xmlns,attr"`
	ETag         string `xml:"ETag"`
	LastModified string `xml:"LastModified"`
}

func copyResult(name, etag string, at time.Time) copyResultXML {
	return copyResultXML{
		XMLName: xml.Name{Local: name}, Xmlns: "http://s3.amazonaws.com/doc/2006-03-01/",
		ETag: `"` + etag + `"`, LastModified: at.UTC().Format("2006-01-02T15:04:05.000Z"),
	}
}
