package snapshot

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The fields of each entity's records, described once: their JSON names,
// the JSON types they accept, their size limits, how a value is checked and
// where it goes. Unknown fields are ignored.

// Limits on what a record may hold, the same at both ends: the sync makes a
// longer value an invalid record, and the API refuses a longer id filter.
const (
	// MaxIDBytes bounds externalId and patientId (UTF-8 bytes): well within
	// what one B-tree index entry holds (about 2,700 bytes), uncompressed.
	MaxIDBytes = 255
	// MaxNameBytes bounds firstName, lastName and middleName.
	MaxNameBytes = 1000
	// maxScalarBytes bounds the text of dates and amounts.
	maxScalarBytes = 64
)

// kind is how a field's value is read.
type kind int

const (
	idKind           kind = iota // a string, or an integer written as such
	textKind                     // a string
	optionalTextKind             // a string or null
	amountKind                   // a number or a decimal string
)

// field is one known field. set checks the value's text (a string's
// content, or a number as written) and stores it, returning why it is
// invalid or "".
type field struct {
	name     string
	kind     kind
	required bool
	max      int // bytes of the value's text
	set      func(r *Record, v string) string
}

// fieldsOf lists each entity's fields in the order their problems are
// reported; externalId comes first.
var fieldsOf = map[Entity][]field{
	Patients: {
		{name: "externalId", kind: idKind, required: true, max: MaxIDBytes, set: setExternalID},
		{name: "firstName", kind: textKind, required: true, max: MaxNameBytes, set: func(r *Record, v string) string {
			r.FirstName = v
			return checkText(v)
		}},
		{name: "lastName", kind: textKind, required: true, max: MaxNameBytes, set: func(r *Record, v string) string {
			r.LastName = v
			return checkText(v)
		}},
		{name: "middleName", kind: optionalTextKind, max: MaxNameBytes, set: func(r *Record, v string) string {
			if strings.IndexByte(v, 0) >= 0 {
				return "contains a NUL character"
			}
			if strings.TrimSpace(v) != "" { // a blank middle name is none
				r.MiddleName, r.HasMiddleName = v, true
			}
			return ""
		}},
		{name: "dateOfBirth", kind: textKind, required: true, max: maxScalarBytes, set: func(r *Record, v string) string {
			if v == "" {
				return "missing or empty"
			}
			t, err := parseDate(v)
			if err != nil {
				return err.Error()
			}
			r.DateOfBirth = t
			return ""
		}},
	},
	Payments: {
		{name: "externalId", kind: idKind, required: true, max: MaxIDBytes, set: setExternalID},
		{name: "patientId", kind: idKind, required: true, max: MaxIDBytes, set: func(r *Record, v string) string {
			r.PatientExternalID = v
			return checkText(v)
		}},
		{name: "amount", kind: amountKind, required: true, max: maxScalarBytes, set: func(r *Record, v string) string {
			if v == "" {
				return "missing or empty"
			}
			c, err := ParseCents(strings.TrimSpace(v))
			if err != nil {
				return fmt.Sprintf("%q is %v", v, err)
			}
			r.AmountCents = c
			return ""
		}},
	},
}

// setExternalID keeps the record's identity only when it is usable, so
// that an invalid record with a usable id still protects its existing row.
func setExternalID(r *Record, v string) string {
	if reason := CheckID(v); reason != "" {
		return reason
	}
	r.ExternalID = v
	return ""
}

// CheckID says why v cannot be an id (externalId, patientId), or "": ids
// are 1 to MaxIDBytes bytes of valid UTF-8, not only blanks, without NUL.
func CheckID(v string) string {
	switch {
	case strings.TrimSpace(v) == "":
		return "missing or empty"
	case len(v) > MaxIDBytes:
		return fmt.Sprintf("longer than %d bytes", MaxIDBytes)
	case !utf8.ValidString(v):
		return "not valid UTF-8"
	case strings.IndexByte(v, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

func checkText(v string) string {
	switch {
	case strings.TrimSpace(v) == "":
		return "missing or empty"
	case strings.IndexByte(v, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// want names the JSON types a kind accepts, for wrong-type messages.
func (k kind) want() string {
	switch k {
	case idKind:
		return "a string or an integer"
	case amountKind:
		return "a number or a decimal string"
	case optionalTextKind:
		return "a string or null"
	}
	return "a string"
}
