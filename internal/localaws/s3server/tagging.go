package s3server

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// S3's limits on the tags of an object version.
const (
	maxTags        = 10
	maxTagKeyLen   = 128 // characters
	maxTagValueLen = 256
)

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// tagging is the body of Get/PutObjectTagging. TagSet is always written,
// empty or not, as S3 does.
type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	TagSet  struct {
		Tags []tag `xml:"Tag"`
	} `xml:"TagSet"`
}

// serveTagging answers Get/Put/DeleteObjectTagging, with or without
// versionId. Tags belong to one version: tagging creates no version and
// sends no event.
func (s *Server) serveTagging(w http.ResponseWriter, r *http.Request, bucket, key string) {
	version := versionParam(r.URL.Query())
	var tags []tag
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		var in tagging
		if err := xml.Unmarshal(body, &in); err != nil {
			s.writeError(w, r, newError(http.StatusBadRequest, "MalformedXML",
				"The XML you provided was not well-formed or did not validate against our published schema"))
			return
		}
		if tags, err = checkTags(in.TagSet.Tags); err != nil {
			s.writeError(w, r, err)
			return
		}
	} else if r.Method != http.MethodGet && r.Method != http.MethodDelete {
		s.writeError(w, r, newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource."))
		return
	}
	if ok, err := s.backend.BucketExists(bucket); err != nil || !ok {
		s.writeError(w, r, newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist"))
		return
	}

	s.mu.Lock()
	obj, err := s.head(bucket, key, version)
	var out tagging
	if err == nil {
		ref := versionRef{bucket, key, string(obj.VersionID)}
		switch r.Method {
		case http.MethodGet:
			if x := s.extras[ref]; x != nil {
				out.TagSet.Tags = x.tags
			}
		case http.MethodPut:
			s.extraLocked(ref).tags = tags
		case http.MethodDelete:
			if x := s.extras[ref]; x != nil {
				x.tags = nil
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	s.requestIDs(w.Header())
	if s.versioned(bucket) {
		w.Header().Set("x-amz-version-id", string(obj.VersionID))
	}
	switch r.Method {
	case http.MethodGet:
		out.Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"
		s.writeXML(w, http.StatusOK, out)
	case http.MethodPut:
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// parseTaggingHeader reads x-amz-tagging: URL query encoded key=value
// pairs, in order.
func parseTaggingHeader(v string) ([]tag, error) {
	bad := invalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.", "x-amz-tagging", v)
	var tags []tag
	for pair := range strings.SplitSeq(v, "&") {
		if pair == "" {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			return nil, bad
		}
		tags = append(tags, tag{Key: k, Value: val})
	}
	for i, t := range tags {
		for _, u := range tags[:i] {
			if u.Key == t.Key {
				return nil, bad
			}
		}
	}
	return checkTags(tags)
}

// checkTags applies S3's rules to the tags of an object version.
func checkTags(tags []tag) ([]tag, error) {
	invalid := func(msg string) error { return newError(http.StatusBadRequest, "InvalidTag", msg) }
	if len(tags) > maxTags {
		return nil, newError(http.StatusBadRequest, "BadRequest", "Object tags cannot be greater than 10")
	}
	for i, t := range tags {
		switch {
		case t.Key == "" || !tagChars(t.Key):
			return nil, invalid("The TagKey you have provided is invalid")
		case utf8.RuneCountInString(t.Key) > maxTagKeyLen:
			return nil, invalid("The TagKey you have provided is too long, max 128")
		case !tagChars(t.Value):
			return nil, invalid("The TagValue you have provided is invalid")
		case utf8.RuneCountInString(t.Value) > maxTagValueLen:
			return nil, invalid("The TagValue you have provided is too long, max 256")
		case strings.HasPrefix(t.Key, "aws:"):
			return nil, invalid("Your TagKey cannot be prefixed with aws:")
		}
		for _, u := range tags[:i] {
			if u.Key == t.Key {
				return nil, invalid("Cannot provide multiple Tags with the same key")
			}
		}
	}
	return tags, nil
}

// tagChars: letters, digits, spaces and + - = . _ : / @.
func tagChars(s string) bool {
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !unicode.IsSpace(c) && !strings.ContainsRune("+-=._:/@", c) {
			return false
		}
	}
	return true
}
