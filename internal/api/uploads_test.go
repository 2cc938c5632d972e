package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/testutil"
)

// TestUploads: POST /uploads answers a presigned PUT that a client without
// AWS credentials (plain net/http) can use, to the key the bucket's event
// syncs.
func TestUploads(t *testing.T) {
	t.Parallel()
	client, _ := testutil.S3(t, "snapshots", nil)
	h := api.New(nil, api.Config{Routes: []api.Route{api.CreateUpload}}, nil).
		WithUploads(s3source.NewUploads(client, "snapshots", "incoming/", 10*time.Minute))
	post := func(ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/uploads", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	for _, c := range []struct {
		body, key string
	}{
		{`{"entity": "patients"}`, "incoming/patients.json"},
		{`{"entity": "payments", "gzip": true}`, "incoming/payments.json.gz"},
	} {
		rec := post("application/json", c.body)
		var up api.Upload
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &up) != nil {
			t.Fatalf("%s: %d %s", c.body, rec.Code, rec.Body)
		}
		u, err := url.Parse(up.URL)
		if err != nil || up.Method != http.MethodPut || up.Key != c.key || up.Bucket != "snapshots" ||
			!strings.HasSuffix(u.Path, "/snapshots/"+c.key) || u.Query().Get("X-Amz-Signature") == "" ||
			time.Until(up.Expires) < 9*time.Minute || time.Until(up.Expires) > 11*time.Minute {
			t.Fatalf("%s: upload %+v", c.body, up)
		}
		// A checksum of the empty body signed into the URL would make S3
		// refuse every real upload.
		for name := range u.Query() {
			if strings.Contains(strings.ToLower(name), "checksum") {
				t.Errorf("the URL signs %s", name)
			}
		}
		body := []byte(`[{"externalId":"1","firstName":"A","lastName":"B","dateOfBirth":"2000-01-01"}]`)
		req, _ := http.NewRequest(up.Method, up.URL, bytes.NewReader(body))
		for k, v := range up.Headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", up.URL, resp.StatusCode, msg)
		}
		obj, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("snapshots"), Key: aws.String(c.key)})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if !bytes.Equal(got, body) {
			t.Errorf("stored %q", got)
		}
	}
	for _, c := range []struct {
		ct, body, param string
		status          int
	}{
		{"application/json", `{"entity": "doctors"}`, "entity", http.StatusBadRequest},
		{"application/json", `{"entity": "patients", "key": "x"}`, "", http.StatusBadRequest},
		{"application/json", `{"entity": "patients"} {}`, "", http.StatusBadRequest},
		{"application/json", `[]`, "", http.StatusBadRequest},
		{"application/json", strings.Repeat(" ", 5000), "", http.StatusRequestEntityTooLarge},
		{"text/plain", `{"entity": "patients"}`, "", http.StatusUnsupportedMediaType},
	} {
		p := problem(t, post(c.ct, c.body), c.status)
		if p.Param != c.param {
			t.Errorf("%s: param %q, want %q", c.body, p.Param, c.param)
		}
		// A request for an upload URL is never itself a snapshot to upload.
		if strings.Contains(p.Detail, "presigned") {
			t.Errorf("%.20s: detail %q sends the client to the route it called", c.body, p.Detail)
		}
	}
}
