package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Param names the offending query parameter or body field (extension
	// member).
	Param     string `json:"param,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	// A rejected snapshot (422): its sync run, the reason code (malformed,
	// invalid-share, mass-delete, content) and the first invalid records.
	RunID          int64                    `json:"runId,omitempty"`
	Reason         string                   `json:"reason,omitempty"`
	InvalidRecords []snapshot.InvalidRecord `json:"invalidRecords,omitempty"`
}

// ProblemType is the type of every problem the API answers: about:blank
// (RFC 9457 section 4.2.1), the problem being no more than what its HTTP
// status says; its title is the status's reason phrase
// (http.StatusText), and detail and the extension members say the rest.
const ProblemType = "about:blank"

// problemStatuses are the statuses fail answers, each as a problem of
// ProblemType titled http.StatusText(status). The OpenAPI document
// describes exactly these (TestOpenAPIMatchesHandler); a case of fail with
// another status goes here too (TestFailStatusesAreListed).
// statusClientClosed is only logged: nobody reads that response.
var problemStatuses = []int{
	http.StatusBadRequest,                  // a bad parameter, query or body field
	http.StatusNotFound,                    // no such path, or no such sync run
	http.StatusMethodNotAllowed,            // another method on a known path
	http.StatusConflict,                    // a push while another sync of the entity runs
	http.StatusRequestEntityTooLarge,       // a pushed or upload-request body too large
	http.StatusRequestURITooLong,           // a request URI over maxURIBytes
	http.StatusUnsupportedMediaType,        // a body not application/json, plain or gzip
	http.StatusUnprocessableEntity,         // a pushed snapshot rejected
	http.StatusRequestHeaderFieldsTooLarge, // request headers over maxHeaderBytes
	http.StatusInternalServerError,         // a bug
	http.StatusServiceUnavailable,          // the database down or slow; a push that failed for now
}

var (
	errNotFound     = errors.New("no such resource")
	errMethod       = errors.New("method not allowed")
	errURITooLong   = errors.New("request URI too long")
	errHeadersLarge = errors.New("request headers too large")
)

// Request size limits, within what API Gateway itself lets through (10,240
// bytes of request line and headers) so that every route answers the same
// behind it and behind `patientsync serve`.
const (
	maxURIBytes    = 8 << 10
	maxHeaderBytes = 16 << 10
)

// statusClientClosed is logged when the client left before the answer
// (nginx's convention); nobody reads the response.
const statusClientClosed = 499

// fail is the one place where errors become HTTP statuses. Only 4xx details
// describe the error; 5xx bodies say what to do and give the request id,
// while the error itself (SQL, driver messages) goes to the log only.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) result {
	p := Problem{Type: ProblemType, RequestID: RequestID(r.Context())}
	var (
		pe       *ParamError
		tooLarge *TooLargeError
		rejected *RejectedError
		busy     *BusyError
		failed   *SyncFailedError
		down     *UnhealthyError
	)
	switch {
	case errors.As(err, &pe):
		p.Status, p.Detail, p.Param = http.StatusBadRequest, pe.Error(), pe.Param
	case errors.Is(err, errNotJSON):
		p.Status, p.Detail = http.StatusUnsupportedMediaType, err.Error()
	case errors.As(err, &tooLarge):
		p.Status, p.Detail = http.StatusRequestEntityTooLarge, tooLarge.Error()
	case errors.As(err, &rejected):
		p.Status, p.Detail = http.StatusUnprocessableEntity, rejected.Error()
		p.RunID, p.InvalidRecords = rejected.Run.ID, rejected.Run.InvalidRecords
		if rejected.Run.Reason != nil {
			p.Reason = *rejected.Run.Reason
		}
	case errors.As(err, &busy):
		p.Status, p.Detail = http.StatusConflict, busy.Error()
		w.Header().Set("Retry-After", strconv.Itoa(int(busy.RetryAfter.Seconds())))
	case errors.As(err, &failed):
		p.Status, p.RunID = http.StatusServiceUnavailable, failed.RunID
		p.Detail = fmt.Sprintf("the sync failed for now and applied nothing (sync run %d); send the snapshot again", failed.RunID)
		w.Header().Set("Retry-After", "5")
	case errors.As(err, &down):
		p.Status, p.Detail = http.StatusServiceUnavailable, down.Error()
		w.Header().Set("Retry-After", "5")
	case errors.Is(err, errNoSuchRun):
		p.Status = http.StatusNotFound
		p.Detail = fmt.Sprintf("no sync run at %s", r.URL.Path)
	case errors.Is(err, errNotFound):
		p.Status = http.StatusNotFound
		p.Detail = fmt.Sprintf("no resource at %s; this API serves %s", r.URL.Path, h.servedRoutes())
	case errors.Is(err, errURITooLong):
		p.Status = http.StatusRequestURITooLong
		p.Detail = fmt.Sprintf("the request URI has more than %d bytes", maxURIBytes)
	case errors.Is(err, errHeadersLarge):
		p.Status = http.StatusRequestHeaderFieldsTooLarge
		p.Detail = fmt.Sprintf("the request headers have more than %d bytes", maxHeaderBytes)
	case errors.Is(err, errMethod):
		p.Status = http.StatusMethodNotAllowed
		p.Detail = fmt.Sprintf("method %s is not allowed on %s; use %s", r.Method, r.URL.Path, w.Header().Get("Allow"))
	case r.Context().Err() != nil && errors.Is(err, context.Canceled):
		p.Status, p.Detail = statusClientClosed, "client closed the request"
	case isTimeout(err):
		p.Status = http.StatusServiceUnavailable
		p.Detail = fmt.Sprintf("the query took longer than %s; retry, narrow the filter or lower the limit", h.cfg.StatementTimeout)
		w.Header().Set("Retry-After", "1")
	case isUnavailable(err):
		p.Status = http.StatusServiceUnavailable
		p.Detail = "the database is unavailable; retry shortly"
		w.Header().Set("Retry-After", "1")
	default:
		p.Status = http.StatusInternalServerError
		p.Detail = "internal error; quote the request id when reporting it"
	}
	w.Header().Set("Cache-Control", noStore)
	p.Title = http.StatusText(p.Status)
	if p.Title == "" {
		p.Title = "Client Closed Request"
	}
	body, _ := json.Marshal(p) // plain strings and ints always encode
	n, werr := h.write(w, r, p.Status, contentTypeProblem, append(body, '\n'))
	if werr != nil {
		err = errors.Join(err, werr)
	}
	return result{status: p.Status, bytes: n, err: err}
}

// isTimeout: the server's statement_timeout (query_canceled) or our deadline.
func isTimeout(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "57014" {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err)
}

// isUnavailable: the database cannot serve now, but may shortly.
func isUnavailable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "08") || // connection exception
			strings.HasPrefix(pg.Code, "53") || // insufficient resources (too many connections)
			strings.HasPrefix(pg.Code, "57P") || // shutdown, cannot connect now
			pg.Code == "55P03" || // lock_not_available
			pg.Code == "40001" || pg.Code == "40P01" // serialization failure, deadlock
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}
