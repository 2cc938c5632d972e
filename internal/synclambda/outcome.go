package synclambda

import (
	"context"
	"log/slog"
	"time"

	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/syncmetrics"
)

// MetricsNamespace is where the sync's metrics go.
const MetricsNamespace = syncmetrics.Namespace

// report tells the world how a run ended: a line of metrics in the log
// (CloudWatch Embedded Metric Format), and tags on the object version the
// run read, for the uploader. Neither can fail or undo the sync: a failure
// is logged.
func (h *Handler) report(ctx context.Context, bucket, key string, res syncer.Result, log *slog.Logger) {
	if h.metrics != nil {
		if err := syncmetrics.Write(h.metrics, res, time.Now()); err != nil {
			log.Warn("write metrics", "error", err)
		}
	}
	tags := s3source.OutcomeTags(res)
	if tags == nil || h.tagger == nil {
		return
	}
	if err := h.tagger.Tag(ctx, bucket, key, res.Identity.VersionID, tags); err != nil {
		log.Warn("could not tag the object with its sync outcome", "error", err, "tags", tags)
	}
}
