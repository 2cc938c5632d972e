package apilambda

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
)

// pushLockWait is how long a push waits for a running sync of its entity
// by default (SYNC_LOCK_TIMEOUT): API Gateway ends the request at 30
// seconds, and a client told 409 with Retry-After does better than one
// whose request times out.
const pushLockWait = 5 * time.Second

// PushSettings configure the push function: the syncer's SYNC_* settings
// and PUSH_MAX_BYTES.
type PushSettings struct {
	Sync     syncer.Config
	MaxBytes int64
}

// PushSettingsFromEnv reads them with getenv.
func PushSettingsFromEnv(getenv func(string) string) (PushSettings, error) {
	cfg, err := syncer.ConfigFromEnv(getenv)
	if err != nil {
		return PushSettings{}, err
	}
	if getenv("SYNC_LOCK_TIMEOUT") == "" {
		cfg.LockTimeout = pushLockWait
	}
	if getenv("SYNC_MASS_DELETE_HINT") == "" {
		cfg.MassDeleteHint = "a push cannot override the guard: if the deletion is intended, the operator deploys with " +
			"the template parameter SyncAllowMassDelete=true, the snapshot is pushed again, and the parameter goes back to false"
	}
	s := PushSettings{Sync: cfg, MaxBytes: api.DefaultMaxPushBytes}
	if v := getenv("PUSH_MAX_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return s, fmt.Errorf("PUSH_MAX_BYTES=%q: want a positive number of bytes", v)
		}
		s.MaxBytes = n
	}
	return s, nil
}

// NewPush is the push function's one call (POST /patients, /payments):
// a syncer on a one-connection pool of the writer, its metrics to metrics
// (stdout: the function's log).
func NewPush(ctx context.Context, getenv func(string) string, log *slog.Logger, metrics io.Writer) (Func, *pgxpool.Pool, error) {
	s, err := PushSettingsFromEnv(getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration: %w", err)
	}
	pool, err := db.PoolFromEnv(ctx, getenv, db.Writer, log, db.Options{MaxConns: 1, AppName: "patientsync-push", RuntimeParams: syncer.SessionParams()})
	if err != nil {
		return nil, nil, err
	}
	sy, err := syncer.New(pool, s.Sync, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	h := api.New(pool, api.Config{Routes: []api.Route{api.PushPatients, api.PushPayments}, MaxPushBytes: s.MaxBytes}, log).
		WithPush(sy, metrics)
	return Adapt(h), pool, nil
}

// UploadSettings configure the upload function.
type UploadSettings struct {
	Bucket string        // SNAPSHOT_BUCKET
	Prefix string        // SYNC_KEY_PREFIX, as the sync function reads it
	TTL    time.Duration // UPLOAD_URL_TTL, default 15m
}

// UploadSettingsFromEnv reads them with getenv.
func UploadSettingsFromEnv(getenv func(string) string) (UploadSettings, error) {
	s := UploadSettings{Bucket: getenv("SNAPSHOT_BUCKET"), Prefix: getenv("SYNC_KEY_PREFIX"), TTL: 15 * time.Minute}
	if s.Bucket == "" {
		return s, fmt.Errorf("SNAPSHOT_BUCKET is not set")
	}
	if v := getenv("UPLOAD_URL_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 7*24*time.Hour {
			return s, fmt.Errorf("UPLOAD_URL_TTL=%q: want a duration from 1s to 168h (S3's limit for presigned URLs)", v)
		}
		s.TTL = d
	}
	return s, nil
}

// NewUploads is the upload function's one call (POST /uploads): no
// database, an S3 client whose credentials sign the URLs.
func NewUploads(ctx context.Context, getenv func(string) string, log *slog.Logger) (Func, error) {
	s, err := UploadSettingsFromEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	client, err := s3source.NewClient(ctx, getenv)
	if err != nil {
		return nil, err
	}
	h := api.New(nil, api.Config{Routes: []api.Route{api.CreateUpload}}, log).
		WithUploads(s3source.NewUploads(client, s.Bucket, s.Prefix, s.TTL))
	return Adapt(h), nil
}
