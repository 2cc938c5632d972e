package s3server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

func tagSet(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// tagsOf reads the tags of key (at version, when not empty) as k=v strings.
func tagsOf(t *testing.T, c *s3.Client, key, version string) []string {
	t.Helper()
	in := &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	out, err := c.GetObjectTagging(context.Background(), in)
	if err != nil {
		t.Fatalf("get tagging of %s@%s: %v", key, version, err)
	}
	if version != "" && aws.ToString(out.VersionId) != version {
		t.Errorf("get tagging of %s@%s answered for version %q", key, version, aws.ToString(out.VersionId))
	}
	s := []string{}
	for _, tg := range out.TagSet {
		s = append(s, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	return s
}

// tagCount is the x-amz-tagging-count header of a GET or HEAD ("" when
// absent), read with plain HTTP.
func tagCount(t *testing.T, url, method, key, version string) string {
	t.Helper()
	u := url + "/" + bucket + "/" + key
	if version != "" {
		u += "?versionId=" + version
	}
	req, _ := http.NewRequest(method, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, u, resp.Status)
	}
	return resp.Header.Get("x-amz-tagging-count")
}

func TestTaggingRoundTripByVersion(t *testing.T) {
	t.Parallel()
	client, got, url := newServerURL(t, s3server.Config{})
	ctx := context.Background()
	v1 := aws.ToString(put(t, client, "patients.json", "v1").VersionId)
	v2 := aws.ToString(put(t, client, "patients.json", "v2 body").VersionId)

	out, err := client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String("patients.json"), VersionId: aws.String(v1),
		Tagging: &types.Tagging{TagSet: tagSet("patientsync-status", "applied")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.VersionId) != v1 {
		t.Errorf("put tagging answered version %q; want %q", aws.ToString(out.VersionId), v1)
	}
	if tags := tagsOf(t, client, "patients.json", v1); !slices.Equal(tags, []string{"patientsync-status=applied"}) {
		t.Errorf("tags of v1 = %v", tags)
	}
	if tags := tagsOf(t, client, "patients.json", v2); len(tags) != 0 {
		t.Errorf("tags of v2 = %v; want none (tags belong to one version)", tags)
	}
	if tags := tagsOf(t, client, "patients.json", ""); len(tags) != 0 {
		t.Errorf("tags of the latest version = %v; want none", tags)
	}

	// Without a version: the latest, and a put replaces the whole set.
	for _, set := range [][]types.Tag{tagSet("a", "1", "b", "2"), tagSet("patientsync-status", "rejected")} {
		out, err = client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String(bucket), Key: aws.String("patients.json"), Tagging: &types.Tagging{TagSet: set},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if aws.ToString(out.VersionId) != v2 {
		t.Errorf("put tagging of the latest answered version %q; want %q", aws.ToString(out.VersionId), v2)
	}
	if tags := tagsOf(t, client, "patients.json", v2); !slices.Equal(tags, []string{"patientsync-status=rejected"}) {
		t.Errorf("tags of v2 = %v", tags)
	}
	if tags := tagsOf(t, client, "patients.json", v1); !slices.Equal(tags, []string{"patientsync-status=applied"}) {
		t.Errorf("tags of v1 after tagging v2 = %v", tags)
	}

	// Tagging changes neither content nor versions, and reads show a count.
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("patients.json"), VersionId: aws.String(v1)})
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if aws.ToInt32(obj.TagCount) != 1 || aws.ToInt64(obj.ContentLength) != 2 || aws.ToString(obj.VersionId) != v1 {
		t.Errorf("GET v1: tag count %d, length %d, version %s", aws.ToInt32(obj.TagCount), aws.ToInt64(obj.ContentLength), aws.ToString(obj.VersionId))
	}
	if c := tagCount(t, url, "HEAD", "patients.json", v1); c != "1" {
		t.Errorf("HEAD v1 x-amz-tagging-count %q; want 1", c)
	}
	if c := tagCount(t, url, "HEAD", "patients.json", ""); c != "1" {
		t.Errorf("HEAD latest x-amz-tagging-count %q; want 1", c)
	}
	vs, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs.Versions) != 2 {
		t.Errorf("%d versions after tagging; want 2", len(vs.Versions))
	}

	// Delete by version.
	if _, err := client.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String("patients.json"), VersionId: aws.String(v1),
	}); err != nil {
		t.Fatal(err)
	}
	if tags := tagsOf(t, client, "patients.json", v1); len(tags) != 0 {
		t.Errorf("tags of v1 after delete = %v", tags)
	}
	if c := tagCount(t, url, "GET", "patients.json", v1); c != "" {
		t.Errorf("GET v1 x-amz-tagging-count %q after delete; want none", c)
	}
	if tags := tagsOf(t, client, "patients.json", v2); len(tags) != 1 {
		t.Errorf("tags of v2 after deleting v1's = %v", tags)
	}

	// Missing objects and versions.
	_, err = client.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String("missing.json")})
	if apiCode(err) != "NoSuchKey" {
		t.Errorf("tagging of a missing key: %v; want NoSuchKey", err)
	}
	_, err = client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String("patients.json"), VersionId: aws.String("nope"),
		Tagging: &types.Tagging{TagSet: tagSet("a", "b")},
	})
	if apiCode(err) != "NoSuchVersion" {
		t.Errorf("tagging of a missing version: %v; want NoSuchVersion", err)
	}

	if n := len(got.all()); n != 2 {
		t.Errorf("%d events; want 2, from the two PUTs only (tagging sends none)", n)
	}
}

