package synclambda_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/patientsync/patientsync/internal/synclambda"
)

// emfLine is one Embedded Metric Format line, as CloudWatch reads it.
type emfLine struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
	Fields map[string]any `json:"-"`
}

// metricLines parses every line the handler wrote as EMF, checking what
// CloudWatch requires of it: each metric and dimension a top-level field,
// metric values numbers, dimension values strings.
func metricLines(t *testing.T, buf *bytes.Buffer) []emfLine {
	t.Helper()
	var out []emfLine
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var l emfLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not JSON: %s", sc.Bytes())
		}
		_ = json.Unmarshal(sc.Bytes(), &l.Fields)
		if l.AWS.Timestamp == 0 || len(l.AWS.CloudWatchMetrics) == 0 {
			t.Fatalf("not an EMF line: %s", sc.Bytes())
		}
		for _, d := range l.AWS.CloudWatchMetrics {
			if d.Namespace != synclambda.MetricsNamespace {
				t.Errorf("namespace %q", d.Namespace)
			}
			for _, set := range d.Dimensions {
				for _, name := range set {
					if _, ok := l.Fields[name].(string); !ok {
						t.Errorf("dimension %s has no string value in %s", name, sc.Bytes())
					}
				}
			}
			for _, m := range d.Metrics {
				if _, ok := l.Fields[m.Name].(float64); !ok {
					t.Errorf("metric %s has no number value in %s", m.Name, sc.Bytes())
				}
			}
		}
		out = append(out, l)
	}
	buf.Reset()
	return out
}

// value is metric name's value in l, and the dimension sets it is
// published under; ok false when l does not publish it.
func (l emfLine) value(name string) (v float64, dims [][]string, ok bool) {
	for _, d := range l.AWS.CloudWatchMetrics {
		for _, m := range d.Metrics {
			if m.Name == name {
				return l.Fields[name].(float64), d.Dimensions, true
			}
		}
	}
	return 0, nil, false
}

func (f *fixture) tags(key, version string) map[string]string {
	f.t.Helper()
	out, err := f.client.GetObjectTagging(context.Background(), &s3.GetObjectTaggingInput{
		Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		f.t.Fatalf("tags of %s@%s: %v", key, version, err)
	}
	m := map[string]string{}
	for _, tag := range out.TagSet {
		m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
	}
	return m
}

// lastVersion is the version id the event for key named.
func lastVersion(t *testing.T, event []byte) string {
	t.Helper()
	var ev struct {
		Records []struct {
			S3 struct {
				Object struct {
					VersionID string `json:"versionId"`
				} `json:"object"`
			} `json:"s3"`
		}
	}
	if err := json.Unmarshal(event, &ev); err != nil || len(ev.Records) == 0 {
		t.Fatalf("event %s: %v", event, err)
	}
	return ev.Records[len(ev.Records)-1].S3.Object.VersionID
}

// TestOutcomeTagsAndMetrics: every run ends with tags on the object version
// it read and one EMF line that says the same.
func TestOutcomeTagsAndMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	lastRun := func(entity string) string {
		return strconv.Itoa(f.count("SELECT max(id) FROM sync_runs WHERE entity = '" + entity + "'"))
	}

	// Applied; the uploader's own tag survives ours.
	applied := f.event("s3-put-patients.json", func(string) []byte { return sample(t, "patients.json") })
	v1 := lastVersion(t, applied)
	if _, err := f.client.PutObjectTagging(context.Background(), &s3.PutObjectTaggingInput{Bucket: aws.String(bucket),
		Key: aws.String("patients.json"), VersionId: aws.String(v1),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("clinic"), Value: aws.String("north")}}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.invoke(applied); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"patientsync-status": "applied", "patientsync-run": lastRun("patients"), "clinic": "north"}
	if got := f.tags("patients.json", v1); !maps.Equal(got, want) {
		t.Errorf("applied: tags %v, want %v", got, want)
	}
	lines := metricLines(t, f.metrics)
	if len(lines) != 1 {
		t.Fatalf("%d metric lines, want 1", len(lines))
	}
	l := lines[0]
	if v, dims, _ := l.value("SnapshotsApplied"); v != 1 || !slices.EqualFunc(dims, [][]string{{"Entity"}, {}}, slices.Equal) {
		t.Errorf("SnapshotsApplied %v by %v", v, dims)
	}
	if v, _, _ := l.value("RowsInserted"); v != float64(f.count("SELECT count(*) FROM patients")) || v == 0 {
		t.Errorf("RowsInserted %v", v)
	}
	if v, _, ok := l.value("SyncLagSeconds"); !ok || v < 0 || v > 600 {
		t.Errorf("SyncLagSeconds %v (published %v)", v, ok)
	}
	if v, _, _ := l.value("SnapshotsRejected"); v != 0 || l.Fields["Entity"] != "patients" || l.Fields["runId"] != float64(f.count("SELECT max(id) FROM sync_runs")) {
		t.Errorf("applied line %v", l.Fields)
	}

	// The same event again: skipped as a duplicate.
	if err := f.invoke(applied); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"patientsync-status": "skipped", "patientsync-run": lastRun("patients"), "patientsync-reason": "duplicate", "clinic": "north"}
	if got := f.tags("patients.json", v1); !maps.Equal(got, want) {
		t.Errorf("duplicate: tags %v, want %v", got, want)
	}
	if l := metricLines(t, f.metrics)[0]; l.Fields["SnapshotsSkipped"] != 1.0 || l.Fields["SnapshotsApplied"] != 0.0 {
		t.Errorf("duplicate line %v", l.Fields)
	}

	// Rejected: a truncated file; the metric without dimensions is what
	// the "any rejected snapshot" alarm watches, Reason says why.
	rejected := f.event("s3-put-payments.json", func(string) []byte { return sample(t, "payments.json")[:50] })
	if err := f.invoke(rejected); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"patientsync-status": "rejected", "patientsync-run": lastRun("payments"), "patientsync-reason": "malformed"}
	if got := f.tags("payments.json", lastVersion(t, rejected)); !maps.Equal(got, want) {
		t.Errorf("rejected: tags %v, want %v", got, want)
	}
	l = metricLines(t, f.metrics)[0]
	v, dims, _ := l.value("SnapshotsRejected")
	if v != 1 || l.Fields["Reason"] != "malformed" || l.Fields["Entity"] != "payments" ||
		!slices.EqualFunc(dims, [][]string{{"Entity"}, {"Entity", "Reason"}, {}}, slices.Equal) {
		t.Errorf("SnapshotsRejected %v by %v; line %v", v, dims, l.Fields)
	}
	if _, _, ok := l.value("SyncLagSeconds"); ok {
		t.Error("a rejected run publishes a lag")
	}
}

