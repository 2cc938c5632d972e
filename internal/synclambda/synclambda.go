// Package synclambda is the S3-triggered sync function: it turns each
// ObjectCreated record of an S3 event into a sync of that object version,
// or, when the sync cannot finish before the invocation's deadline (Decide),
// hands the object to the ECS runner (runner.go). functions/sync only calls
// FromEnv and lambda.Start.
package synclambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/emf"
	"github.com/patientsync/patientsync/internal/s3source"
	"github.com/patientsync/patientsync/internal/syncer"
)

// Settings come from the function's environment.
type Settings struct {
	Sync syncer.Config
	// Margin is kept free before the Lambda deadline so that a sync that
	// runs out of time rolls back and records its failure itself
	// (SYNC_DEADLINE_MARGIN).
	Margin time.Duration
	// The prediction's safety factor (>= 1) and rates without history, in
	// bytes/s (see Decide): SYNC_HANDOFF_SAFETY_FACTOR,
	// SYNC_HANDOFF_DEFAULT_RATE, SYNC_HANDOFF_DEFAULT_GZIP_RATE.
	Safety          float64
	DefaultRate     float64
	DefaultGzipRate float64
	// Runner is where snapshots that cannot finish in time go (RUNNER_*);
	// the zero value is none.
	Runner RunnerSettings
	// KeyPrefix (SYNC_KEY_PREFIX): only keys under it are snapshots, so
	// that archive/payments-old.json is not applied by accident. The S3
	// notification filters by it too; this holds where a notification was
	// configured wider (or by hand).
	KeyPrefix string
}

// lambdaMassDeleteHint is what an operator does in AWS to apply a snapshot
// the mass-deletion guard refused.
const lambdaMassDeleteHint = "to apply it anyway, deploy with the template parameter SyncAllowMassDelete=true, " +
	"upload the snapshot again, then deploy with false"

// DefaultSettings are the settings of an empty environment.
func DefaultSettings() Settings {
	sync := syncer.DefaultConfig()
	sync.MassDeleteHint = lambdaMassDeleteHint
	return Settings{Sync: sync, Margin: 10 * time.Second,
		Safety: SafetyFactor, DefaultRate: DefaultRate, DefaultGzipRate: DefaultGzipRate}
}

// SettingsFromEnv reads and validates the SYNC_* variables,
// SYNC_DEADLINE_MARGIN, SYNC_HANDOFF_*, SYNC_KEY_PREFIX and RUNNER_* with getenv, naming
// every wrong one. (The database comes from db.ConfigFromEnv.)
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	cfg, err := syncer.ConfigFromEnv(getenv)
	errs := []error{err}
	if getenv("SYNC_MASS_DELETE_HINT") == "" {
		cfg.MassDeleteHint = s.Sync.MassDeleteHint
	}
	s.Sync = cfg
	if v := getenv("SYNC_DEADLINE_MARGIN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("SYNC_DEADLINE_MARGIN=%q: want a duration such as 10s", v))
		} else {
			s.Margin = d
		}
	}
	number := func(name string, dst *float64, least float64, want string) {
		v := getenv(name)
		if v == "" {
			return
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < least || f == 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want %s", name, v, want))
			return
		}
		*dst = f
	}
	number("SYNC_HANDOFF_SAFETY_FACTOR", &s.Safety, 1, "a factor of 1 or more, such as 2")
	number("SYNC_HANDOFF_DEFAULT_RATE", &s.DefaultRate, 0, "bytes per second, more than 0")
	number("SYNC_HANDOFF_DEFAULT_GZIP_RATE", &s.DefaultGzipRate, 0, "bytes per second, more than 0")
	s.KeyPrefix = getenv("SYNC_KEY_PREFIX")
	r, err := runnerFromEnv(getenv)
	s.Runner = r
	errs = append(errs, err)
	return s, errors.Join(errs...)
}

// Handler handles S3 events.
type Handler struct {
	syncer  *syncer.Syncer
	source  *s3source.Source
	pool    *pgxpool.Pool
	s       Settings
	ecs     RunTaskAPI // with s.Runner configured
	log     *slog.Logger
	metrics *emf.Writer // nil: none
	tagger  tagger      // nil: none
}

