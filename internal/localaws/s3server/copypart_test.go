package s3server_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// randomBytes is n reproducible bytes, so that every part's MD5 differs.
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	_, _ = r.Read(b)
	return b
}

// multipartETag is S3's ETag of an object uploaded in these parts.
func multipartETag(parts ...[]byte) string {
	all := md5.New()
	for _, p := range parts {
		h := md5.Sum(p)
		all.Write(h[:])
	}
	return fmt.Sprintf("%s-%d", hex.EncodeToString(all.Sum(nil)), len(parts))
}

func getBody(t *testing.T, c *s3.Client, key, version string) ([]byte, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b, out
}

func TestUploadPartCopy(t *testing.T) {
	t.Parallel()
	client, got := newServer(t, s3server.Config{})
	ctx := context.Background()
	source := randomBytes(1, 12<<20)
	old, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big.bin"), Body: bytes.NewReader(source)})
	if err != nil {
		t.Fatal(err)
	}
	put(t, client, "big.bin", "a later, small version")

	create, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("copy.bin")})
	if err != nil {
		t.Fatal(err)
	}
	// Three ranges of the first version, named by version id.
	ranges := [][2]int{{0, 5<<20 - 1}, {5 << 20, 10<<20 - 1}, {10 << 20, len(source) - 1}}
	var done []types.CompletedPart
	var parts [][]byte
	for i, rg := range ranges {
		out, err := client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
			Bucket: aws.String(bucket), Key: aws.String("copy.bin"), UploadId: create.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			CopySource:      aws.String(bucket + "/big.bin?versionId=" + aws.ToString(old.VersionId)),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", rg[0], rg[1])),
		})
		if err != nil {
			t.Fatalf("UploadPartCopy %d: %v", i+1, err)
		}
		part := source[rg[0] : rg[1]+1]
		parts = append(parts, part)
		if out.CopyPartResult == nil || strings.Trim(aws.ToString(out.CopyPartResult.ETag), `"`) != md5hex(string(part)) || out.CopyPartResult.LastModified == nil {
			t.Errorf("part %d result %+v; want the range's MD5 and a time", i+1, out.CopyPartResult)
		}
		if aws.ToString(out.CopySourceVersionId) != aws.ToString(old.VersionId) {
			t.Errorf("part %d source version %q; want %q", i+1, aws.ToString(out.CopySourceVersionId), aws.ToString(old.VersionId))
		}
		done = append(done, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	complete, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("copy.bin"), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := multipartETag(parts...); strings.Trim(aws.ToString(complete.ETag), `"`) != want {
		t.Errorf("completed ETag %s; want %s", aws.ToString(complete.ETag), want)
	}
	body, _ := getBody(t, client, "copy.bin", "")
	if !bytes.Equal(body, source) {
		t.Errorf("copied object: %d bytes, equal to the source: %v", len(body), bytes.Equal(body, source))
	}

	// A part without a range is the whole (latest) source; a range past the
	// end, a missing source and a missing version are S3's errors.
	create2, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("whole.bin")})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String(bucket), Key: aws.String("whole.bin"), UploadId: create2.UploadId, PartNumber: aws.Int32(1),
		CopySource: aws.String("/" + bucket + "/big.bin"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Trim(aws.ToString(whole.CopyPartResult.ETag), `"`) != md5hex("a later, small version") {
		t.Errorf("whole-object part ETag %s; want the latest version's MD5", aws.ToString(whole.CopyPartResult.ETag))
	}
	bad := []struct {
		source, rng, code string
	}{
		{bucket + "/big.bin", "bytes=0-100000000", "InvalidArgument"}, // S3: "Range specified is not valid for source object of size: 22"
		{bucket + "/big.bin", "bytes=10-5", "InvalidArgument"},
		{bucket + "/nothing.bin", "", "NoSuchKey"},
		{bucket + "/big.bin?versionId=nope", "", "NoSuchVersion"},
		{"no-such-bucket/big.bin", "", "NoSuchBucket"},
	}
	for _, b := range bad {
		in := &s3.UploadPartCopyInput{
			Bucket: aws.String(bucket), Key: aws.String("whole.bin"), UploadId: create2.UploadId, PartNumber: aws.Int32(2),
			CopySource: aws.String(b.source),
		}
		if b.rng != "" {
			in.CopySourceRange = aws.String(b.rng)
		}
		if _, err := client.UploadPartCopy(ctx, in); apiCode(err) != b.code {
			t.Errorf("UploadPartCopy from %s %s: %v; want %s", b.source, b.rng, err, b.code)
		}
	}
	_, err = client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String(bucket), Key: aws.String("whole.bin"), UploadId: aws.String("999"), PartNumber: aws.Int32(1),
		CopySource: aws.String(bucket + "/big.bin"),
	})
	if apiCode(err) != "NoSuchUpload" {
		t.Errorf("UploadPartCopy to a missing upload: %v; want NoSuchUpload", err)
	}

	// Parts produce no events; the completion one.
	evs := got.all()
	if len(evs) != 3 {
		t.Fatalf("%d events; want 3", len(evs))
	}
	if r := decode(t, evs[2]); r.EventName != "ObjectCreated:CompleteMultipartUpload" || r.S3.Object.Size != int64(len(source)) {
		t.Errorf("last event %s of size %d", r.EventName, r.S3.Object.Size)
	}
}
