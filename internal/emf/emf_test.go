package emf_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/patientsync/patientsync/internal/emf"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := emf.New(&b, "patientsync")
	err := w.Write(map[string]string{"Entity": "patients", "Reason": "malformed"}, []emf.Metric{
		{Name: "SnapshotsRejected", Unit: emf.Count, Value: 1, Dims: [][]string{{"Entity"}, {"Entity", "Reason"}, {}}},
		{Name: "SyncSeconds", Unit: emf.Seconds, Value: 2.5, Dims: [][]string{{"Entity"}}},
	}, map[string]any{"runId": 7})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
		Entity, Reason    string
		SnapshotsRejected float64
		SyncSeconds       float64
		RunID             int `json:"runId"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || bytes.Count(b.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("not one JSON line: %q (%v)", b.String(), err)
	}
	d := doc.AWS.CloudWatchMetrics
	if doc.AWS.Timestamp == 0 || len(d) != 2 || d[0].Namespace != "patientsync" || len(d[0].Dimensions) != 3 ||
		len(d[0].Dimensions[2]) != 0 || d[0].Metrics[0].Name != "SnapshotsRejected" || d[1].Metrics[0].Unit != "Seconds" {
		t.Fatalf("directives: %+v", d)
	}
	if doc.Entity != "patients" || doc.Reason != "malformed" || doc.SnapshotsRejected != 1 || doc.SyncSeconds != 2.5 || doc.RunID != 7 {
		t.Fatalf("values: %+v", doc)
	}
}
