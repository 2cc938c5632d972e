package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Upload is where to PUT a snapshot: POST /uploads answers one, so that a
// client with API access but no AWS credentials can hand over a snapshot
// of any size (S3 takes up to 5 GB in one PUT); the bucket's event then
// syncs it like any other upload.
type Upload struct {
	Method string `json:"method"` // PUT
	URL    string `json:"url"`
	// Headers must be sent with the PUT as they are (they are signed).
	Headers map[string]string `json:"headers"`
	Bucket  string            `json:"bucket"`
	Key     string            `json:"key"`
	Expires time.Time         `json:"expires"`
}

// Presigner makes upload URLs (s3source.Uploads).
type Presigner interface {
	PresignUpload(ctx context.Context, entity snapshot.Entity, gzip bool) (Upload, error)
}

// WithUploads makes h answer POST /uploads (when its Config lists
// CreateUpload) with URLs from p.
func (h *Handler) WithUploads(p Presigner) *Handler {
	h.upload = p
	return h
}

var errUploadsNotConfigured = errors.New("upload route served without WithUploads")

// maxUploadRequest bounds POST /uploads' body: a few fields.
const maxUploadRequest = 4 << 10

// uploadRequest is POST /uploads' body.
type uploadRequest struct {
	Entity string `json:"entity"`
	// Gzip: the snapshot will be sent gzip-compressed (the key ends .json.gz).
	Gzip bool `json:"gzip"`
}

func (h *Handler) createUpload(r *http.Request, _ query, _ []byte) (response, error) {
	if h.upload == nil {
		return response{}, errUploadsNotConfigured
	}
	if err := checkJSONBody(r.Header); err != nil {
		return response{}, err
	}
	body, err := readBody(r, maxUploadRequest)
	if err != nil {
		return response{}, err
	}
	var req uploadRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		detail := "the body is not one JSON object"
		if err != nil {
			detail += ": " + err.Error()
		}
		return response{}, &ParamError{Detail: detail + `; send {"entity": "patients"} or {"entity": "payments", "gzip": true}`}
	}
	entity := snapshot.Entity(req.Entity)
	if entity != snapshot.Patients && entity != snapshot.Payments {
		return response{}, &ParamError{Param: "entity", Detail: fmt.Sprintf("entity %q is not patients or payments", req.Entity)}
	}
	up, err := h.upload.PresignUpload(r.Context(), entity, req.Gzip)
	if err != nil {
		return response{}, fmt.Errorf("presign an upload: %w", err)
	}
	return jsonResponse(up)
}

// jsonResponse is v as a 200 that nobody may cache.
func jsonResponse(v any) (response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return response{}, err
	}
	return response{body: append(b, '\n'), items: 1, cache: noStore}, nil
}