func TestTagLimits(t *testing.T) {
	t.Parallel()
	client, got := newServer(t, s3server.Config{})
	ctx := context.Background()
	put(t, client, "patients.json", "x")
	tagging := func(set []types.Tag) error {
		_, err := client.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{
			Bucket: aws.String(bucket), Key: aws.String("patients.json"), Tagging: &types.Tagging{TagSet: set},
		})
		return err
	}
	var ten, eleven []string
	for i := range 11 {
		kv := []string{"k" + string(rune('a'+i)), "v"}
		if i < 10 {
			ten = append(ten, kv...)
		}
		eleven = append(eleven, kv...)
	}
	cases := []struct {
		name string
		set  []types.Tag
		code string
	}{
		{"ten tags", tagSet(ten...), ""},
		{"eleven tags", tagSet(eleven...), "BadRequest"},
		{"key of 128 characters", tagSet(strings.Repeat("é", 128), "v"), ""},
		{"key of 129 characters", tagSet(strings.Repeat("k", 129), "v"), "InvalidTag"},
		{"value of 256 characters", tagSet("k", strings.Repeat("é", 256)), ""},
		{"value of 257 characters", tagSet("k", strings.Repeat("v", 257)), "InvalidTag"},
		{"empty key", tagSet("", "v"), "InvalidTag"},
		{"duplicate keys", tagSet("k", "1", "k", "2"), "InvalidTag"},
		{"aws: prefix", tagSet("aws:k", "v"), "InvalidTag"},
	}
	for _, c := range cases {
		if err := tagging(c.set); apiCode(err) != c.code || (c.code == "") != (err == nil) {
			t.Errorf("%s: %v; want code %q", c.name, err, c.code)
		}
	}

	// The same limits apply to x-amz-tagging on a PUT, which then creates
	// nothing.
	q := make([]string, 0, 11)
	for i := 0; i+1 < len(eleven); i += 2 {
		q = append(q, eleven[i]+"="+eleven[i+1])
	}
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("payments.json"), Body: strings.NewReader("x"),
		Tagging: aws.String(strings.Join(q, "&")),
	})
	if apiCode(err) != "BadRequest" {
		t.Errorf("PUT with eleven tags: %v; want BadRequest", err)
	}
	if _, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("payments.json")}); err == nil {
		t.Error("a PUT refused for its tags created the object")
	}
	if n := len(got.all()); n != 1 {
		t.Errorf("%d events; want 1", n)
	}
}

func TestTaggingHeaderOnWrites(t *testing.T) {
	t.Parallel()
	client, got := newServer(t, s3server.Config{})
	ctx := context.Background()

	src, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("src.json"), Body: strings.NewReader("source"),
		Tagging: aws.String("clinic=north%20wing&kind=a%2Bb"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if tags := tagsOf(t, client, "src.json", aws.ToString(src.VersionId)); !slices.Equal(tags, []string{"clinic=north wing", "kind=a+b"}) {
		t.Errorf("tags from PUT = %v", tags)
	}
	// A new version starts without tags.
	put(t, client, "src.json", "source")
	if tags := tagsOf(t, client, "src.json", ""); len(tags) != 0 {
		t.Errorf("tags of a later untagged PUT = %v; want none", tags)
	}
	srcSource := aws.String(bucket + "/src.json?versionId=" + aws.ToString(src.VersionId))

	copies := []struct {
		key       string
		directive types.TaggingDirective
		tagging   *string
		want      []string
	}{
		{"copy-default.json", "", nil, []string{"clinic=north wing", "kind=a+b"}},
		{"copy-copy.json", types.TaggingDirectiveCopy, aws.String("ignored=1"), []string{"clinic=north wing", "kind=a+b"}},
		{"copy-replace.json", types.TaggingDirectiveReplace, aws.String("c=3"), []string{"c=3"}},
		{"copy-replace-none.json", types.TaggingDirectiveReplace, nil, []string{}},
	}
	for _, c := range copies {
		out, err := client.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(c.key), CopySource: srcSource,
			TaggingDirective: c.directive, Tagging: c.tagging,
		})
		if err != nil {
			t.Fatalf("copy to %s: %v", c.key, err)
		}
		if aws.ToString(out.CopySourceVersionId) != aws.ToString(src.VersionId) {
			t.Errorf("copy to %s: source version %q; want %q", c.key, aws.ToString(out.CopySourceVersionId), aws.ToString(src.VersionId))
		}
		if tags := tagsOf(t, client, c.key, aws.ToString(out.VersionId)); !slices.Equal(tags, c.want) {
			t.Errorf("tags of %s = %v; want %v", c.key, tags, c.want)
		}
	}

	// CreateMultipartUpload's tags go to the completed version.
	create, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("multi.json"), Tagging: aws.String("patientsync-status=skipped"),
	})
	if err != nil {
		t.Fatal(err)
	}
	part, err := client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String("multi.json"), UploadId: create.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("only part"),
	})
	if err != nil {
		t.Fatal(err)
	}
	done, err := client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("multi.json"), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if tags := tagsOf(t, client, "multi.json", aws.ToString(done.VersionId)); !slices.Equal(tags, []string{"patientsync-status=skipped"}) {
		t.Errorf("tags of the multipart upload = %v", tags)
	}

	// Two PUTs, four copies, one completed upload.
	if n := len(got.all()); n != 7 {
		t.Errorf("%d events; want 7", n)
	}
}
