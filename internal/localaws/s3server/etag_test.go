package s3server_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// uploadParts uploads parts as one multipart upload and returns the
// completion's output.
func uploadParts(t *testing.T, c *s3.Client, key string, parts ...[]byte) *s3.CompleteMultipartUploadOutput {
	t.Helper()
	ctx := context.Background()
	create, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String(key), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
		})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMultipartETagIsTheSameEverywhere(t *testing.T) {
	t.Parallel()
	for _, unversioned := range []bool{false, true} {
		name := map[bool]string{false: "versioned", true: "unversioned"}[unversioned]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			client, got := newServer(t, s3server.Config{Unversioned: unversioned})
			ctx := context.Background()
			parts := [][]byte{randomBytes(2, 5<<20), randomBytes(3, 5<<20), []byte("tail")}
			want := `"` + multipartETag(parts...) + `"`
			complete := uploadParts(t, client, "payments.json", parts...)
			if aws.ToString(complete.ETag) != want {
				t.Fatalf("CompleteMultipartUpload ETag %s; want %s", aws.ToString(complete.ETag), want)
			}
			etags := map[string]string{}
			head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json")})
			if err != nil {
				t.Fatal(err)
			}
			etags["HEAD"] = aws.ToString(head.ETag)
			body, obj := getBody(t, client, "payments.json", "")
			etags["GET"] = aws.ToString(obj.ETag)
			if !bytes.Equal(body, bytes.Join(parts, nil)) {
				t.Error("GET body differs from the parts")
			}
			ranged, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json"), Range: aws.String("bytes=0-9")})
			if err != nil {
				t.Fatal(err)
			}
			ranged.Body.Close()
			etags["ranged GET"] = aws.ToString(ranged.ETag)
			l1, err := client.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket)})
			if err != nil || len(l1.Contents) != 1 {
				t.Fatalf("ListObjects: %v %+v", err, l1)
			}
			etags["ListObjects"] = aws.ToString(l1.Contents[0].ETag)
			l2, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
			if err != nil || len(l2.Contents) != 1 {
				t.Fatalf("ListObjectsV2: %v %+v", err, l2)
			}
			etags["ListObjectsV2"] = aws.ToString(l2.Contents[0].ETag)
			lv, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
			if err != nil || len(lv.Versions) != 1 {
				t.Fatalf("ListObjectVersions: %v %+v", err, lv)
			}
			etags["ListObjectVersions"] = aws.ToString(lv.Versions[0].ETag)
			evs := got.all()
			if len(evs) != 1 {
				t.Fatalf("%d events; want 1", len(evs))
			}
			etags["event"] = `"` + decode(t, evs[0]).S3.Object.ETag + `"`
			for where, e := range etags {
				if e != want {
					t.Errorf("%s ETag %s; want %s", where, e, want)
				}
			}

			// A later single PUT has a plain MD5; in a versioned bucket the
			// multipart version keeps its ETag.
			next := put(t, client, "payments.json", "small")
			head, err = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json")})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(head.ETag) != aws.ToString(next.ETag) || aws.ToString(next.ETag) != `"`+md5hex("small")+`"` {
				t.Errorf("HEAD after a single PUT: ETag %s; PUT answered %s", aws.ToString(head.ETag), aws.ToString(next.ETag))
			}
			if unversioned {
				return
			}
			old, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json"), VersionId: complete.VersionId})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(old.ETag) != want || aws.ToInt64(old.ContentLength) != int64(len(body)) || aws.ToString(old.VersionId) != aws.ToString(complete.VersionId) {
				t.Errorf("HEAD of the multipart version: ETag %s, length %d, version %s; want %s, %d, %s",
					aws.ToString(old.ETag), aws.ToInt64(old.ContentLength), aws.ToString(old.VersionId), want, len(body), aws.ToString(complete.VersionId))
			}
			lv, err = client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range lv.Versions {
				wantV := `"` + md5hex("small") + `"`
				if aws.ToString(v.VersionId) == aws.ToString(complete.VersionId) {
					wantV = want
				}
				if aws.ToString(v.ETag) != wantV {
					t.Errorf("ListObjectVersions: version %s ETag %s; want %s", aws.ToString(v.VersionId), aws.ToString(v.ETag), wantV)
				}
			}
			if !strings.HasSuffix(want, `-3"`) {
				t.Errorf("want %s is no multipart ETag", want)
			}
		})
	}
}
