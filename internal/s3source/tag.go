package s3source

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patientsync/patientsync/internal/syncer"
)

// The tags a sync puts on the object version it read, so that the uploader
// can ask S3 what became of its upload (GetObjectTagging).
const (
	TagStatus = "patientsync-status" // applied, rejected or skipped
	TagRun    = "patientsync-run"    // the sync_runs id
	TagReason = "patientsync-reason" // a syncer.Code... reason code, when rejected or skipped
)

// maxTags is S3's limit per object version.
const maxTags = 10

// OutcomeTags are the tags that say res's outcome, or nil when it has none
// yet (a transient failure is retried).
func OutcomeTags(res syncer.Result) map[string]string {
	status := ""
	switch {
	case res.Status == syncer.StatusSucceeded:
		status = "applied"
	case res.Status == syncer.StatusSkipped:
		status = "skipped"
	case res.Status == syncer.StatusFailed && res.Code != syncer.CodeTransient && res.Code != "":
		status = "rejected"
	default:
		return nil
	}
	tags := map[string]string{TagStatus: status, TagRun: strconv.FormatInt(res.ID, 10)}
	if res.Code != "" && status != "applied" {
		tags[TagReason] = res.Code
	}
	return tags
}

// Tag sets tags on bucket/key at versionID (the current version when
// empty), keeping the version's other tags: S3 replaces all of them at
// once. S3 allows 10 tags: when the uploader's own leave too little room,
// the status is kept before the run id, and that before the reason.
func (s *Source) Tag(ctx context.Context, bucket, key, versionID string, tags map[string]string) error {
	var version *string
	if versionID != "" && versionID != "null" {
		version = aws.String(versionID)
	}
	cur, err := s.client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: version})
	if err != nil {
		return fmt.Errorf("read the tags of s3://%s/%s: %w", bucket, key, err)
	}
	var set []types.Tag
	for _, t := range cur.TagSet {
		if _, ours := tags[aws.ToString(t.Key)]; !ours {
			set = append(set, t)
		}
	}
	for _, k := range []string{TagStatus, TagRun, TagReason} {
		if v, ok := tags[k]; ok && len(set) < maxTags {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
	}
	_, err = s.client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: version, Tagging: &types.Tagging{TagSet: set}})
	if err != nil {
		return fmt.Errorf("tag s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
