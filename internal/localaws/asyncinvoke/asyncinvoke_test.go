package asyncinvoke_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/localaws/asyncinvoke"
	"github.com/patientsync/patientsync/internal/testutil"
)

// recorder is an invoke target that records every attempt and fails the
// first failFirst[payload] attempts of a payload.
type recorder struct {
	mu        sync.Mutex
	calls     []string
	failFirst map[string]int
	active    int
	maxActive int
}

func (r *recorder) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, string(payload))
	r.active++
	r.maxActive = max(r.maxActive, r.active)
	n := 0
	for _, c := range r.calls {
		if c == string(payload) {
			n++
		}
	}
	fail := n <= r.failFirst[string(payload)]
	r.mu.Unlock()
	time.Sleep(time.Millisecond) // overlap would show in maxActive
	r.mu.Lock()
	r.active--
	r.mu.Unlock()
	if fail {
		return nil, errors.New("function error")
	}
	return []byte("null"), nil
}

func (r *recorder) snapshot() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), r.maxActive
}

func TestQueueRetries(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		maxRetries  int
		failFirst   map[string]int
		events      []string
		wantCalls   map[string]int
		wantFailed  []string
		wantStats   asyncinvoke.Stats
		wantLogPart string
	}{
		{
			name: "all succeed, in order", maxRetries: 2,
			events:    []string{"a", "b", "c"},
			wantCalls: map[string]int{"a": 1, "b": 1, "c": 1},
			wantStats: asyncinvoke.Stats{Enqueued: 3, Succeeded: 3},
		},
		{
			name: "succeeds on the second retry", maxRetries: 2,
			failFirst: map[string]int{"a": 2},
			events:    []string{"a", "b"},
			wantCalls: map[string]int{"a": 3, "b": 1},
			wantStats: asyncinvoke.Stats{Enqueued: 2, Succeeded: 2, Retried: 2},
		},
		{
			name: "two retries then given up", maxRetries: 2,
			failFirst:   map[string]int{"bad": 99},
			events:      []string{"bad", "good"},
			wantCalls:   map[string]int{"bad": 3, "good": 1},
			wantFailed:  []string{"bad"},
			wantStats:   asyncinvoke.Stats{Enqueued: 2, Succeeded: 1, Failed: 1, Retried: 2},
			wantLogPart: "retries exhausted",
		},
		{
			name: "no retries", maxRetries: 0,
			failFirst:  map[string]int{"bad": 99},
			events:     []string{"bad"},
			wantCalls:  map[string]int{"bad": 1},
			wantFailed: []string{"bad"},
			wantStats:  asyncinvoke.Stats{Enqueued: 1, Failed: 1},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{failFirst: c.failFirst}
			logs := &testutil.LogBuffer{}
			var mu sync.Mutex
			var failed []string
			q := asyncinvoke.New(rec, asyncinvoke.Config{
				Function: "sync", MaxRetries: c.maxRetries, RetryDelay: 5 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(logs, nil)),
				OnFailure: func(f asyncinvoke.Failure) {
					mu.Lock()
					defer mu.Unlock()
					failed = append(failed, string(f.Payload))
					if f.Attempts != c.maxRetries+1 || f.Err == nil {
						t.Errorf("failure %+v; want %d attempts and the error", f, c.maxRetries+1)
					}
				},
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go q.Run(ctx)
			for _, e := range c.events {
				q.Enqueue([]byte(e))
			}
			if err := q.Wait(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			calls, maxActive := rec.snapshot()
			got := map[string]int{}
			for _, call := range calls {
				got[call]++
			}
			for k, v := range c.wantCalls {
				if got[k] != v {
					t.Errorf("%q invoked %d times; want %d (calls %v)", k, got[k], v, calls)
				}
			}
			if len(got) != len(c.wantCalls) {
				t.Errorf("invoked %v; want %v", got, c.wantCalls)
			}
			if c.failFirst == nil && strings.Join(calls, "") != strings.Join(c.events, "") {
				t.Errorf("delivery order %v; want %v", calls, c.events)
			}
			if maxActive != 1 {
				t.Errorf("%d invocations at once; want one at a time", maxActive)
			}
			mu.Lock()
			if strings.Join(failed, ",") != strings.Join(c.wantFailed, ",") {
				t.Errorf("on-failure got %v; want %v", failed, c.wantFailed)
			}
			mu.Unlock()
			if s := q.Stats(); s != c.wantStats {
				t.Errorf("stats %+v; want %+v", s, c.wantStats)
			}
			if c.wantLogPart != "" && !strings.Contains(logs.String(), c.wantLogPart) {
				t.Errorf("log lacks %q:\n%s", c.wantLogPart, logs.String())
			}
		})
	}
}

func TestRetryDoesNotBlockOtherEvents(t *testing.T) {
	t.Parallel()
	rec := &recorder{failFirst: map[string]int{"slow-retry": 1}}
	q := asyncinvoke.New(rec, asyncinvoke.Config{
		Function: "sync", MaxRetries: 2, RetryDelay: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&testutil.LogBuffer{}, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx)
	q.Enqueue([]byte("slow-retry"))
	q.Enqueue([]byte("next"))
	if err := q.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	calls, _ := rec.snapshot()
	if strings.Join(calls, ",") != "slow-retry,next,slow-retry" {
		t.Errorf("calls %v; want the retry after the next event", calls)
	}
}

func TestShutdownDropsPending(t *testing.T) {
	t.Parallel()
	rec := &recorder{failFirst: map[string]int{"x": 99}}
	logs := &testutil.LogBuffer{}
	q := asyncinvoke.New(rec, asyncinvoke.Config{
		Function: "sync", MaxRetries: 2, RetryDelay: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	q.Enqueue([]byte("x"))
	for q.Stats().Retried == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if err := q.Wait(time.Second); err != nil {
		t.Fatalf("Wait after shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), "dropped=1") {
		t.Errorf("shutdown did not log the dropped event:\n%s", logs.String())
	}
}
