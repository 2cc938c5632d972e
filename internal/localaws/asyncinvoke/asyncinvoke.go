// Package asyncinvoke delivers events to a function the way Lambda's
// asynchronous invocation does for S3: events wait in a queue, a failed
// invocation is retried (twice by default, after a delay that doubles), and
// an event that still fails is logged and handed to an on-failure hook.
package asyncinvoke

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Invoker runs a function synchronously; a *rie.Function is one.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Config tunes the retry behaviour.
type Config struct {
	Function string // name for logs
	// MaxRetries after the first attempt; Lambda's default (and maximum) is
	// 2. Negative means 0.
	MaxRetries int
	// RetryDelay before the first retry, doubled for each further one.
	// Lambda waits about one and then two minutes; locally a second keeps
	// the behaviour without the wait.
	RetryDelay time.Duration
	Logger     *slog.Logger
	// OnFailure receives events whose retries are exhausted (Lambda's
	// on-failure destination).
	OnFailure func(Failure)
}

// Failure is an event that was not delivered.
type Failure struct {
	Payload  []byte
	Attempts int
	Err      error
}

// Stats counts what the queue did.
type Stats struct {
	Enqueued, Succeeded, Failed, Retried int
}

type item struct {
	payload  []byte
	attempts int
}

// Queue is an unbounded FIFO of events for one function, delivered by one
// worker: one execution environment, one event at a time.
type Queue struct {
	inv    Invoker
	cfg    Config
	log    *slog.Logger
	mu     sync.Mutex
	items  []item
	wake   chan struct{}
	stats  Stats
	timers map[*time.Timer]struct{}
	// pending counts events not yet finished (queued, in flight or waiting
	// for a retry), for Wait.
	pending int
}

// New returns a queue; call Run to deliver.
func New(inv Invoker, cfg Config) *Queue {
	if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	q := &Queue{
		inv: inv, cfg: cfg,
		log:    log.With("function", cfg.Function),
		wake:   make(chan struct{}, 1),
		timers: map[*time.Timer]struct{}{},
	}
	return q
}

// Enqueue adds an event; it never blocks.
func (q *Queue) Enqueue(payload []byte) {
	q.mu.Lock()
	q.stats.Enqueued++
	q.pending++
	q.push(item{payload: payload})
	q.mu.Unlock()
}

func (q *Queue) push(it item) { // with q.mu held
	q.items = append(q.items, it)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends; events still queued then are dropped
// (and logged), as a stopped local stack has nobody to deliver to.
func (q *Queue) Run(ctx context.Context) {
	defer q.shutdown()
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		it := q.items[0]
		q.items = q.items[1:]
		q.mu.Unlock()
		q.deliver(ctx, it)
		if ctx.Err() != nil {
			return
		}
	}
}

func (q *Queue) deliver(ctx context.Context, it item) {
	it.attempts++
	_, err := q.inv.Invoke(ctx, it.payload)
	if ctx.Err() != nil && err != nil {
		q.log.Warn("async invoke abandoned: shutting down", "attempt", it.attempts, "error", err)
		q.finish(func(s *Stats) { s.Failed++ })
		return
	}
	if err == nil {
		if it.attempts > 1 {
			q.log.Info("async invoke succeeded on retry", "attempt", it.attempts)
		}
		q.finish(func(s *Stats) { s.Succeeded++ })
		return
	}
	if it.attempts > q.cfg.MaxRetries {
		q.log.Error("async invoke failed; retries exhausted, event discarded",
			"attempts", it.attempts, "error", err, "event", string(it.payload))
		if q.cfg.OnFailure != nil {
			q.cfg.OnFailure(Failure{Payload: it.payload, Attempts: it.attempts, Err: err})
		}
		q.finish(func(s *Stats) { s.Failed++ })
		return
	}
	delay := q.cfg.RetryDelay << (it.attempts - 1)
	q.log.Warn("async invoke failed; will retry", "attempt", it.attempts, "retry_in", delay.String(), "error", err)
	q.mu.Lock()
	q.stats.Retried++
	// The retry goes to the back of the queue after the delay; other events
	// are delivered meanwhile, as in Lambda.
	var t *time.Timer
	t = time.AfterFunc(delay, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if _, ok := q.timers[t]; !ok {
			return // shut down
		}
		delete(q.timers, t)
		q.push(it)
	})
	q.timers[t] = struct{}{}
	q.mu.Unlock()
}

func (q *Queue) finish(count func(*Stats)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	count(&q.stats)
	q.pending--
}

func (q *Queue) shutdown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	dropped := len(q.items) + len(q.timers)
	for t := range q.timers {
		t.Stop()
	}
	q.timers = map[*time.Timer]struct{}{}
	q.items = nil
	q.pending = 0
	if dropped > 0 {
		q.log.Warn("async invoke queue stopped with undelivered events", "dropped", dropped)
	}
}

// Stats returns the counters so far.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

// ErrTimeout is returned by Wait when events are still pending.
var ErrTimeout = errors.New("asyncinvoke: events still pending")

// Wait blocks until every enqueued event has been delivered or given up
// on (including its retries), or until timeout.
func (q *Queue) Wait(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		q.mu.Lock()
		pending := q.pending
		q.mu.Unlock()
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		time.Sleep(10 * time.Millisecond)
	}
}
