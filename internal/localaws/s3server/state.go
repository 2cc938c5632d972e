package s3server

import (
	"encoding/hex"
	"net/url"

	"github.com/johannesboyne/gofakes3"
)

// versionRef names one stored object version by the backend's version id,
// which s3mem assigns to every write, even in unversioned buckets (it masks
// it there in GET responses only).
type versionRef struct{ bucket, key, version string }

// versionExtra is what S3 keeps about a version that gofakes3 does not.
type versionExtra struct {
	// etag is the multipart ETag (hex MD5 of the parts' binary MD5s, "-",
	// part count), without quotes; "" when the ETag is the content's MD5,
	// which the backend keeps.
	etag string
	tags []tag
}

// head reads the attributes of an object version, or of the latest when
// version is "" (or S3's "null"). A delete marker is NoSuchKey when it is
// the latest, and MethodNotAllowed when named, as in S3.
func (s *Server) head(bucket, key, version string) (*gofakes3.Object, error) {
	if version == "null" {
		version = ""
	}
	obj, err := s.backend.HeadObjectVersion(bucket, key, gofakes3.VersionID(version))
	if err != nil {
		return nil, err
	}
	if obj.Contents != nil {
		obj.Contents.Close()
	}
	if obj.IsDeleteMarker {
		if version == "" {
			return nil, gofakes3.KeyNotFound(key)
		}
		return nil, gofakes3.ErrorMessage(gofakes3.ErrMethodNotAllowed, "The specified method is not allowed against this resource.")
	}
	return obj, nil
}

// etagLocked is the ETag S3 would give obj, without quotes. s.mu is held.
func (s *Server) etagLocked(bucket, key string, obj *gofakes3.Object) string {
	if x := s.extras[versionRef{bucket, key, string(obj.VersionID)}]; x != nil && x.etag != "" {
		return x.etag
	}
	return hex.EncodeToString(obj.Hash)
}

func (s *Server) etag(bucket, key string, obj *gofakes3.Object) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.etagLocked(bucket, key, obj)
}

// extraLocked returns the version's entry, creating it. s.mu is held.
func (s *Server) extraLocked(ref versionRef) *versionExtra {
	x := s.extras[ref]
	if x == nil {
		x = &versionExtra{}
		s.extras[ref] = x
	}
	return x
}

// versioned tells whether responses about bucket carry version ids.
func (s *Server) versioned(bucket string) bool {
	vc, err := s.backend.VersioningConfiguration(bucket)
	return err == nil && vc.Status == gofakes3.VersioningEnabled
}

// versionParam is the versionId query parameter; S3's "null" (the version
// written while unversioned) is the backend's latest here.
func versionParam(q url.Values) string {
	v := q.Get("versionId")
	if v == "null" {
		return ""
	}
	return v
}
