// Package localaws is the Docker-free local AWS of `patientsync up` and the
// end-to-end test: an S3 endpoint whose snapshot bucket invokes the sync
// function asynchronously on every upload, and an HTTP API in front of the
// query functions. The functions are the real bootstrap binaries, each in
// AWS's Lambda runtime interface emulator.
package localaws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/patientsync/patientsync/internal/localaws/asyncinvoke"
	"github.com/patientsync/patientsync/internal/localaws/httpapi"
	"github.com/patientsync/patientsync/internal/localaws/rie"
	"github.com/patientsync/patientsync/internal/localaws/s3server"
)

// Config describes the stack. Empty addresses, names, paths and durations
// take the values of Defaults (none of them means anything when zero);
// MaxRetries is taken as it is.
type Config struct {
	S3Addr  string // listen address of S3 (port 0: any free port)
	APIAddr string // listen address of the HTTP API
	Bucket  string // the snapshot bucket
	Region  string

	RIE string // aws-lambda-rie binary
	// BinDir holds each function's bootstrap, as lambda/<name>/bootstrap
	// (make build).
	BinDir string

	DatabaseURL string
	// SyncEnv is added to the sync function's environment (SYNC_* limits).
	SyncEnv map[string]string

	SyncTimeout, QueryTimeout time.Duration
	// Asynchronous invocation of the sync function: retries after a failure
	// (Lambda's default is 2) and the delay before the first one (doubling).
	MaxRetries int
	RetryDelay time.Duration

	Logger       *slog.Logger
	FunctionLogs io.Writer // emulator and function output, prefixed per function
	// RIELogLevel is the emulators' own log level ("warn" by default).
	RIELogLevel string
}

// Defaults are the addresses and names `make up` uses.
func Defaults() Config {
	return Config{
		S3Addr: "127.0.0.1:4566", APIAddr: "127.0.0.1:3000",
		Bucket: "patientsync-snapshots", Region: "us-east-1",
		RIE: "bin/aws-lambda-rie", BinDir: "bin", RIELogLevel: "warn",
		SyncTimeout: 15 * time.Minute, QueryTimeout: 10 * time.Second,
		MaxRetries: 2, RetryDelay: time.Second,
	}
}

// Suffixes are the keys that trigger the sync function (the template's
// notification filters).
var Suffixes = []string{".json", ".json.gz"}

// Stack is the running local AWS.
type Stack struct {
	S3URL  string // http://host:port of the S3 endpoint
	APIURL string // http://host:port of the HTTP API
	Bucket string
	// SyncQueue is the sync function's asynchronous invocation queue.
	SyncQueue *asyncinvoke.Queue

	log     *slog.Logger
	funcs   []*rie.Function
	servers []*http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	failed  chan error
	closing chan struct{}
	once    sync.Once
}

