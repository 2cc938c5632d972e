package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

func init() {
	register("probe", "read API URLs in a loop until stopped (or -duration) and print latency percentiles", runProbe)
}

// runProbe is a reader that measures what clients of the API see, e.g.
// while a sync runs: `patientsync probe URL...`, stopped with Ctrl-C or
// SIGTERM (or after -duration), prints one line: requests, errors, p50, p99
// and max latency.
func runProbe(ctx context.Context, args []string) error {
	fs := newFlagSet("probe", "URL...", "GETs the URLs in turn from -c clients until stopped (Ctrl-C, SIGTERM) or -duration, then prints\nrequests, errors and latency percentiles.")
	clients := fs.Int("c", 2, "concurrent clients")
	duration := fs.Duration("duration", 0, "stop after this long (0: when stopped)")
	rate := fs.Float64("rate", 0, "requests per second across all clients (0: as fast as they can)")
	slow := fs.Duration("slow", 0, "also print each request that took at least this long, with when it started (0: none)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageErrorf(fs, "no URL given")
	}
	if *clients < 1 {
		return usageErrorf(fs, "-c must be at least 1")
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *clients}}
	// A paced reader measures what a client sees without taking the
	// machine from what it measures.
	var tick <-chan time.Time
	if *rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / *rate))
		defer t.Stop()
		tick = t.C
	}
	var mu sync.Mutex
	var lat []time.Duration
	var slowLines []string
	errs := 0
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for c := range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; ctx.Err() == nil; i++ {
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				url := fs.Arg(i % fs.NArg())
				t0 := time.Now()
				err := get(ctx, client, url)
				d := time.Since(t0)
				if ctx.Err() != nil {
					return // cut off by the stop, not the server
				}
				mu.Lock()
				lat = append(lat, d)
				if *slow > 0 && d >= *slow {
					slowLines = append(slowLines, fmt.Sprintf("slow: %s %.1fms %s", t0.UTC().Format(time.RFC3339Nano), float64(d.Microseconds())/1000, url))
				}
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("requests=%d errors=%d seconds=%.1f rps=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
		len(lat), errs, elapsed.Seconds(), float64(len(lat))/elapsed.Seconds(), pct(0.50), pct(0.99), pct(1))
	if firstErr != nil {
		fmt.Printf("first error: %v\n", firstErr)
	}
	for _, l := range slowLines {
		fmt.Println(l)
	}
	return nil
}

func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
