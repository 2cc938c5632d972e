package api

import (
	"encoding/json"
	"time"
)

// The response bodies of the list routes. The handlers stream them from
// database rows (encode.go) without building these values; clients and
// tests decode responses into them, and TestEncodeMatchesEncodingJSON holds
// the streamed bytes to what encoding/json writes for them.

// Page is the one envelope of both list routes.
type Page[T any] struct {
	Items []T `json:"items"`
	Limit int `json:"limit"`
	// NextCursor and Next (the path and query of the next page, also sent as
	// a Link header) are null on the last page.
	NextCursor        *string `json:"nextCursor"`
	Next              *string `json:"next"`
	AsOf              int64   `json:"asOf"`
	ChangedDuringWalk bool    `json:"changedDuringWalk"`
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
