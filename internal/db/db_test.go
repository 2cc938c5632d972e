package db_test

import (
	"context"
	"testing"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/testutil"
)

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	pool, _ := testutil.DBPool(t)
	res, err := db.Migrate(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 0 {
		t.Fatalf("second migrate applied %d migrations, want 0", len(res))
	}
	for _, table := range []string{"patients", "payments", "sync_runs"} {
		var n int
		if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}
