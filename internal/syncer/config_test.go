package syncer_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/patientsync/patientsync/internal/syncer"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    func(*syncer.Config) // applied to DefaultConfig
		wantErr string               // a substring, naming the variable
	}{
		{name: "nothing set is the default", env: nil},
		{name: "zero means none allowed", env: map[string]string{"SYNC_MAX_INVALID_SHARE": "0", "SYNC_MAX_DELETE_SHARE": "0", "SYNC_MIN_DELETES": "0"},
			want: func(c *syncer.Config) { c.MaxInvalidShare, c.MaxDeleteShare, c.MinDeletes = 0, 0, 0 }},
		{name: "values", env: map[string]string{"SYNC_MAX_INVALID_SHARE": "1", "SYNC_MAX_DELETE_SHARE": "0.25", "SYNC_MIN_DELETES": "3",
			"SYNC_ALLOW_MASS_DELETE": "true", "SYNC_WORK_MEM": "64MB"},
			want: func(c *syncer.Config) {
				c.MaxInvalidShare, c.MaxDeleteShare, c.MinDeletes, c.AllowMassDelete, c.WorkMem = 1, 0.25, 3, true, "64MB"
			}},
		{name: "NaN share", env: map[string]string{"SYNC_MAX_DELETE_SHARE": "NaN"}, wantErr: "SYNC_MAX_DELETE_SHARE"},
		{name: "NaN invalid share", env: map[string]string{"SYNC_MAX_INVALID_SHARE": "nan"}, wantErr: "SYNC_MAX_INVALID_SHARE"},
		{name: "infinite share", env: map[string]string{"SYNC_MAX_INVALID_SHARE": "+Inf"}, wantErr: "SYNC_MAX_INVALID_SHARE"},
		{name: "negative share", env: map[string]string{"SYNC_MAX_DELETE_SHARE": "-0.1"}, wantErr: "SYNC_MAX_DELETE_SHARE"},
		{name: "share above one", env: map[string]string{"SYNC_MAX_DELETE_SHARE": "1.5"}, wantErr: "SYNC_MAX_DELETE_SHARE"},
		{name: "negative minimum", env: map[string]string{"SYNC_MIN_DELETES": "-1"}, wantErr: "SYNC_MIN_DELETES"},
		{name: "not a boolean", env: map[string]string{"SYNC_ALLOW_MASS_DELETE": "yes please"}, wantErr: "SYNC_ALLOW_MASS_DELETE"},
		{name: "SQL in work_mem", env: map[string]string{"SYNC_WORK_MEM": "1MB'; DROP TABLE patients; --"}, wantErr: "SYNC_WORK_MEM"},
		{name: "bulk settings", env: map[string]string{"SYNC_BULK_SHARE": "0.3", "SYNC_BULK_MIN_ROWS": "0", "SYNC_MAINTENANCE_WORK_MEM": "1GB"},
			want: func(c *syncer.Config) { c.BulkShare, c.BulkMinRows, c.MaintenanceWorkMem = 0.3, 0, "1GB" }},
		{name: "NaN bulk share", env: map[string]string{"SYNC_BULK_SHARE": "NaN"}, wantErr: "SYNC_BULK_SHARE"},
		{name: "negative bulk minimum", env: map[string]string{"SYNC_BULK_MIN_ROWS": "-5"}, wantErr: "SYNC_BULK_MIN_ROWS"},
		{name: "lock timeout", env: map[string]string{"SYNC_LOCK_TIMEOUT": "2h"},
			want: func(c *syncer.Config) { c.LockTimeout = 2 * time.Hour }},
		{name: "zero lock timeout", env: map[string]string{"SYNC_LOCK_TIMEOUT": "0s"}, wantErr: "SYNC_LOCK_TIMEOUT"},
		{name: "lock timeout without unit", env: map[string]string{"SYNC_LOCK_TIMEOUT": "300"}, wantErr: "SYNC_LOCK_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := syncer.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := syncer.DefaultConfig()
			if tt.want != nil {
				tt.want(&want)
			}
			if got != want {
				t.Fatalf("config = %+v, want %+v", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("a config read from the environment does not validate: %v", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bad := []func(*syncer.Config){
		func(c *syncer.Config) { c.MaxInvalidShare = math.NaN() },
		func(c *syncer.Config) { c.MaxDeleteShare = math.Inf(1) },
		func(c *syncer.Config) { c.MaxDeleteShare = -1 },
		func(c *syncer.Config) { c.MinDeletes = -1 },
		func(c *syncer.Config) { c.MaxInvalidRecords = -1 },
		func(c *syncer.Config) { c.WorkMem = "" },
		func(c *syncer.Config) { c.LockTimeout = 0 },
	}
	for i, mod := range bad {
		c := syncer.DefaultConfig()
		mod(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("case %d: %+v validates", i, c)
		}
		if _, err := syncer.New(nil, c, nil); err == nil {
			t.Errorf("case %d: New accepts %+v", i, c)
		}
	}
	if err := syncer.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
}
