// Package snapshot reads the external system's snapshot files: a JSON array
// of patients or payments, streamed record by record and validated, in
// constant memory whatever the file's size.
package snapshot

import (
	"path"
	"strings"
)

// Entity is the kind of object a snapshot holds.
type Entity string

const (
	Patients Entity = "patients"
	Payments Entity = "payments"
)

// EntityFromKey picks the entity from an S3 key or file path:
// patients*.json[.gz] and payments*.json[.gz] under any prefix.
func EntityFromKey(key string) (Entity, bool) {
	base := strings.ToLower(path.Base(strings.ReplaceAll(key, "\\", "/")))
	if !strings.HasSuffix(base, ".json") && !strings.HasSuffix(base, ".json.gz") {
		return "", false
	}
	switch {
	case strings.HasPrefix(base, string(Patients)):
		return Patients, true
	case strings.HasPrefix(base, string(Payments)):
		return Payments, true
	}
	return "", false
}
