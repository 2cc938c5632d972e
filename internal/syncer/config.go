// Package syncer applies a snapshot to PostgreSQL: it streams the file into a
// staging table with COPY and merges it into the target table in one
// transaction, writing only what changed.
package syncer

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Config tunes the guards and the database session of a sync.
// A zero field means its default; to ask for a real zero (no invalid records
// allowed, no minimum) set a negative value.
type Config struct {
	// MaxInvalidShare rejects a snapshot whose share of invalid records is
	// larger (default 0.01; 1 accepts any share).
	MaxInvalidShare float64
	// MaxDeleteShare rejects a snapshot that would soft-delete a larger share
	// of the live rows (default 0.5)...
	MaxDeleteShare float64
	// ...but only when it deletes at least MinDeletes rows (default 10).
	MinDeletes int64
	// AllowMassDelete turns the mass-deletion guard off.
	AllowMassDelete bool
	// MaxProblems is how many invalid records are kept in sync_runs (default 100).
	MaxProblems int
	// WorkMem is the transaction's work_mem for the hash joins (default 256MB).
	WorkMem string
	// LockTimeout bounds the wait for a concurrent sync of the same entity
	// (default 5 minutes; the context deadline bounds it too).
	LockTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxInvalidShare == 0 {
		c.MaxInvalidShare = 0.01
	}
	if c.MaxDeleteShare == 0 {
		c.MaxDeleteShare = 0.5
	}
	if c.MinDeletes == 0 {
		c.MinDeletes = 10
	}
	if c.MaxProblems == 0 {
		c.MaxProblems = 100
	}
	if c.WorkMem == "" {
		c.WorkMem = "256MB"
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = 5 * time.Minute
	}
	return c
}

// ConfigFromEnv reads SYNC_MAX_INVALID_SHARE, SYNC_MAX_DELETE_SHARE,
// SYNC_MIN_DELETES, SYNC_ALLOW_MASS_DELETE and SYNC_WORK_MEM, and says which
// variable is wrong and why.
func ConfigFromEnv() (Config, error) {
	var c Config
	var errs []error
	share := func(name string, dst *float64) {
		v := os.Getenv(name)
		if v == "" {
			return
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			errs = append(errs, fmt.Errorf("%s=%q: want a share between 0 and 1", name, v))
			return
		}
		if f == 0 {
			f = -1 // an explicit 0 means "none allowed"; the zero value means default
		}
		*dst = f
	}
	share("SYNC_MAX_INVALID_SHARE", &c.MaxInvalidShare)
	share("SYNC_MAX_DELETE_SHARE", &c.MaxDeleteShare)
	if v := os.Getenv("SYNC_MIN_DELETES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("SYNC_MIN_DELETES=%q: want a non-negative integer", v))
		} else {
			c.MinDeletes = n
			if n == 0 {
				c.MinDeletes = -1
			}
		}
	}
	if v := os.Getenv("SYNC_ALLOW_MASS_DELETE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("SYNC_ALLOW_MASS_DELETE=%q: want true or false", v))
		}
		c.AllowMassDelete = b
	}
	c.WorkMem = os.Getenv("SYNC_WORK_MEM")
	return c, errors.Join(errs...)
}

// SessionParams are connection settings for syncing sessions: temp_buffers
// must be set before the session first touches a temporary table, so it
// belongs at connect time; large staging tables then stay in memory.
func SessionParams() map[string]string {
	return map[string]string{"temp_buffers": "256MB"}
}
