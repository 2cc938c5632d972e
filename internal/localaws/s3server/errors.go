package s3server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/johannesboyne/gofakes3"
)

// s3Error is an S3 error response written by the handlers in this package
// (gofakes3 writes its own).
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Condition string   `xml:"Condition,omitempty"`
	ArgName   string   `xml:"ArgumentName,omitempty"`
	ArgValue  string   `xml:"ArgumentValue,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId"`
	status    int
}

func (e *s3Error) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, msg string) *s3Error {
	return &s3Error{Code: code, Message: msg, status: status}
}

func invalidArgument(msg, name, value string) *s3Error {
	return &s3Error{Code: "InvalidArgument", Message: msg, ArgName: name, ArgValue: value, status: http.StatusBadRequest}
}

// asS3Error turns a gofakes3 (backend) error into an S3 error response.
func asS3Error(err error) *s3Error {
	var e *s3Error
	if errors.As(err, &e) {
		return e
	}
	var ge gofakes3.Error
	if !errors.As(err, &ge) {
		return newError(http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	}
	code := ge.ErrorCode()
	msg := code.Message()
	if msg == "" {
		msg = strings.TrimPrefix(ge.Error(), string(code)+": ")
	}
	return newError(code.Status(), string(code), msg)
}

// requestIDs sets S3's request id headers on a response written here.
func (s *Server) requestIDs(h http.Header) (id, host string) {
	id = fmt.Sprintf("F%015X", atomic.AddUint64(&s.requests, 1))
	host = strings.Repeat(id, 3)
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", host)
	h.Set("Server", "AmazonS3")
	return id, host
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := asS3Error(err)
	e.RequestID, e.HostID = s.requestIDs(w.Header())
	if e.status >= 500 {
		s.log.Error("s3: internal error", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	s.writeXML(w, e.status, e)
}

// writeXML writes v as an XML response with S3's declaration.
func (s *Server) writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		s.log.Error("s3: encode response", "error", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", fmt.Sprint(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}
