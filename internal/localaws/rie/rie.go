// Package rie runs a Lambda function binary (a provided.al2023 "bootstrap")
// under AWS's Lambda runtime interface emulator and invokes it the way the
// Lambda service does. The emulator only exists for Linux.
package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Module and Version pin the emulator; the Makefile's RIE_VERSION must match
// (a test checks it).
const (
	Module  = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
)

// InvokePath is the emulator's Invoke API, the same path as Lambda's.
const InvokePath = "/2015-03-31/functions/function/invocations"

// Config describes one function.
type Config struct {
	Name      string            // AWS_LAMBDA_FUNCTION_NAME and the log prefix
	RIE       string            // path of aws-lambda-rie
	Bootstrap string            // path of the function's bootstrap binary
	Env       map[string]string // the function's environment variables
	Timeout   time.Duration     // function timeout, whole seconds (default 3s like Lambda)
	MemoryMB  int               // reported memory size (default 128)
	Region    string            // AWS_REGION (default us-east-1)
	// Logs receives the emulator's and the function's output, each line
	// prefixed with "[Name] ". Nil discards it.
	Logs io.Writer
	// LogLevel is the emulator's own log level (default "warn"; "info" shows
	// its INIT/INVOKE lines).
	LogLevel string
}

// Function is a running emulator with one function in it.
type Function struct {
	cfg  Config
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the emulator process has exited
	// The emulator serves one invocation at a time (a concurrent one crashes
	// it), like one Lambda execution environment.
	mu     sync.Mutex
	client *http.Client
	stop   sync.Once
	mem    peakMemory // for the REPORT lines
}

// FunctionError is a failed invocation: the handler returned an error,
// panicked, exited or timed out. Lambda counts these as function errors and
// retries asynchronous invocations after them.
type FunctionError struct {
	Type       string
	Message    string
	StatusCode int // the emulator's HTTP status
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Start launches the emulator on free loopback ports and waits until it
// accepts invocations. The function itself starts (its init phase) on the
// first invocation, as in Lambda.
func Start(ctx context.Context, cfg Config) (*Function, error) {
	if cfg.Name == "" {
		return nil, errors.New("rie: function name is empty")
	}
	for _, p := range []string{cfg.RIE, cfg.Bootstrap} {
		if st, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("rie %s: %w", cfg.Name, err)
		} else if st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, fmt.Errorf("rie %s: %s is not an executable file", cfg.Name, p)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 3 * time.Second
	}
	if cfg.Timeout < time.Second {
		cfg.Timeout = time.Second
	}
	if cfg.MemoryMB <= 0 {
		cfg.MemoryMB = 128
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = "warn"
	}
	if cfg.Logs == nil {
		cfg.Logs = io.Discard
	}
	// Free ports are picked by binding and releasing them, so another process
	// can take one in between; the emulator then exits and we try again.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		f, err := start(ctx, cfg)
		if err == nil {
			return f, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func start(ctx context.Context, cfg Config) (*Function, error) {
	apiAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// Absolute: exec resolves a relative path against cmd.Dir.
	bootstrap, err := filepath.Abs(cfg.Bootstrap)
	if err != nil {
		return nil, err
	}
	emulator, err := filepath.Abs(cfg.RIE)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(emulator,
		"--runtime-interface-emulator-address", apiAddr,
		// Each emulator needs its own Runtime API port (default 9001).
		"--runtime-api-address", runtimeAddr,
		"--log-level", cfg.LogLevel,
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap) // the task root, like /var/task
	cmd.Env = environment(cfg, filepath.Dir(bootstrap))
	// Own process group so that stopping reaches the emulator and nothing
	// else; the emulator stops the function when it gets SIGTERM.
	cmd.SysProcAttr = sysProcAttr()
	tail := &tailBuffer{max: 20}
	out := &lineWriter{prefix: "[" + cfg.Name + "] ", w: cfg.Logs, tail: tail}
	cmd.Stdout, cmd.Stderr = out, out
	// The function inherits the emulator's output; do not wait for it to
	// close after the emulator is gone.
	cmd.WaitDelay = 2 * time.Second
	f := &Function{
		cfg:  cfg,
		url:  "http://" + apiAddr + InvokePath,
		cmd:  cmd,
		done: make(chan struct{}),
		// No client timeout: Invoke bounds each call by the function timeout.
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}},
	}
	out.rewrite = func(line string) string {
		if !strings.HasPrefix(line, "REPORT ") {
			return line
		}
		mb, ok := f.mem.peakMB()
		return rewriteReport(line, mb, ok)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.RIE, err)
	}
	f.mem.setEmulator(cmd.Process.Pid, bootstrap)
	go func() {
		_ = cmd.Wait()
		out.flush()
		close(f.done)
	}()

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", apiAddr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			// The port may answer for another process that took it after
			// freeAddr released it: the emulator, failing to bind it (or its
			// Runtime API port), exits at once.
			select {
			case <-f.done:
				return nil, fmt.Errorf("rie %s exited on start (%v): %s", cfg.Name, cmd.ProcessState, tail.String())
			case <-time.After(startGrace):
				return f, nil
			}
		}
		select {
		case <-f.done:
			return nil, fmt.Errorf("rie %s exited on start (%v): %s", cfg.Name, cmd.ProcessState, tail.String())
		case <-ctx.Done():
			f.Stop()
			return nil, ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			f.Stop()
			return nil, fmt.Errorf("rie %s did not listen on %s within 15s: %s", cfg.Name, apiAddr, tail.String())
		}
	}
}

