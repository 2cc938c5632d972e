// Package syncmetrics turns a sync run's outcome into CloudWatch metrics
// (Embedded Metric Format log lines), the same for a snapshot from S3 and
// one pushed over HTTP.
package syncmetrics

import (
	"time"

	"github.com/patientsync/patientsync/internal/emf"
	"github.com/patientsync/patientsync/internal/syncer"
)

// Namespace is where the sync's metrics go.
const Namespace = "patientsync"

// Write writes res's metrics as one line; now is when it was committed
// (for the lag).
func Write(w *emf.Writer, res syncer.Result, now time.Time) error {
	dims, m, props := metrics(res, now)
	return w.Write(dims, m, props)
}

// metrics are a run's metrics: counts of snapshots by outcome (by
// entity, in all, and rejections by reason too), the rows it wrote, its
// invalid records, its duration, and how long after the object was
// written its data was committed (lag).
func metrics(res syncer.Result, now time.Time) (map[string]string, []emf.Metric, map[string]any) {
	byEntity := [][]string{{"Entity"}, {}}
	dims := map[string]string{"Entity": string(res.Entity)}
	one := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	rejected := res.Status == syncer.StatusFailed && res.Code != syncer.CodeTransient
	m := []emf.Metric{
		{Name: "SnapshotsApplied", Unit: emf.Count, Value: one(res.Status == syncer.StatusSucceeded), Dims: byEntity},
		{Name: "SnapshotsSkipped", Unit: emf.Count, Value: one(res.Status == syncer.StatusSkipped), Dims: byEntity},
		{Name: "SnapshotsFailed", Unit: emf.Count, Value: one(res.Status == syncer.StatusFailed && !rejected), Dims: byEntity},
		{Name: "RowsInserted", Unit: emf.Count, Value: float64(res.Inserted), Dims: byEntity},
		{Name: "RowsUpdated", Unit: emf.Count, Value: float64(res.Updated), Dims: byEntity},
		{Name: "RowsDeleted", Unit: emf.Count, Value: float64(res.Deleted), Dims: byEntity},
		{Name: "RowsRestored", Unit: emf.Count, Value: float64(res.Restored), Dims: byEntity},
		{Name: "InvalidRecords", Unit: emf.Count, Value: float64(res.Invalid), Dims: byEntity},
		{Name: "SyncSeconds", Unit: emf.Seconds, Value: res.Finished.Sub(res.Started).Seconds(), Dims: byEntity},
	}
	if rejected {
		dims["Reason"] = res.Code
		m = append(m, emf.Metric{Name: "SnapshotsRejected", Unit: emf.Count, Value: 1,
			Dims: [][]string{{"Entity"}, {"Entity", "Reason"}, {}}})
	} else {
		m = append(m, emf.Metric{Name: "SnapshotsRejected", Unit: emf.Count, Value: 0, Dims: byEntity})
	}
	if res.Status == syncer.StatusSucceeded && !res.Identity.LastModified.IsZero() {
		m = append(m, emf.Metric{Name: "SyncLagSeconds", Unit: emf.Seconds, Value: now.Sub(res.Identity.LastModified).Seconds(), Dims: byEntity})
	}
	props := map[string]any{"runId": res.ID, "source": res.Source, "status": res.Status}
	if res.Code != "" {
		props["reasonCode"] = res.Code
	}
	return dims, m, props
}
