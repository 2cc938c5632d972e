package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patientsync/patientsync/internal/api"
	"github.com/patientsync/patientsync/internal/db"
)

func init() {
	register("runs", "list the newest sync runs of DATABASE_URL (what GET /syncs serves) as a table", runRuns)
}

func runRuns(ctx context.Context, args []string) error {
	fs := newFlagSet("runs", "", "")
	entity := fs.String("entity", "", "only runs of this entity (patients or payments)")
	status := fs.String("status", "", "only runs with this status (running, succeeded, failed, skipped)")
	n := fs.Int("n", 20, "how many runs")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	switch {
	case *entity != "" && *entity != "patients" && *entity != "payments":
		return usageErrorf(fs, "-entity %q: want patients or payments", *entity)
	case *status != "" && !strings.Contains(" running succeeded failed skipped ", " "+*status+" "):
		return usageErrorf(fs, "-status %q: want running, succeeded, failed or skipped", *status)
	case *n < 1:
		return usageErrorf(fs, "-n must be at least 1")
	}
	cfg, err := databaseConfig()
	if err != nil {
		return err
	}
	pool, err := cfg.Open(ctx, db.Options{MaxConns: 1, AppName: "patientsync-runs"})
	if err != nil {
		return err
	}
	defer pool.Close()
	runs, err := api.ListSyncRuns(ctx, pool, *entity, *status, *n)
	if err != nil {
		return err
	}
	printRuns(os.Stdout, runs)
	return nil
}

// printRuns writes runs as a table: one line each, then the first invalid
// records and the error under a failed run.
func printRuns(w io.Writer, runs []api.SyncRun) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENTITY\tSTATUS\tREASON\tSTARTED\tSECONDS\tRECEIVED\tINS\tUPD\tDEL\tRES\tINVALID\tSOURCE")
	for _, r := range runs {
		secs := "-"
		if r.Finished != nil {
			secs = fmt.Sprintf("%.2f", r.Finished.Sub(r.Started).Seconds())
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Entity, r.Status, deref(r.Reason),
			r.Started.Format(time.DateTime), secs, r.Received, r.Inserted, r.Updated, r.Deleted, r.Restored, r.Invalid, r.Source)
		if r.Error != nil && r.Status != "succeeded" {
			fmt.Fprintf(tw, "\t\t%s\n", *r.Error)
		}
		for i, p := range r.InvalidRecords {
			if i == 3 {
				fmt.Fprintf(tw, "\t\t… %d more invalid records (GET /syncs/%d)\n", r.Invalid-3, r.ID)
				break
			}
			fmt.Fprintf(tw, "\t\tinvalid %s\n", p.Error())
		}
	}
	tw.Flush()
}

func deref(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
