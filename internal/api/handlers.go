package api

import (
	"net/http"
	"net/url"
)

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
	asOf, err := h.store.patients(r.Context(), p, func(x *patientRow) {
		if pg.add(p.limit) {
			b = appendPatient(pg.sep(b), x)
			lastID, lastTotal = x.id, append(lastTotal[:0], x.total...)
		}
	})
	if err != nil {
		return response{}, err
	}
	return pg.finish(r, b, p.limit, p.walk, asOf, func(walk int64) string {
		return encodeCursor(PatientsPath, p.filter(), walk, patientKey{Total: string(lastTotal), ID: lastID})
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
	asOf, err := h.store.payments(r.Context(), p, func(x *paymentRow) {
		if pg.add(p.limit) {
			b = appendPayment(pg.sep(b), x)
			last = paymentKey{ID: x.id}
		}
	})
	if err != nil {
		return response{}, err
	}
	return pg.finish(r, b, p.limit, p.walk, asOf, func(walk int64) string {
		return encodeCursor(PaymentsPath, p.filter(), walk, last)
	}), nil
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
// the same query with the cursor replaced. walk is the sync the walk began
// at (from the cursor; 0 on a first page) and asOf the one this page was
// read at: the next cursor keeps the walk's.
func (pg *pager) finish(r *http.Request, b []byte, limit int, walk, asOf int64, cursor func(walk int64) string) response {
	resp := response{items: pg.items}
	changed := walk != 0 && walk != asOf
	if walk == 0 {
		walk = asOf
	}
	var c, next *string
	if pg.more {
		cur := cursor(walk)
		resp.next = nextLink(r, cur)
		c, next = &cur, &resp.next
	}
	resp.body = appendPageTail(b, limit, c, next, asOf, changed)
	return resp
}

// nextLink is r's path and query with the cursor replaced.
func nextLink(r *http.Request, cursor string) string {
	q, _ := url.ParseQuery(r.URL.RawQuery) // already validated
	q.Set("cursor", cursor)
	return r.URL.Path + "?" + q.Encode()
}
