package api

import (
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/patientsync/patientsync/internal/snapshot"
)

// Page size bounds.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// ParamError is a bad query parameter; it becomes a 400 naming Param.
type ParamError struct {
	Param  string
	Detail string
}

func (e *ParamError) Error() string {
	if e.Param == "" {
		return e.Detail
	}
	return "parameter " + e.Param + ": " + e.Detail
}

// decimalRe is the only decimal syntax accepted: plain digits with an optional
// fraction. It rejects NaN, Infinity, exponents (1e999), hex, spaces and
// empty strings before anything reaches the database.
var decimalRe = regexp.MustCompile(`^[+-]?[0-9]{1,20}(\.[0-9]{1,20})?$`)

var digitsRe = regexp.MustCompile(`^[0-9]{1,19}$`)

// query is a parsed query string: each known parameter at most once.
type query struct {
	values url.Values
}

// parseQuery rejects malformed query strings, unknown parameters (so that a
// typo does not silently return everything) and repeated parameters.
func parseQuery(raw string, allowed ...string) (query, error) {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return query{}, &ParamError{Detail: "malformed query string: " + err.Error()}
	}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			detail := fmt.Sprintf("unknown parameter %q; allowed: %s", name, strings.Join(allowed, ", "))
			if len(allowed) == 0 {
				detail = fmt.Sprintf("unknown parameter %q; this route takes no query parameters", name)
			}
			return query{}, &ParamError{Param: name, Detail: detail}
		}
		if len(v[name]) > 1 {
			return query{}, &ParamError{Param: name, Detail: "given more than once"}
		}
	}
	return query{values: v}, nil
}

// get returns a parameter's value and whether it was given.
func (q query) get(name string) (string, bool) {
	vs, ok := q.values[name]
	if !ok {
		return "", false
	}
	return vs[0], true
}

// alias returns the value of name or of its alias, refusing both at once.
func (q query) alias(name, alias string) (string, string, bool, error) {
	v, ok := q.get(name)
	av, aok := q.get(alias)
	switch {
	case ok && aok:
		return "", name, false, &ParamError{Param: alias, Detail: fmt.Sprintf("%s and %s are the same parameter; give one", name, alias)}
	case aok:
		return av, alias, true, nil
	}
	return v, name, ok, nil
}

// decimal validates an optional decimal parameter; "" means absent.
func decimal(name, v string, given bool) (string, error) {
	if !given {
		return "", nil
	}
	if !decimalRe.MatchString(v) {
		return "", &ParamError{Param: name, Detail: fmt.Sprintf("%q is not a decimal number (want digits with an optional fraction, e.g. 17.22)", v)}
	}
	return v, nil
}

// decimalGreater reports a > b for two strings that passed decimalRe.
func decimalGreater(a, b string) bool {
	ra, _ := new(big.Rat).SetString(a)
	rb, _ := new(big.Rat).SetString(b)
	return ra.Cmp(rb) > 0
}

// limit parses the page size.
func (q query) limit() (int, error) {
	v, ok := q.get("limit")
	if !ok {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || !digitsRe.MatchString(v) || n < 1 || n > MaxLimit {
		return 0, &ParamError{Param: "limit", Detail: fmt.Sprintf("%q is not an integer from 1 to %d", v, MaxLimit)}
	}
	return n, nil
}

// id parses a positive bigint parameter.
func id(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || !digitsRe.MatchString(v) || n < 1 {
		return 0, &ParamError{Param: name, Detail: fmt.Sprintf("%q is not a positive integer id", v)}
	}
	return n, nil
}

// patientsParams is a validated GET /patients request.
type patientsParams struct {
	min, max string // decimals, "" for none
	limit    int
	after    *patientKey
	walk     int64 // the sync run the walk began at (from the cursor)
}

type patientKey struct {
	Total string `json:"t"`
	ID    int64  `json:"i"`
}

func parsePatients(q query) (patientsParams, error) {
	var p patientsParams
	v, name, given, err := q.alias("payment_min", "payments_min")
	if err != nil {
		return p, err
	}
	minName := name
	if p.min, err = decimal(name, v, given); err != nil {
		return p, err
	}
	v, name, given, err = q.alias("payment_max", "payments_max")
	if err != nil {
		return p, err
	}
	if p.max, err = decimal(name, v, given); err != nil {
		return p, err
	}
	if p.min != "" && p.max != "" && decimalGreater(p.min, p.max) {
		return p, &ParamError{Param: minName, Detail: fmt.Sprintf("%s %s is greater than %s %s", minName, p.min, name, p.max)}
	}
	if p.limit, err = q.limit(); err != nil {
		return p, err
	}
	if c, ok := q.get("cursor"); ok {
		var k patientKey
		if p.walk, err = decodeCursor(c, PatientsPath, p.filter(), &k); err != nil {
			return p, err
		}
		if !decimalRe.MatchString(k.Total) || k.ID < 1 {
			return p, errBadCursor
		}
		p.after = &k
	}
	return p, nil
}

// filter identifies the result set a cursor walks through; the page size
// may change between pages, the filter may not.
func (p patientsParams) filter() string { return p.min + "|" + p.max }

// paymentsParams is a validated GET /payments request.
type paymentsParams struct {
	externalID *string // the patient's external id
	patientID  int64   // 0 for none
	limit      int
	after      *paymentKey
	walk       int64 // the sync run the walk began at (from the cursor)
}

type paymentKey struct {
	ID int64 `json:"i"`
}

func parsePayments(q query) (p paymentsParams, err error) {
	if v, ok := q.get("external_id"); ok {
		// Exactly the ids the sync stores: no other can match.
		if why := snapshot.CheckID(v); why != "" {
			return p, &ParamError{Param: "external_id", Detail: fmt.Sprintf("%s: an external id is 1 to %d bytes of UTF-8, not only blanks, without NUL", why, snapshot.MaxIDBytes)}
		}
		p.externalID = &v
	}
	if v, ok := q.get("patient_id"); ok {
		if p.patientID, err = id("patient_id", v); err != nil {
			return p, err
		}
	}
	if p.limit, err = q.limit(); err != nil {
		return p, err
	}
	if c, ok := q.get("cursor"); ok {
		var k paymentKey
		if p.walk, err = decodeCursor(c, PaymentsPath, p.filter(), &k); err != nil {
			return p, err
		}
		if k.ID < 1 {
			return p, errBadCursor
		}
		p.after = &k
	}
	return p, nil
}

func (p paymentsParams) filter() string {
	f := strconv.FormatInt(p.patientID, 10) + "|"
	if p.externalID != nil {
		f += "=" + *p.externalID
	}
	return f
}
