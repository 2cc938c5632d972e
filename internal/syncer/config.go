package syncer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Config tunes the guards and the database session of a sync. Every field is
// taken as it is: start from DefaultConfig and change what differs. Zero
// means zero (MaxInvalidShare 0: no invalid record allowed).
type Config struct {
	// MaxInvalidShare rejects a snapshot whose share of invalid records is
	// larger (0 allows none, 1 any).
	MaxInvalidShare float64
	// MaxDeleteShare rejects a snapshot that would soft-delete a larger
	// share of the live rows...
	MaxDeleteShare float64
	// ...but only when it deletes at least MinDeletes rows.
	MinDeletes int64
	// AllowMassDelete turns the mass-deletion guard off.
	AllowMassDelete bool
	// MassDeleteHint ends the guard's error: how whoever reads it applies
	// such a snapshot anyway where they read it (a flag in the CLI, a
	// template parameter in AWS, a restart under make up).
	MassDeleteHint string
	// MaxInvalidRecords is how many invalid records are kept in sync_runs.
	MaxInvalidRecords int
	// WorkMem is the transaction's work_mem for the hash joins.
	WorkMem string
	// LockTimeout bounds the wait for a concurrent sync of the same entity
	// (the context's deadline bounds it too).
	LockTimeout time.Duration
	// A sync that writes at least BulkMinRows rows and BulkShare of a
	// table's rows builds the table anew instead of changing it row by row
	// (see bulk.go).
	BulkShare   float64
	BulkMinRows int64
	// MaintenanceWorkMem is the transaction's maintenance_work_mem, which
	// bounds the sorts of index builds.
	MaintenanceWorkMem string
	// SkipIdentical records a snapshot that says what the last one applied
	// to its entity said as unchanged, without diffing it. Off, every
	// snapshot is diffed (which also repairs rows changed outside syncs).
	SkipIdentical bool
}

// DefaultConfig is what the Lambda and the CLI use unless told otherwise.
func DefaultConfig() Config {
	return Config{
		MaxInvalidShare:    0.01,
		MaxDeleteShare:     0.5,
		MinDeletes:         10,
		MassDeleteHint:     "set SYNC_ALLOW_MASS_DELETE=true to apply it anyway",
		MaxInvalidRecords:  100,
		WorkMem:            "256MB",
		LockTimeout:        5 * time.Minute,
		BulkShare:          0.1,
		SkipIdentical:      true,
		BulkMinRows:        100_000,
		MaintenanceWorkMem: "256MB",
	}
}

// Validate names every field that is out of range.
func (c Config) Validate() error {
	var errs []error
	share := func(name string, v float64) {
		if !validShare(v) {
			errs = append(errs, fmt.Errorf("%s = %v: want a share from 0 to 1", name, v))
		}
	}
	share("MaxInvalidShare", c.MaxInvalidShare)
	share("MaxDeleteShare", c.MaxDeleteShare)
	share("BulkShare", c.BulkShare)
	if c.BulkMinRows < 0 {
		errs = append(errs, fmt.Errorf("BulkMinRows = %d: want 0 or more", c.BulkMinRows))
	}
	if c.MaintenanceWorkMem == "" || sanitizeSetting(c.MaintenanceWorkMem) != c.MaintenanceWorkMem {
		errs = append(errs, fmt.Errorf("MaintenanceWorkMem = %q: want a PostgreSQL memory size such as 256MB", c.MaintenanceWorkMem))
	}
	if c.MinDeletes < 0 {
		errs = append(errs, fmt.Errorf("MinDeletes = %d: want 0 or more", c.MinDeletes))
	}
	if c.MaxInvalidRecords < 0 {
		errs = append(errs, fmt.Errorf("MaxInvalidRecords = %d: want 0 or more", c.MaxInvalidRecords))
	}
	if c.WorkMem == "" || sanitizeSetting(c.WorkMem) != c.WorkMem {
		errs = append(errs, fmt.Errorf("WorkMem = %q: want a PostgreSQL memory size such as 256MB", c.WorkMem))
	}
	if c.LockTimeout <= 0 {
		errs = append(errs, fmt.Errorf("LockTimeout = %s: want a positive duration", c.LockTimeout))
	}
	return errors.Join(errs...)
}