// withDefaults fills the empty fields from Defaults, and the bootstraps
// from BinDir.
func (c Config) withDefaults() Config {
	d := Defaults()
	for _, f := range []struct{ v, def *string }{
		{&c.S3Addr, &d.S3Addr}, {&c.APIAddr, &d.APIAddr}, {&c.Bucket, &d.Bucket}, {&c.Region, &d.Region},
		{&c.RIE, &d.RIE}, {&c.BinDir, &d.BinDir}, {&c.RIELogLevel, &d.RIELogLevel},
	} {
		if *f.v == "" {
			*f.v = *f.def
		}
	}
	for _, f := range []struct{ v, def *time.Duration }{
		{&c.SyncTimeout, &d.SyncTimeout}, {&c.QueryTimeout, &d.QueryTimeout}, {&c.RetryDelay, &d.RetryDelay},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Functions are the stack's Lambda functions, as in template.yaml, but for
// the migrate function: the local stack migrates its database itself.
var Functions = []string{"sync", "patients", "payments", "syncs", "push", "uploads"}

// Bootstrap is where c expects function name's binary.
func (c Config) Bootstrap(name string) string {
	return filepath.Join(c.BinDir, "lambda", name, "bootstrap")
}

// Route is one HTTP API route and the function (one of Functions) that
// serves it.
type Route struct{ Method, Path, Function string }

// Routes are the HTTP API's routes, as in template.yaml (a test holds the
// two to each other).
var Routes = []Route{
	{"GET", "/patients", "patients"},
	{"GET", "/payments", "payments"},
	{"GET", "/syncs", "syncs"},
	{"GET", "/syncs/{id}", "syncs"},
	{"GET", "/openapi.json", "syncs"},
	{"GET", "/health", "syncs"},
	{"POST", "/patients", "push"},
	{"POST", "/payments", "push"},
	{"POST", "/uploads", "uploads"},
}

// Start brings the stack up; Close stops it. On error nothing is left
// running. An address that cannot be listened on is a *ListenError.
func Start(ctx context.Context, cfg Config) (_ *Stack, err error) {
	cfg = cfg.withDefaults()
	if cfg.DatabaseURL == "" {
		return nil, errors.New("localaws: DatabaseURL is empty")
	}
	if cfg.MaxRetries < 0 {
		return nil, fmt.Errorf("localaws: MaxRetries %d is negative", cfg.MaxRetries)
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s := &Stack{
		Bucket: cfg.Bucket, log: cfg.Logger, cancel: cancel,
		failed: make(chan error, 4), closing: make(chan struct{}),
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()

	s3l, err := listen("S3 endpoint", "S3Addr", cfg.S3Addr)
	if err != nil {
		return nil, err
	}
	apiL, err := listen("HTTP API", "APIAddr", cfg.APIAddr)
	if err != nil {
		s3l.Close()
		return nil, err
	}
	s.S3URL = "http://" + dialable(s3l.Addr())
	s.APIURL = "http://" + dialable(apiL.Addr())

	// The emulators start in parallel; each takes a moment. The sync
	// function has the template's timeout and memory, the query functions
	// theirs.
	funcs := make([]*rie.Function, len(Functions))
	errs := make([]error, len(Functions))
	var wg sync.WaitGroup
	for i, name := range Functions {
		rc := rie.Config{
			Name: name, RIE: cfg.RIE, Bootstrap: cfg.Bootstrap(name), Region: cfg.Region,
			Timeout: cfg.QueryTimeout, MemoryMB: 256, Env: map[string]string{"DATABASE_URL": cfg.DatabaseURL},
			Logs: cfg.FunctionLogs, LogLevel: cfg.RIELogLevel,
		}
		switch name {
		case "sync":
			rc.Timeout, rc.MemoryMB, rc.Env = cfg.SyncTimeout, 1024, syncEnv(cfg, s.S3URL)
		case "push": // API Gateway's 30 seconds
			rc.Timeout, rc.MemoryMB, rc.Env = 29*time.Second, 1024, syncEnv(cfg, s.S3URL)
		case "uploads": // no database: S3 only
			rc.Env = map[string]string{"AWS_ENDPOINT_URL": s.S3URL, "AWS_S3_USE_PATH_STYLE": "true",
				"SNAPSHOT_BUCKET": cfg.Bucket, "SYNC_KEY_PREFIX": cfg.SyncEnv["SYNC_KEY_PREFIX"]}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			funcs[i], errs[i] = rie.Start(ctx, rc)
		}()
	}
	wg.Wait()
	for _, f := range funcs {
		if f != nil {
			s.funcs = append(s.funcs, f)
		}
	}
	if err := errors.Join(errs...); err != nil {
		s3l.Close()
		apiL.Close()
		return nil, err
	}
	byName := map[string]*rie.Function{}
	for i, name := range Functions {
		byName[name] = funcs[i]
	}
	syncFn := byName["sync"]

	retryCfg := asyncinvoke.Config{
		Function: "sync", MaxRetries: cfg.MaxRetries, RetryDelay: cfg.RetryDelay, Logger: cfg.Logger,
	}
	s.SyncQueue = asyncinvoke.New(syncFn, retryCfg)
	s3srv, err := s3server.New(s3server.Config{
		Bucket: cfg.Bucket, Region: cfg.Region, Suffixes: Suffixes,
		ConfigurationID: "patientsync-sync", Notify: s.SyncQueue.Enqueue,
		Logger: cfg.Logger.With("component", "s3"),
	})
	if err != nil {
		s3l.Close()
		apiL.Close()
		return nil, err
	}
	var apiRoutes []httpapi.Route
	for _, r := range Routes {
		apiRoutes = append(apiRoutes, httpapi.Route{Method: r.Method, Path: r.Path, Function: byName[r.Function]})
	}
	api := httpapi.New(httpapi.Config{Routes: apiRoutes, Logger: cfg.Logger.With("component", "httpapi")})

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.SyncQueue.Run(runCtx)
	}()
	s.serve(s3l, s3srv.Handler(), "S3")
	s.serve(apiL, api, "HTTP API")
	for _, f := range s.funcs {
		s.watch(f)
	}
	// S3 sends a test event when a bucket notification is configured.
	s.SyncQueue.Enqueue(s3srv.TestEvent())
	return s, nil
}

func syncEnv(cfg Config, s3URL string) map[string]string {
	env := map[string]string{
		"DATABASE_URL":          cfg.DatabaseURL,
		"AWS_ENDPOINT_URL":      s3URL,
		"AWS_S3_USE_PATH_STYLE": "true",
	}
	for k, v := range cfg.SyncEnv {
		env[k] = v
	}
	if _, set := env["SYNC_MASS_DELETE_HINT"]; !set {
		// What works here: the functions' environment is `make up`'s shell's.
		env["SYNC_MASS_DELETE_HINT"] = "to apply it anyway, restart `make up` with SYNC_ALLOW_MASS_DELETE=true " +
			"and upload it again; or `make reset` to start from an empty database and bucket"
	}
	return env
}

// dialable turns a listen address into one clients can reach.
func dialable(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (s *Stack) serve(l net.Listener, h http.Handler, name string) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("%s: %w", name, err))
		}
	}()
}

// watch reports an emulator that exits while the stack runs.
func (s *Stack) watch(f *rie.Function) {
	go func() {
		select {
		case <-f.Done():
			s.fail(fmt.Errorf("the %s function's emulator exited", f.Name()))
		case <-s.closing:
		}
	}()
}

func (s *Stack) fail(err error) {
	select {
	case <-s.closing:
		return
	default:
	}
	select {
	case s.failed <- err:
	default:
	}
}

// Failed delivers an error when a part of the stack stops by itself.
func (s *Stack) Failed() <-chan error { return s.failed }

// Close stops the servers, the queue and the emulators.
func (s *Stack) Close() {
	s.once.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, srv := range s.servers {
			_ = srv.Shutdown(ctx)
		}
		s.cancel()
		s.wg.Wait()
		var wg sync.WaitGroup
		for _, f := range s.funcs {
			wg.Add(1)
			go func() { defer wg.Done(); f.Stop() }()
		}
		wg.Wait()
	})
}
