package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/patientsync/patientsync/internal/emf"
	"github.com/patientsync/patientsync/internal/snapshot"
	"github.com/patientsync/patientsync/internal/syncer"
	"github.com/patientsync/patientsync/internal/syncmetrics"
)

// DefaultMaxPushBytes bounds a pushed snapshot as sent. Behind API Gateway
// a body travels inside the synchronous Lambda invocation, which carries 6
// MB of event JSON: a JSON body there is escaped (every quote doubles), a
// gzip body base64-encoded (4/3): 4 MiB fits either way. Bigger snapshots
// go through POST /uploads.
const DefaultMaxPushBytes = 4 << 20

// maxPushDecoded bounds a gzip body once decompressed (a small body can
// inflate a thousandfold): a snapshot that large belongs in an upload, and
// a request must end within API Gateway's 30 seconds.
const maxPushDecoded = 64 << 20

// Syncer applies pushed snapshots: a *syncer.Syncer on the writer's pool.
type Syncer interface {
	Sync(ctx context.Context, obj syncer.Object) (syncer.Result, error)
}

type pusher struct {
	syncer  Syncer
	metrics *emf.Writer // nil: none
}

// WithPush makes h apply snapshots POSTed to /patients and /payments (when
// its Config lists PushPatients and PushPayments) with s, writing each
// run's metrics to metrics (stdout in Lambda; nil for none).
func (h *Handler) WithPush(s Syncer, metrics io.Writer) *Handler {
	h.push = &pusher{syncer: s}
	if metrics != nil {
		h.push.metrics = emf.New(metrics, syncmetrics.Namespace)
	}
	return h
}

// Push errors, mapped to statuses in fail.
var (
	errPushNotConfigured = errors.New("push route served without WithPush")
	// errNotJSON: 415.
	errNotJSON = errors.New("unsupported media type")
)

// TooLargeError: 413.
type TooLargeError struct {
	Limit    int64
	Decoded  bool // the limit is on the decompressed body
	Snapshot bool // a pushed snapshot, which can go through S3 instead
}

func (e *TooLargeError) Error() string {
	what := "the body"
	if e.Decoded {
		what = "the decompressed body"
	}
	if !e.Snapshot {
		return fmt.Sprintf("%s is larger than %d bytes", what, e.Limit)
	}
	return fmt.Sprintf("%s is larger than %d bytes; upload a snapshot that large to S3: POST %s answers a presigned URL for it", what, e.Limit, UploadsPath)
}

// RejectedError: 422, a snapshot that the syncer refused (its run says
// why).
type RejectedError struct {
	Run SyncRun
}

func (e *RejectedError) Error() string {
	if e.Run.Error != nil {
		return *e.Run.Error
	}
	return "snapshot rejected"
}

// BusyError: 409, another sync of the entity ran longer than the push may
// wait for it.
type BusyError struct {
	Entity     snapshot.Entity
	RetryAfter time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("another %s sync is running; retry in %d seconds (nothing was applied)", e.Entity, int(e.RetryAfter.Seconds()))
}

// SyncFailedError: 503, the sync failed for a reason of the server's
// (database trouble, time): nothing was applied, the same body can be sent
// again.
type SyncFailedError struct {
	RunID int64
	Err   error
}

func (e *SyncFailedError) Error() string {
	return fmt.Sprintf("sync run %d failed: %v", e.RunID, e.Err)
}
func (e *SyncFailedError) Unwrap() error { return e.Err }

func (h *Handler) pushRoute(e snapshot.Entity) routeFunc {
	return func(r *http.Request, _ query, _ []byte) (response, error) { return h.pushSnapshot(r, e) }
}

// pushSnapshot serves POST /patients and /payments: the body is a whole
// snapshot, applied like an uploaded file (same guards, lock, audit row).
func (h *Handler) pushSnapshot(r *http.Request, entity snapshot.Entity) (response, error) {
	if h.push == nil {
		return response{}, errPushNotConfigured
	}
	if err := checkJSONBody(r.Header); err != nil {
		return response{}, err
	}
	body, err := readBody(r, h.cfg.MaxPushBytes)
	var tooLarge *TooLargeError
	if errors.As(err, &tooLarge) {
		tooLarge.Snapshot = true
	}
	if err != nil {
		return response{}, err
	}
	if err := checkDecodedSize(body); err != nil {
		return response{}, err
	}
	ctx := r.Context()
	received := time.Now()
	res, err := h.push.syncer.Sync(ctx, syncer.Object{
		Entity:   entity,
		Source:   "api:" + RequestID(ctx),
		Identity: syncer.Identity{LastModified: received},
		Open: func(context.Context) (io.ReadCloser, syncer.Identity, error) {
			return io.NopCloser(bytes.NewReader(body)), syncer.Identity{}, nil
		},
	})
	if res.ID != 0 && h.push.metrics != nil {
		if merr := syncmetrics.Write(h.push.metrics, res, time.Now()); merr != nil {
			h.log.Warn("write metrics", "error", merr)
		}
	}
	switch {
	case errors.Is(err, syncer.ErrBusy):
		return response{}, &BusyError{Entity: entity, RetryAfter: h.store.retryAfter(context.WithoutCancel(ctx), entity)}
	case errors.Is(err, syncer.ErrRejected):
		run, rerr := h.store.syncRun(context.WithoutCancel(ctx), res.ID)
		if rerr != nil {
			return response{}, rerr
		}
		return response{}, &RejectedError{Run: run}
	case err != nil:
		return response{}, &SyncFailedError{RunID: res.ID, Err: err}
	}
	run, err := h.store.syncRun(ctx, res.ID)
	if err != nil {
		return response{}, err
	}
	return jsonResponse(run)
}

// checkJSONBody accepts application/json (any parameters), plain or gzip.
func checkJSONBody(hdr http.Header) error {
	mt, _, err := mime.ParseMediaType(hdr.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fmt.Errorf("%w: Content-Type %q; send application/json", errNotJSON, hdr.Get("Content-Type"))
	}
	switch enc := strings.ToLower(strings.TrimSpace(hdr.Get("Content-Encoding"))); enc {
	case "", "identity", "gzip", "x-gzip":
		return nil
	default:
		return fmt.Errorf("%w: Content-Encoding %q; send the JSON plain or gzip", errNotJSON, enc)
	}
}

// readBody reads the whole body, or fails with a TooLargeError as soon as
// it is longer than limit (told by Content-Length or found reading).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Limit: limit}
	}
	return b, nil
}

// checkDecodedSize refuses a gzip body that inflates beyond
// maxPushDecoded, reading it through once without keeping it. A broken
// gzip stream is left to the syncer, which rejects it as malformed.
func checkDecodedSize(body []byte) error {
	if len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		return nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(zr, maxPushDecoded+1))
	if n > maxPushDecoded {
		return &TooLargeError{Limit: maxPushDecoded, Decoded: true, Snapshot: true}
	}
	return nil
}
