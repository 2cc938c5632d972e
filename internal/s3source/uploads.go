package s3source

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/snapshot"
)

// Uploads presigns PUTs of snapshots into the snapshot bucket, at the key
// the bucket's event syncs: prefix + "patients.json" (".json.gz" when
// gzipped). One key per entity, so that S3's per-key event order
// (sequencer) orders the uploads too.
type Uploads struct {
	presign *s3.PresignClient
	bucket  string
	prefix  string
	ttl     time.Duration
	now     func() time.Time
}

// NewUploads presigns with client's credentials: a URL is good for ttl or
// until those credentials expire, whichever is first (in Lambda, the
// role's session).
func NewUploads(client *s3.Client, bucket, prefix string, ttl time.Duration) *Uploads {
	return &Uploads{
		presign: s3.NewPresignClient(client, func(o *s3.PresignOptions) {
			o.ClientOptions = append(o.ClientOptions, func(o *s3.Options) {
				// Otherwise the SDK signs a checksum of the empty body it
				// sees now into the URL, and S3 refuses the real one.
				o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			})
		}),
		bucket: bucket, prefix: prefix, ttl: ttl, now: time.Now,
	}
}

// PresignUpload returns where to PUT a snapshot of entity.
func (u *Uploads) PresignUpload(ctx context.Context, entity snapshot.Entity, gzip bool) (api.Upload, error) {
	key := u.prefix + string(entity) + ".json"
	if gzip {
		key += ".gz"
	}
	now := u.now()
	req, err := u.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(u.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(u.ttl))
	if err != nil {
		return api.Upload{}, fmt.Errorf("presign PUT s3://%s/%s: %w", u.bucket, key, err)
	}
	headers := map[string]string{}
	for name, values := range req.SignedHeader {
		if http.CanonicalHeaderKey(name) != "Host" && len(values) > 0 {
			headers[name] = values[0]
		}
	}
	return api.Upload{Method: req.Method, URL: req.URL, Headers: headers, Bucket: u.bucket, Key: key, Expires: now.Add(u.ttl).UTC()}, nil
}
