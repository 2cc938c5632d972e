// Package emf writes CloudWatch Embedded Metric Format: one JSON log line
// per event, which CloudWatch Logs turns into metrics by itself (in Lambda
// no agent and no API call are needed). A line holds the metric values and
// dimension values as top-level fields, and under "_aws" which of them are
// metrics, in which namespace, aggregated by which dimension sets.
package emf

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Unit is a CloudWatch unit.
type Unit string

const (
	Count        Unit = "Count"
	Seconds      Unit = "Seconds"
	Bytes        Unit = "Bytes"
	CountPerSec  Unit = "Count/Second"
	BytesPerSec  Unit = "Bytes/Second"
	Milliseconds Unit = "Milliseconds"
)

// Metric is one value.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
	// Dims are the dimension sets this metric is aggregated by, each a list
	// of dimension names present in the event (an empty set: the metric
	// without dimensions, summed over all of them).
	Dims [][]string
}

// Writer writes events to w (stdout in Lambda), one line each.
type Writer struct {
	mu        sync.Mutex
	w         io.Writer
	namespace string
	now       func() time.Time
}

// New returns a Writer for namespace.
func New(w io.Writer, namespace string) *Writer {
	return &Writer{w: w, namespace: namespace, now: time.Now}
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

// Write writes one event: dims are the dimension values (e.g. Entity),
// props any other fields to log with it (searchable in Logs Insights, not
// metrics).
func (w *Writer) Write(dims map[string]string, metrics []Metric, props map[string]any) error {
	doc := map[string]any{}
	for k, v := range props {
		doc[k] = v
	}
	for k, v := range dims {
		doc[k] = v
	}
	// One directive per distinct dimension-set list, in first-seen order.
	var directives []directive
	index := map[string]int{}
	for _, m := range metrics {
		doc[m.Name] = m.Value
		key, _ := json.Marshal(m.Dims)
		i, ok := index[string(key)]
		if !ok {
			dimsets := m.Dims
			if dimsets == nil {
				dimsets = [][]string{}
			}
			directives = append(directives, directive{Namespace: w.namespace, Dimensions: dimsets})
			i = len(directives) - 1
			index[string(key)] = i
		}
		directives[i].Metrics = append(directives[i].Metrics, definition{Name: m.Name, Unit: m.Unit})
	}
	doc["_aws"] = map[string]any{"Timestamp": w.now().UnixMilli(), "CloudWatchMetrics": directives}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err = w.w.Write(append(b, '\n'))
	return err
}
