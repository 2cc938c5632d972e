// Package s3source reads snapshot objects from S3 (or an S3-compatible
// endpoint) for the syncer.
package s3source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
)

// NewClient builds an S3 client from the environment (the SDK reads it
// itself; getenv answers what this package decides). AWS_ENDPOINT_URL (or
// AWS_ENDPOINT_URL_S3) points it at a local endpoint; path-style addressing
// is used with such endpoints or when AWS_S3_USE_PATH_STYLE=true.
func NewClient(ctx context.Context, getenv func(string) string) (*s3.Client, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	pathStyle := getenv("AWS_ENDPOINT_URL") != "" || getenv("AWS_ENDPOINT_URL_S3") != ""
	if v := getenv("AWS_S3_USE_PATH_STYLE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("AWS_S3_USE_PATH_STYLE=%q: want true or false", v)
		}
		pathStyle = b
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = pathStyle
		// Validate response checksums only when asked for; objects put
		// without one (and local endpoints) otherwise log a warning per read.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// Source turns S3 objects into syncer objects.
type Source struct {
	client *s3.Client
}

// New returns a Source reading through client.
func New(client *s3.Client) *Source { return &Source{client: client} }

// ErrNotSnapshot: the key names no entity; such objects are not synced.
var ErrNotSnapshot = errors.New("not a snapshot key (want patients*.json[.gz] or payments*.json[.gz])")

// Object describes one version of bucket/key. When the event names a version
// it is read by version id, otherwise with If-Match on the ETag, so that an
// old event never reads content written after it. The body Open returns has
// a Size() int64 method: the object's length, -1 when unknown.
func (s *Source) Object(bucket, key string, id syncer.Identity) (syncer.Object, error) {
	entity, ok := snapshot.EntityFromKey(key)
	if !ok {
		return syncer.Object{}, fmt.Errorf("s3://%s/%s: %w", bucket, key, ErrNotSnapshot)
	}
	return syncer.Object{
		Entity:   entity,
		Source:   "s3://" + bucket + "/" + key,
		Identity: id,
		Open: func(ctx context.Context) (io.ReadCloser, syncer.Identity, error) {
			in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
			if id.VersionID != "" && id.VersionID != "null" {
				in.VersionId = aws.String(id.VersionID)
			} else if id.ETag != "" {
				in.IfMatch = aws.String(`"` + strings.Trim(id.ETag, `"`) + `"`)
			}
			out, err := s.client.GetObject(ctx, in)
			if err != nil {
				return nil, syncer.Identity{}, classify(bucket, key, err)
			}
			read := syncer.Identity{ETag: strings.Trim(aws.ToString(out.ETag), `"`), VersionID: aws.ToString(out.VersionId)}
			if out.LastModified != nil {
				read.LastModified = *out.LastModified
			}
			size := int64(-1)
			if out.ContentLength != nil {
				size = *out.ContentLength
			}
			return &body{out.Body, size}, read, nil
		},
	}, nil
}

// body is an object's content. Its Size (-1 when S3 did not say) lets a
// caller that wraps Open, such as the CLI's progress line, show how much
// of the object is read.
type body struct {
	io.ReadCloser
	size int64
}

// Size is the object's length in bytes as S3 sent it, or -1.
func (b *body) Size() int64 { return b.size }

// classify sorts a failed GetObject: permanent (wrapping syncer.ErrRejected)
// when no retry can read the object the event names, transient otherwise.
// AccessDenied is transient: it is a permission mistake to fix and alarm
// on, and the event must still be there when it is fixed.
func classify(bucket, key string, err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "PreconditionFailed", "NoSuchVersion", "NoSuchKey":
			// The object named by the event is gone or replaced; a later
			// event covers what replaced it.
			return syncer.Rejectf(syncer.CodeObjectGone, "s3://%s/%s: %s (the object changed or was deleted after the event)",
				bucket, key, apiErr.ErrorCode())
		case "NoSuchBucket":
			return syncer.Rejectf(syncer.CodeObjectGone, "s3://%s/%s: %s", bucket, key, apiErr.ErrorCode())
		}
	}
	return fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
}

// URL parameters naming one version of an object (ParseURL, FormatURL).
// versionId is S3's own name for it; etag reads with If-Match instead (an
// unversioned bucket); sequencer is the S3 event's, which orders the events
// of one key (see syncer.Identity).
const (
	paramVersionID = "versionId"
	paramETag      = "etag"
	paramSequencer = "sequencer"
)

// ParseURL splits s3://bucket/key[?versionId=V][&etag=E][&sequencer=S]. The
// key is the URL's path, percent-decoded (write '?', '#' and '%' in a key as
// %3F, %23 and %25); the parameters say which version to read and what the
// event told about it, as Object takes them: with versionId exactly that
// version is read, and a sync given the S3 event's sequencer orders it
// against other events of the key as the Lambda would.
func ParseURL(raw string) (bucket, key string, id syncer.Identity, err error) {
	bad := func(why string) (string, string, syncer.Identity, error) {
		return "", "", syncer.Identity{}, fmt.Errorf("%q: %s", raw, why)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" || len(u.Path) < 2 || u.User != nil {
		return bad("want s3://bucket/key[?versionId=V]")
	}
	if u.Fragment != "" || strings.HasSuffix(raw, "#") {
		return bad("a '#' in a key must be written %23")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("bad query: " + err.Error())
	}
	for name, v := range q {
		var dst *string
		switch name {
		case paramVersionID:
			dst = &id.VersionID
		case paramETag:
			dst = &id.ETag
		case paramSequencer:
			dst = &id.Sequencer
		default:
			return bad(fmt.Sprintf("unknown parameter %q (want %s, %s or %s; a '?' in a key must be written %%3F)",
				name, paramVersionID, paramETag, paramSequencer))
		}
		if len(v) != 1 || v[0] == "" {
			return bad(fmt.Sprintf("give %s once, not empty", name))
		}
		*dst = v[0]
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), id, nil
}

// FormatURL is the URL ParseURL reads back as bucket, key and id: the
// version when there is one (else the ETag, for If-Match) and the
// sequencer.
func FormatURL(bucket, key string, id syncer.Identity) string {
	q := url.Values{}
	if id.VersionID != "" && id.VersionID != "null" {
		q.Set(paramVersionID, id.VersionID)
	} else if id.ETag != "" {
		q.Set(paramETag, strings.Trim(id.ETag, `"`))
	}
	if id.Sequencer != "" {
		q.Set(paramSequencer, id.Sequencer)
	}
	u := url.URL{Scheme: "s3", Host: bucket, Path: "/" + key, RawQuery: q.Encode()}
	return u.String()
}
