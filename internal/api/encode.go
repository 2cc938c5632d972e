package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The list bodies are encoded by hand: reflection-based encoding/json was
// the largest CPU cost of a request after the database. The output is
// byte-for-byte what encoding/json (SetEscapeHTML(false)) writes for Page[T];
// TestEncodeMatchesEncodingJSON keeps it so.

func appendPageHead(b []byte) []byte { return append(b, `{"items":[`...) }

func appendPageTail(b []byte, limit int, nextCursor, next *string) []byte {
	b = append(b, `],"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"nextCursor":`...)
	b = appendNullString(b, nextCursor)
	b = append(b, `,"next":`...)
	b = appendNullString(b, next)
	return append(b, "}\n"...)
}

func appendPatient(b []byte, p *Patient) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"externalId":`...)
	b = appendString(b, p.ExternalID)
	b = append(b, `,"firstName":`...)
	b = appendString(b, p.FirstName)
	b = append(b, `,"lastName":`...)
	b = appendString(b, p.LastName)
	b = append(b, `,"middleName":`...)
	b = appendNullString(b, p.MiddleName)
	b = append(b, `,"dateOfBirth":`...)
	b = appendString(b, p.DateOfBirth)
	b = append(b, `,"paymentsTotal":`...)
	b = appendNumber(b, p.PaymentsTotal)
	b = append(b, `,"paymentsCount":`...)
	b = strconv.AppendInt(b, p.PaymentsCount, 10)
	b = append(b, `,"created":`...)
	b = appendTime(b, p.Created)
	b = append(b, `,"updated":`...)
	b = appendTime(b, p.Updated)
	return append(b, '}')
}

func appendPayment(b []byte, p *Payment) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"externalId":`...)
	b = appendString(b, p.ExternalID)
	b = append(b, `,"amount":`...)
	b = appendNumber(b, p.Amount)
	b = append(b, `,"patientId":`...)
	if p.PatientID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *p.PatientID, 10)
	}
	b = append(b, `,"patientExternalId":`...)
	b = appendString(b, p.PatientExternalID)
	b = append(b, `,"created":`...)
	b = appendTime(b, p.Created)
	b = append(b, `,"updated":`...)
	b = appendTime(b, p.Updated)
	return append(b, '}')
}

// appendNumber writes numeric text as a JSON number; the store checked
// that it is a plain decimal.
func appendNumber(b []byte, n json.Number) []byte { return append(b, n...) }

// jsonDecimal reports whether s is a plain decimal that is also a valid JSON
// number, as PostgreSQL prints every finite numeric.
func jsonDecimal(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start || s[start] == '0' && i-start > 1 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		frac := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == frac {
			return false
		}
	}
	return i == len(s)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// appendString writes s as a JSON string. Printable ASCII is copied as is;
// anything else goes through encoding/json, whose escaping (control
// characters, invalid UTF-8, U+2028/U+2029) it must match.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return appendStringSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStringSlow(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