// environment is a clean Lambda-like environment: nothing leaks in from the
// developer's shell (AWS_PROFILE and the like would change the SDK's
// behaviour), so the function sees only what it would see in Lambda plus
// cfg.Env.
func environment(cfg Config, taskRoot string) []string {
	secs := int((cfg.Timeout + time.Second - 1) / time.Second)
	env := map[string]string{
		"PATH":                            "/usr/local/bin:/usr/bin:/bin",
		"LANG":                            "en_US.UTF-8",
		"TZ":                              ":UTC",
		"LAMBDA_TASK_ROOT":                taskRoot,
		"_HANDLER":                        "bootstrap",
		"AWS_EXECUTION_ENV":               "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_FUNCTION_NAME":        cfg.Name,
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(secs),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(cfg.MemoryMB),
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + cfg.Name,
		"AWS_REGION":                      cfg.Region,
		"AWS_DEFAULT_REGION":              cfg.Region,
		// Dummy credentials: the local endpoints accept any.
		"AWS_ACCESS_KEY_ID":     "test",
		"AWS_SECRET_ACCESS_KEY": "test",
		"AWS_SESSION_TOKEN":     "test",
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// URL is the emulator's invoke URL.
func (f *Function) URL() string { return f.url }

// Name is the function's name.
func (f *Function) Name() string { return f.cfg.Name }

// Done is closed when the emulator has exited.
func (f *Function) Done() <-chan struct{} { return f.done }

// Invoke runs the function synchronously with payload (an event as JSON)
// and returns its response. A function that fails returns a *FunctionError.
// Calls are serialized: one execution environment, one invocation at a time.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.mem.watch(100 * time.Millisecond)()
	select {
	case <-f.done:
		return nil, fmt.Errorf("invoke %s: the emulator is not running", f.cfg.Name)
	default:
	}
	// The emulator answers a timed-out invocation itself; the margin only
	// covers a hung emulator.
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout+10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.cfg.Name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read response: %w", f.cfg.Name, err)
	}
	if ferr := classify(resp.StatusCode, body); ferr != nil {
		return nil, ferr
	}
	return body, nil
}

// classify turns the emulator's answer into a *FunctionError when the
// invocation failed. The emulator, unlike Lambda, sets no
// X-Amz-Function-Error header: a handler error comes back as 200 with an
// {"errorMessage","errorType"} body, a timeout as 200 with "Task timed out
// after N.00 seconds", a crash or panic as 502 with an error body.
func classify(status int, body []byte) *FunctionError {
	if status == http.StatusOK && bytes.HasPrefix(body, []byte("Task timed out after")) {
		return &FunctionError{Type: "Sandbox.Timedout", Message: string(body), StatusCode: status}
	}
	var e struct {
		Type    *string `json:"errorType"`
		Message *string `json:"errorMessage"`
	}
	isErr := json.Unmarshal(body, &e) == nil && e.Type != nil && e.Message != nil
	switch {
	case status == http.StatusOK && !isErr:
		return nil
	case isErr:
		return &FunctionError{Type: *e.Type, Message: *e.Message, StatusCode: status}
	default:
		msg := strings.TrimSpace(string(body))
		if msg == "" {
			msg = http.StatusText(status)
		}
		return &FunctionError{Type: "Emulator.HTTP" + strconv.Itoa(status), Message: msg, StatusCode: status}
	}
}

// Stop ends the emulator and the function: SIGTERM to its process group,
// SIGKILL after 5s.
func (f *Function) Stop() {
	f.stop.Do(func() {
		if f.cmd.Process == nil {
			return
		}
		_ = terminate(f.cmd.Process)
		select {
		case <-f.done:
		case <-time.After(5 * time.Second):
			_ = kill(f.cmd.Process)
			<-f.done
		}
		f.client.CloseIdleConnections()
	})
}

// startGrace is how long the emulator must outlive its port's first
// answer to count as started.
const startGrace = 250 * time.Millisecond

// freeAddr picks a free loopback port; a var so that a test can hand out a
// taken one.
var freeAddr = pickFreeAddr

func pickFreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tailBuffer keeps the last lines of output for start-up error messages.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tailBuffer) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// lineWriter prefixes each line of output, after rewrite when set, and
// keeps the last ones.
type lineWriter struct {
	mu      sync.Mutex
	prefix  string
	w       io.Writer
	tail    *tailBuffer
	buf     []byte
	rewrite func(string) string
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 1<<20 { // an endless line: cut it
		l.emit(string(l.buf))
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineWriter) emit(line string) {
	line = strings.TrimRight(line, "\r")
	if l.rewrite != nil {
		line = l.rewrite(line)
	}
	l.tail.add(line)
	fmt.Fprintln(l.w, l.prefix+line)
}
