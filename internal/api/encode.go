package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The list bodies are encoded by hand: reflection-based encoding/json was
// the largest CPU cost of a request after the database. The output is
// byte-for-byte what encoding/json (SetEscapeHTML(false)) writes for Page[T];
// TestEncodeMatchesEncodingJSON keeps it so.

func appendPageHead(b []byte) []byte { return append(b, `{"items":[`...) }

func appendPageTail(b []byte, limit int, nextCursor, next *string, asOf int64, changed bool) []byte {
	b = append(b, `],"limit":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, `,"nextCursor":`...)
	b = appendNullString(b, nextCursor)
	b = append(b, `,"next":`...)
	b = appendNullString(b, next)
	b = append(b, `,"asOf":`...)
	b = strconv.AppendInt(b, asOf, 10)
	b = append(b, `,"changedDuringWalk":`...)
	b = strconv.AppendBool(b, changed)
	return append(b, "}\n"...)
}

func appendPatient(b []byte, p *patientRow) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.id, 10)
	b = append(b, `,"externalId":`...)
	b = appendString(b, p.externalID)
	b = append(b, `,"firstName":`...)
	b = appendString(b, p.first)
	b = append(b, `,"lastName":`...)
	b = appendString(b, p.last)
	b = append(b, `,"middleName":`...)
	if p.middle == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, p.middle)
	}
	b = append(b, `,"dateOfBirth":`...)
	b = appendString(b, p.dob)
	b = append(b, `,"paymentsTotal":`...)
	b = append(b, p.total...) // checked by the store: a plain decimal
	b = append(b, `,"paymentsCount":`...)
	b = strconv.AppendInt(b, p.count, 10)
	b = append(b, `,"created":`...)
	b = appendTimestamp(b, p.created)
	b = append(b, `,"updated":`...)
	b = appendTimestamp(b, p.updated)
	return append(b, '}')
}

func appendPayment(b []byte, p *paymentRow) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.id, 10)
	b = append(b, `,"externalId":`...)
	b = appendString(b, p.externalID)
	b = append(b, `,"amount":`...)
	b = append(b, p.amount...) // checked by the store: a plain decimal
	b = append(b, `,"patientId":`...)
	if !p.patientID.Valid {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, p.patientID.Int64, 10)
	}
	b = append(b, `,"patientExternalId":`...)
	b = appendString(b, p.patientExternalID)
	b = append(b, `,"created":`...)
	b = appendTimestamp(b, p.created)
	b = append(b, `,"updated":`...)
	b = appendTimestamp(b, p.updated)
	return append(b, '}')
}

// jsonDecimal reports whether s is a plain decimal that is also a valid JSON
// number, as PostgreSQL prints every finite numeric.
func jsonDecimal[T text](s T) bool {
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

// timestampText reports whether s is a timestamptz as PostgreSQL prints it
// with DateStyle ISO and TimeZone UTC, in the years 1 to 9999:
// "2006-01-02 15:04:05", an optional fraction of up to 6 digits, "+00".
func timestampText(s []byte) bool {
	const layout = "dddd-dd-dd dd:dd:dd"
	if len(s) < len(layout)+3 || string(s[len(s)-3:]) != "+00" {
		return false
	}
	for i := range len(layout) {
		if layout[i] == 'd' && (s[i] < '0' || s[i] > '9') || layout[i] != 'd' && s[i] != layout[i] {
			return false
		}
	}
	frac := s[len(layout) : len(s)-3]
	if len(frac) == 0 {
		return true
	}
	if len(frac) < 2 || len(frac) > 7 || frac[0] != '.' {
		return false
	}
	for _, c := range frac[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendTimestamp writes timestampText s as encoding/json writes the same
// time.Time in UTC (RFC 3339, trailing zeros of the fraction dropped).
func appendTimestamp(b []byte, s []byte) []byte {
	b = append(b, '"')
	b = append(b, s[:10]...)
	b = append(b, 'T')
	b = append(b, s[11:19]...)
	frac := bytes.TrimRight(s[19:len(s)-3], "0")
	if len(frac) > 1 {
		b = append(b, frac...)
	}
	return append(b, `Z"`...)
}

func appendNullString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendString(b, *s)
}

// text is a string or the driver's bytes of one.
type text interface{ ~string | ~[]byte }

// appendString writes s as a JSON string. Printable ASCII is copied as is;
// anything else goes through encoding/json, whose escaping (control
// characters, invalid UTF-8, U+2028/U+2029) it must match.
func appendString[T text](b []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			return appendStringSlow(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendStringSlow[T text](b []byte, s T) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s)) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
