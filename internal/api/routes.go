package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// Page is the one envelope of both list endpoints. The handler streams it
// (appendPageHead, items, appendPageTail) instead of building it; tests
// decode responses into it.
type Page[T any] struct {
	Items []T `json:"items"`
	Limit int `json:"limit"`
	// NextCursor and Next (the path and query of the next page, also sent as
	// a Link header) are null on the last page.
	NextCursor *string `json:"nextCursor"`
	Next       *string `json:"next"`
}

// Patient is one item of GET /patients.
type Patient struct {
	ID          int64   `json:"id"`
	ExternalID  string  `json:"externalId"`
	FirstName   string  `json:"firstName"`
	LastName    string  `json:"lastName"`
	MiddleName  *string `json:"middleName"`
	DateOfBirth string  `json:"dateOfBirth"`
	// Money is the database's numeric rendered as text: exact, never a float.
	PaymentsTotal json.Number `json:"paymentsTotal"`
	PaymentsCount int64       `json:"paymentsCount"`
	Created       time.Time   `json:"created"`
	Updated       time.Time   `json:"updated"`
}

// Payment is one item of GET /payments.
type Payment struct {
	ID                int64       `json:"id"`
	ExternalID        string      `json:"externalId"`
	Amount            json.Number `json:"amount"`
	PatientID         *int64      `json:"patientId"` // null while the patient is unknown
	PatientExternalID string      `json:"patientExternalId"`
	Created           time.Time   `json:"created"`
	Updated           time.Time   `json:"updated"`
}

// response is a route's answer: the encoded body and the next link.
type response struct {
	body  []byte
	next  string
	items int
}

// Rows go from the database straight into the body buffer b: no slice of
// items, and each row's values die young.
func (h *Handler) patients(r *http.Request, b []byte) (response, error) {
	p, err := parsePatients(r.URL.RawQuery)
	if err != nil {
		return response{}, err
	}
	var pg pager
	var lastID int64
	var lastTotal []byte // row values are only valid during emit
	b = appendPageHead(b)
	err = h.store.patients(r.Context(), p, func(x *Patient) {
		if pg.add(p.limit) {
			b = appendPatient(pg.sep(b), x)
			lastID, lastTotal = x.ID, append(lastTotal[:0], x.PaymentsTotal...)
		}
	})
	if err != nil {
		return response{}, err
	}
	return pg.finish(r, b, p.limit, func() string {
		return encodeCursor(PatientsPath, p.filter(), patientKey{Total: string(lastTotal), ID: lastID})
	}), nil
}

func (h *Handler) payments(r *http.Request, b []byte) (response, error) {
	p, err := parsePayments(r.URL.RawQuery)
	if err != nil {
		return response{}, err
	}
	var pg pager
	var last paymentKey
	b = appendPageHead(b)
	err = h.store.payments(r.Context(), p, func(x *Payment) {
		if pg.add(p.limit) {
			b = appendPayment(pg.sep(b), x)
			last = paymentKey{ID: x.ID}
		}
	})
	if err != nil {
		return response{}, err
	}
	return pg.finish(r, b, p.limit, func() string { return encodeCursor(PaymentsPath, p.filter(), last) }), nil
}

// pager counts the rows of a page; queries fetch limit+1 rows, and the
// probe row only says that there is a next page.
type pager struct {
	items int
	more  bool
}

// add reports whether the row belongs on the page.
func (pg *pager) add(limit int) bool {
	if pg.items == limit {
		pg.more = true
		return false
	}
	pg.items++
	return true
}

func (pg *pager) sep(b []byte) []byte {
	if pg.items > 1 {
		return append(b, ',')
	}
	return b
}

// finish closes the envelope and, when there is a next page, links it:
// the same query with the cursor replaced.
func (pg *pager) finish(r *http.Request, b []byte, limit int, cursor func() string) response {
	resp := response{items: pg.items}
	var c, next *string
	if pg.more {
		cur := cursor()
		q, _ := url.ParseQuery(r.URL.RawQuery) // already validated
		q.Set("cursor", cur)
		resp.next = r.URL.Path + "?" + q.Encode()
		c, next = &cur, &resp.next
	}
	resp.body = appendPageTail(b, limit, c, next)
	return resp
}
