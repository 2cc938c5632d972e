package api

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

const (
	contentTypeJSON    = "application/json; charset=utf-8"
	contentTypeProblem = "application/problem+json"
)

// Buffers are reused across requests; a full page is a few hundred KB.
var (
	bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}
	zipPool  = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	gzPool   = sync.Pool{New: func() any {
		// BestSpeed: JSON still shrinks several times, at a fraction of the
		// CPU of the default level, which matters on a small Lambda.
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}
)

const maxPooledBuffer = 4 << 20

// write sends a complete body, gzipped for clients that accept it when it
// is large enough to gain, and returns the bytes sent.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) (int, error) {
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("Vary", "Accept-Encoding")
	if len(body) >= h.cfg.GzipMinBytes && acceptsGzip(r.Header.Values("Accept-Encoding")) {
		zbuf := zipPool.Get().(*bytes.Buffer)
		zbuf.Reset()
		defer func() {
			if zbuf.Cap() <= maxPooledBuffer {
				zipPool.Put(zbuf)
			}
		}()
		zw := gzPool.Get().(*gzip.Writer)
		zw.Reset(zbuf)
		_, _ = zw.Write(body) // writes to a bytes.Buffer do not fail
		_ = zw.Close()
		gzPool.Put(zw)
		body = zbuf.Bytes()
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return 0, nil
	}
	return w.Write(body)
}

// acceptsGzip reads Accept-Encoding: gzip (or x-gzip) with a non-zero q.
func acceptsGzip(headers []string) bool {
	for _, h := range headers {
		for part := range strings.SplitSeq(h, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.TrimSpace(name)
			if !strings.EqualFold(name, "gzip") && !strings.EqualFold(name, "x-gzip") {
				continue
			}
			k, v, _ := strings.Cut(params, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				return err == nil && q > 0
			}
			return true
		}
	}
	return false
}
