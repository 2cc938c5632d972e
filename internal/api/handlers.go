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
	err = h.store.patients(r.Context(), p, func(x *patientRow) {
		if pg.add(p.limit) {
			b = appendPatient(pg.sep(b), x)
			lastID, lastTotal = x.id, append(lastTotal[:0], x.total...)
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
	err = h.store.payments(r.Context(), p, func(x *paymentRow) {
		if pg.add(p.limit) {
			b = appendPayment(pg.sep(b), x)
			last = paymentKey{ID: x.id}
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
