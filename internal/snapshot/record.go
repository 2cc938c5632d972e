package snapshot

import (
	"fmt"
	"strings"
	"time"
)

// Record is one element of a snapshot. Fields of the other entity stay zero.
// When Invalid is non-nil the record must not be applied; ExternalID is
// still set when the record carried a usable one.
type Record struct {
	Index      int64
	ExternalID string

	// Patients.
	FirstName     string
	LastName      string
	MiddleName    string
	HasMiddleName bool
	DateOfBirth   time.Time

	// Payments.
	AmountCents       int64
	PatientExternalID string

	Invalid *InvalidRecord
}

// InvalidRecord says why a record is invalid: which record, which field, why.
type InvalidRecord struct {
	Index      int64  `json:"index"`
	ExternalID string `json:"externalId,omitempty"`
	Field      string `json:"field,omitempty"`
	Reason     string `json:"reason"`
}

func (p *InvalidRecord) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "record %d", p.Index)
	if p.ExternalID != "" {
		fmt.Fprintf(&b, " (externalId %q)", p.ExternalID)
	}
	if p.Field != "" {
		fmt.Fprintf(&b, ": field %s", p.Field)
	}
	b.WriteString(": " + p.Reason)
	return b.String()
}

// invalid records the first problem of a record; later ones add nothing.
func (r *Record) invalid(field, reason string) {
	if r.Invalid == nil {
		r.Invalid = &InvalidRecord{Index: r.Index, Field: field, Reason: reason}
	}
}
