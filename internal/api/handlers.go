package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// response is a route's answer: the encoded body, the next link, and how
// it may be cached.
type response struct {
	body   []byte
	next   string
	items  int
	status int    // 0: 200
	cache  string // Cache-Control
	etag   string // "": none
}

// Cache-Control values. A page of data is valid until the next sync that
// changes something: clients and caches may keep it but must revalidate
// (no-cache), which the ETag (the sync it reflects) makes a cheap 304.
const (
	noStore        = "no-store"
	revalidate     = "no-cache"
	publicDocument = "public, max-age=300"
)

// Rows go from the database straight into the body buffer b: no slice of
// items, and each row's values die young.
func (h *Handler) patients(r *http.Request, q query, b []byte) (response, error) {
	p, err := parsePatients(q)
	if err != nil {
		return response{}, err
	}
	if resp, ok, err := h.notModified(r); ok || err != nil {
		return resp, err
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

func (h *Handler) payments(r *http.Request, q query, b []byte) (response, error) {
	p, err := parsePayments(q)
	if err != nil {
		return response{}, err
	}
	if resp, ok, err := h.notModified(r); ok || err != nil {
		return resp, err
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
	resp := response{items: pg.items, cache: revalidate, etag: dataETag(asOf)}
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

// dataETag names what a page of data reflects: for one URL, the page is
// the same as long as no sync has changed the data (asOf). Weak: the bytes
// differ with the content coding.
func dataETag(asOf int64) string { return `W/"sync-` + strconv.FormatInt(asOf, 10) + `"` }

// notModified answers a conditional GET (If-None-Match) from the sync
// state alone, before the page's query: ok when the client's copy is
// current (the response then only carries the ETag, and serve sends 304).
func (h *Handler) notModified(r *http.Request) (response, bool, error) {
	inm := r.Header.Values("If-None-Match")
	if len(inm) == 0 {
		return response{}, false, nil
	}
	asOf, err := h.store.asOf(r.Context())
	if err != nil {
		return response{}, false, err
	}
	tag := dataETag(asOf)
	if !etagMatch(inm, tag) {
		return response{}, false, nil
	}
	return response{cache: revalidate, etag: tag}, true, nil
}

// etagMatch applies If-None-Match's weak comparison (RFC 9110 13.1.2):
// "*" or any listed tag equal to etag, W/ prefixes aside.
func etagMatch(headers []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, h := range headers {
		for part := range strings.SplitSeq(h, ",") {
			part = strings.TrimSpace(part)
			if part == "*" || strings.TrimPrefix(part, "W/") == want {
				return true
			}
		}
	}
	return false
}
