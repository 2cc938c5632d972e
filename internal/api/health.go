package api

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"
)

// healthTimeout bounds GET /health's look at the database: a health check
// that hangs is worse than one that fails.
const healthTimeout = 2 * time.Second

// UnhealthyError: 503, the database did not answer in time.
type UnhealthyError struct{ Err error }

func (e *UnhealthyError) Error() string {
	return fmt.Sprintf("the database did not answer within %s", healthTimeout)
}
func (e *UnhealthyError) Unwrap() error { return e.Err }

// health serves GET /health: 200 when the database answers a query
// within healthTimeout, else 503.
func (h *Handler) health(r *http.Request, _ query, b []byte) (response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	start := time.Now()
	if err := h.store.ping(ctx); err != nil {
		if r.Context().Err() != nil {
			return response{}, err // the client left
		}
		return response{}, &UnhealthyError{Err: err}
	}
	b = fmt.Appendf(b, `{"status":"ok","database":{"status":"ok","ms":%.1f}}`+"\n", float64(time.Since(start).Microseconds())/1000)
	return response{body: b, cache: noStore}, nil
}

//go:embed openapi.json
var openAPIDocument []byte

// openAPIETag is the document's digest: it changes only with a release.
var openAPIETag = func() string {
	sum := sha256.Sum256(openAPIDocument)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// OpenAPIDocument is the API's description (OpenAPI 3.1), as served at
// GET /openapi.json.
func OpenAPIDocument() []byte { return openAPIDocument }

func (h *Handler) openAPI(_ *http.Request, _ query, b []byte) (response, error) {
	return response{body: append(b, openAPIDocument...), cache: publicDocument, etag: openAPIETag}, nil
}