// validShare is false for NaN and the infinities, which every comparison
// would otherwise let through.
func validShare(f float64) bool {
	return !math.IsNaN(f) && f >= 0 && f <= 1
}

// ConfigFromEnv reads SYNC_MAX_INVALID_SHARE, SYNC_MAX_DELETE_SHARE,
// SYNC_MIN_DELETES, SYNC_ALLOW_MASS_DELETE, SYNC_MASS_DELETE_HINT, SYNC_BULK_SHARE,
// SYNC_BULK_MIN_ROWS, SYNC_WORK_MEM, SYNC_MAINTENANCE_WORK_MEM and
// SYNC_LOCK_TIMEOUT with
// getenv over DefaultConfig, and names every variable that is wrong and why.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	var errs []error
	share := func(name string, dst *float64) {
		v := getenv(name)
		if v == "" {
			return
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !validShare(f) {
			errs = append(errs, fmt.Errorf("%s=%q: want a share from 0 to 1", name, v))
			return
		}
		*dst = f
	}
	share("SYNC_MAX_INVALID_SHARE", &c.MaxInvalidShare)
	share("SYNC_MAX_DELETE_SHARE", &c.MaxDeleteShare)
	if v := getenv("SYNC_MIN_DELETES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("SYNC_MIN_DELETES=%q: want a whole number, 0 or more", v))
		} else {
			c.MinDeletes = n
		}
	}
	if v := getenv("SYNC_SKIP_IDENTICAL"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SYNC_SKIP_IDENTICAL=%q: want true or false", v))
		}
		c.SkipIdentical = b
	}
	if v := getenv("SYNC_MASS_DELETE_HINT"); v != "" {
		c.MassDeleteHint = v
	}
	if v := getenv("SYNC_ALLOW_MASS_DELETE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SYNC_ALLOW_MASS_DELETE=%q: want true or false", v))
		}
		c.AllowMassDelete = b
	}
	share("SYNC_BULK_SHARE", &c.BulkShare)
	if v := getenv("SYNC_BULK_MIN_ROWS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("SYNC_BULK_MIN_ROWS=%q: want a whole number, 0 or more", v))
		} else {
			c.BulkMinRows = n
		}
	}
	if v := getenv("SYNC_MAINTENANCE_WORK_MEM"); v != "" {
		if sanitizeSetting(v) != v {
			errs = append(errs, fmt.Errorf("SYNC_MAINTENANCE_WORK_MEM=%q: want a PostgreSQL memory size such as 256MB", v))
		} else {
			c.MaintenanceWorkMem = v
		}
	}
	if v := getenv("SYNC_WORK_MEM"); v != "" {
		if sanitizeSetting(v) != v {
			errs = append(errs, fmt.Errorf("SYNC_WORK_MEM=%q: want a PostgreSQL memory size such as 256MB", v))
		} else {
			c.WorkMem = v
		}
	}
	if v := getenv("SYNC_LOCK_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("SYNC_LOCK_TIMEOUT=%q: want a positive duration such as 5m", v))
		} else {
			c.LockTimeout = d
		}
	}
	return c, errors.Join(errs...)
}

// sanitizeSetting keeps a memory setting such as "256MB" from injecting SQL.
func sanitizeSetting(v string) string {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
			out = append(out, c)
		}
	}
	return string(out)
}

// SessionParams are connection settings for syncing sessions: temp_buffers
// must be set before the session first touches a temporary table, so it
// belongs at connect time; large staging tables then stay in memory.
func SessionParams() map[string]string {
	return map[string]string{"temp_buffers": "256MB"}
}