// tagger tags an object version with its sync's outcome (s3source.Source).
type tagger interface {
	Tag(ctx context.Context, bucket, key, versionID string, tags map[string]string) error
}

// New returns a Handler syncing objects read through source into pool, and
// handing those that cannot finish in time to s.Runner through runTask
// (which may be nil when s.Runner is not configured).
func New(pool *pgxpool.Pool, source *s3source.Source, runTask RunTaskAPI, s Settings, log *slog.Logger) (*Handler, error) {
	sy, err := syncer.New(pool, s.Sync, log)
	if err != nil {
		return nil, err
	}
	if s.Runner.Configured() && runTask == nil {
		return nil, errors.New("an ECS runner is configured but no ECS client given")
	}
	return &Handler{syncer: sy, source: source, pool: pool, s: s, ecs: runTask, log: log, tagger: source}, nil
}

// WithMetrics makes h write each run's metrics to w, in CloudWatch
// Embedded Metric Format (in Lambda, w is stdout: the function's log).
func (h *Handler) WithMetrics(w io.Writer) *Handler {
	h.metrics = emf.New(w, MetricsNamespace)
	return h
}

// FromEnv is main's one call: settings from getenv, the database
// connection (db.ConfigFromEnv, as a writer), the pool (1 connection,
// opened lazily: a database that is down at cold start fails invocations,
// which Lambda retries, not the init), the S3 client and the handler.
func FromEnv(ctx context.Context, getenv func(string) string, log *slog.Logger, metrics io.Writer) (*Handler, *pgxpool.Pool, error) {
	s, err := SettingsFromEnv(getenv)
	if err != nil {
		return nil, nil, fmt.Errorf("invalid configuration: %w", err)
	}
	pool, err := db.PoolFromEnv(ctx, getenv, db.Writer, log, db.Options{MaxConns: 1, AppName: "patientsync-sync", RuntimeParams: syncer.SessionParams()})
	if err != nil {
		return nil, nil, err
	}
	client, err := s3source.NewClient(ctx, getenv)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	var runTask RunTaskAPI
	if s.Runner.Configured() {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			pool.Close()
			return nil, nil, fmt.Errorf("load AWS config: %w", err)
		}
		runTask = ecs.NewFromConfig(cfg)
		log.Info("snapshots that cannot finish before the deadline go to the ECS runner",
			"cluster", s.Runner.Cluster, "task_definition", s.Runner.TaskDefinition)
	}
	h, err := New(pool, s3source.New(client), runTask, s, log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return h.WithMetrics(metrics), pool, nil
}

