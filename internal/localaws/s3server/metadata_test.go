package s3server_test

import (
	"bufio"
	"context"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// rawHeaders sends method path over a plain TCP connection and returns the
// status line and the header lines as they are on the wire (Go's HTTP
// client canonicalizes header names, so it cannot see their case).
func rawHeaders(t *testing.T, endpoint, method, path string) (string, []string) {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(method + " " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	r := textproto.NewReader(bufio.NewReader(conn))
	status, err := r.ReadLine()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for {
		l, err := r.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if l == "" {
			return status, lines
		}
		lines = append(lines, l)
	}
}

func TestMetadataHeadersAreLowercase(t *testing.T) {
	t.Parallel()
	client, _, endpoint := newServerURL(t, s3server.Config{})
	ctx := context.Background()
	meta := map[string]string{"Clinic": "north", "Exported-By": "nightly job"}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("patients.json"), Body: strings.NewReader("[]"), Metadata: meta,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("copied.json"), CopySource: aws.String(bucket + "/patients.json"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: aws.String(bucket), Key: aws.String("replaced.json"), CopySource: aws.String(bucket + "/patients.json"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"Source": "copy"},
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"patients.json": {"x-amz-meta-clinic: north", "x-amz-meta-exported-by: nightly job"},
		"copied.json":   {"x-amz-meta-clinic: north", "x-amz-meta-exported-by: nightly job"},
		"replaced.json": {"x-amz-meta-source: copy"},
	}
	for key, lines := range want {
		for _, method := range []string{"HEAD", "GET"} {
			status, got := rawHeaders(t, endpoint, method, "/"+bucket+"/"+key)
			if !strings.Contains(status, " 200 ") {
				t.Fatalf("%s %s: %s", method, key, status)
			}
			var metaLines []string
			for _, l := range got {
				if strings.HasPrefix(strings.ToLower(l), "x-amz-meta-") {
					metaLines = append(metaLines, l)
				}
			}
			if strings.Join(metaLines, "\n") != strings.Join(lines, "\n") {
				t.Errorf("%s %s: metadata headers %q; want %q", method, key, metaLines, lines)
			}
		}
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("patients.json")})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["clinic"] != "north" || head.Metadata["exported-by"] != "nightly job" {
		t.Errorf("SDK metadata %v", head.Metadata)
	}
}
