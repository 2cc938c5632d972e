package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// resetBucket deletes every object version and delete marker of bucket on
// the S3 endpoint at addr, through the S3 API; nothing answering there is
// not an error (`up` keeps its bucket in memory: it starts empty).
func resetBucket(ctx context.Context, addr, bucket string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		fmt.Printf("no S3 endpoint answers on %s: bucket %s left alone (`patientsync up` starts with it empty)\n", addr, bucket)
		return nil
	}
	c.Close()
	// The local endpoint takes any credentials.
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider("test", "test", ""),
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	where := fmt.Sprintf("bucket %s on http://%s", bucket, addr)
	var versions, markers int
	// Each round lists from the start and deletes what it got, without
	// relying on list markers that name versions already deleted.
	var last types.ObjectIdentifier
	for {
		page, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket" {
			fmt.Printf("%s does not exist: nothing to empty\n", where)
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", where, err)
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		if len(ids) == 0 {
			break
		}
		if aws.ToString(ids[0].Key) == aws.ToString(last.Key) && aws.ToString(ids[0].VersionId) == aws.ToString(last.VersionId) {
			return fmt.Errorf("%s: %s version %s is still listed after its deletion", where, aws.ToString(last.Key), aws.ToString(last.VersionId))
		}
		last = ids[0]
		out, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return fmt.Errorf("delete from %s: %w", where, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete from %s: %d of %d failed, first %s version %s: %s %s", where,
				len(out.Errors), len(ids), aws.ToString(e.Key), aws.ToString(e.VersionId), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		versions += len(page.Versions)
		markers += len(page.DeleteMarkers)
	}
	fmt.Printf("%s emptied: %d object versions, %d delete markers\n", where, versions, markers)
	return nil
}