// Handle processes every record. Permanent failures (a bad file, a tripped
// guard, a stale event) are recorded and logged, and the invocation still
// succeeds, because a retry cannot fix them. A transient failure (database
// or S3 unreachable, deadline, ECS refusing the task) fails the invocation
// so that Lambda retries; records already applied are then recognized and
// skipped. Before each sync, Decide says whether it can finish before the
// deadline; when it cannot and there is a runner, the object is handed to
// it and the hand-off recorded as a skipped run.
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) error {
	log := h.log
	startedBy := "patientsync-sync"
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		log = log.With("request_id", lc.AwsRequestID)
		startedBy += "/" + lc.AwsRequestID
	}
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		log.Error("not an S3 event", "error", err)
		return nil // retrying cannot make it one
	}
	if len(ev.Records) == 0 {
		var test events.S3TestEvent
		if json.Unmarshal(raw, &test) == nil && test.Event == "s3:TestEvent" {
			log.Info("S3 test event: nothing to do", "bucket", test.Bucket)
		} else {
			log.Warn("event without records ignored")
		}
		return nil
	}

	if dl, ok := ctx.Deadline(); ok && h.s.Margin > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-h.s.Margin))
		defer cancel()
	}
	s := h.syncer.WithLogger(log)
	var transient []error
	for i, rec := range ev.Records {
		key := rec.S3.Object.URLDecodedKey
		if key == "" {
			key = rec.S3.Object.Key
		}
		rlog := log.With("record", i, "bucket", rec.S3.Bucket.Name, "key", key, "event", rec.EventName)
		if !strings.HasPrefix(rec.EventName, "ObjectCreated:") {
			rlog.Info("not an ObjectCreated event: ignored")
			continue
		}
		if !strings.HasPrefix(key, h.s.KeyPrefix) {
			rlog.Info("not under SYNC_KEY_PREFIX: ignored", "prefix", h.s.KeyPrefix)
			continue
		}
		obj, err := h.source.Object(rec.S3.Bucket.Name, key, syncer.Identity{
			ETag:      rec.S3.Object.ETag,
			VersionID: rec.S3.Object.VersionID,
			Sequencer: rec.S3.Object.Sequencer,
		})
		if errors.Is(err, s3source.ErrNotSnapshot) {
			rlog.Info("not a snapshot key (patients*.json[.gz], payments*.json[.gz]): ignored")
			continue
		}
		d, err := h.decide(ctx, obj, rec.S3.Object.Size)
		if err != nil {
			if h.s.Runner.Configured() { // the sync itself would need the database too
				rlog.Error("cannot decide where to sync; the invocation will be retried", "error", err)
				transient = append(transient, fmt.Errorf("s3://%s/%s: %w", rec.S3.Bucket.Name, key, err))
				continue
			}
			rlog.Warn("cannot predict the sync's duration; syncing here", "error", err)
		}
		var res syncer.Result
		switch {
		case d.HandOff && h.s.Runner.Configured():
			res, err = h.handOff(ctx, s, rec.S3.Bucket.Name, key, obj, d, startedBy, rlog)
		case d.HandOff:
			rlog.Warn("the sync may not finish before the deadline and there is no ECS runner (template parameter RunnerImageUri): syncing here",
				"prediction", d.Why)
			res, err = s.Sync(ctx, obj)
		default:
			rlog.Debug("syncing here", "prediction", d.Why)
			res, err = s.Sync(ctx, obj)
		}
		if res.ID != 0 {
			h.report(ctx, rec.S3.Bucket.Name, key, res, rlog)
		}
		switch {
		case err == nil:
			rlog.Info("record done", "status", res.Status, "run_id", res.ID)
		case errors.Is(err, syncer.ErrRejected):
			rlog.Error("snapshot rejected; not retrying", "run_id", res.ID, "error", err)
		default:
			rlog.Error("sync failed; the invocation will be retried", "run_id", res.ID, "error", err)
			transient = append(transient, fmt.Errorf("s3://%s/%s: %w", rec.S3.Bucket.Name, key, err))
		}
	}
	return errors.Join(transient...)
}

// decide gathers Decide's inputs for obj, whose size the event gives: the
// time left (ctx's deadline is the invocation's minus the margin), the
// entity's recent rates, and, with a runner, whether a runner sync of the
// entity holds its lock.
func (h *Handler) decide(ctx context.Context, obj syncer.Object, size int64) (Decision, error) {
	e := Estimate{Size: size, Safety: h.s.Safety, DefaultRate: h.s.DefaultRate,
		Scratch: int64(float64(size) * ScratchPerByte), ScratchFree: freeScratch(os.TempDir())}
	if isGzip(obj.Source) {
		e.DefaultRate = h.s.DefaultGzipRate
		e.Scratch *= GzipRatio
	}
	dl, ok := ctx.Deadline()
	if !ok || size <= 0 {
		return Decide(e), nil // nothing to predict
	}
	// On an error the decision is made without the deadline: run here.
	var err error
	if e.Rates, err = recentRates(ctx, h.pool, obj.Entity, obj.Source); err != nil {
		return Decide(e), err
	}
	if h.s.Runner.Configured() {
		if e.RunnerBusy, err = runnerBusy(ctx, h.pool, obj.Entity); err != nil {
			return Decide(e), err
		}
	}
	e.HasDeadline, e.Left = true, time.Until(dl)
	return Decide(e), nil
}