// TestTaggingFailureKeepsTheSync: an S3 that refuses tagging (a role
// without the permission) costs the tags, never the sync.
func TestTaggingFailureKeepsTheSync(t *testing.T) {
	t.Parallel()
	f := newFixtureFront(t, nil, synclambda.DefaultSettings(), func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, ok := r.URL.Query()["tagging"]; ok {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`))
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	if err := f.invoke(f.event("s3-put-patients.json", func(string) []byte { return sample(t, "patients.json") })); err != nil {
		t.Fatalf("a tagging failure failed the invocation: %v", err)
	}
	if n := f.count("SELECT count(*) FROM sync_runs WHERE status = 'succeeded'"); n != 1 || f.count("SELECT count(*) FROM patients") == 0 {
		t.Fatalf("%d succeeded runs", n)
	}
	if l := metricLines(t, f.metrics); len(l) != 1 || l[0].Fields["SnapshotsApplied"] != 1.0 {
		t.Errorf("metrics %v", l)
	}
}

// TestKeyPrefix: with SYNC_KEY_PREFIX, a snapshot-named key elsewhere in
// the bucket (an archive) is not applied.
func TestKeyPrefix(t *testing.T) {
	t.Parallel()
	s, err := synclambda.SettingsFromEnv(func(k string) string {
		return map[string]string{"SYNC_KEY_PREFIX": "incoming/"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, nil, s)
	for _, c := range []struct {
		key     string
		applied bool
	}{
		{"archive/patients.json", false},
		{"patients.json", false},
		{"incoming/patients.json", true},
	} {
		before := f.count("SELECT count(*) FROM sync_runs")
		if err := f.invoke(f.eventAt("s3-put-patients.json", c.key, func(string) []byte { return sample(t, "patients.json") })); err != nil {
			t.Fatal(err)
		}
		if got := f.count("SELECT count(*) FROM sync_runs") > before; got != c.applied {
			t.Errorf("%s: synced %v, want %v", c.key, got, c.applied)
		}
	}
	if f.count("SELECT count(*) FROM sync_runs WHERE source LIKE '%/incoming/patients.json'") != 1 {
		t.Error("the run does not name incoming/patients.json")
	}
	if strings.Contains(f.metrics.String(), "archive") {
		t.Error("an ignored key produced metrics")
	}
}
