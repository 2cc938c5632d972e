package main

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/patientsync/patientsync/internal/localaws"
)

func init() {
	register("reset", "empty the local database (patients, payments, sync_runs) and the local stack's bucket", runReset)
}

func runReset(ctx context.Context, args []string) error {
	d := localaws.Defaults()
	fs := newFlagSet("reset", "", `Empties the patients, payments and sync_runs tables of DATABASE_URL (the schema stays) and,
when the S3 endpoint of `+"`patientsync up`"+` answers, every object version and delete marker of its
bucket. It asks nothing; a database or endpoint that is not on this machine needs -force.`)
	s3Addr := fs.String("s3-addr", d.S3Addr, "S3 endpoint of patientsync up; its bucket is emptied when it answers")
	bucket := fs.String("bucket", d.Bucket, "the bucket to empty")
	force := fs.Bool("force", false, "also reset a database or an S3 endpoint that is not on this machine")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	dbCfg, err := databaseConfig()
	if err != nil {
		return err
	}
	// The connection's settings, credentials included (a secret is read),
	// without connecting.
	conn, err := dbCfg.ConnConfig(ctx)
	if err != nil {
		return err
	}
	if !*force {
		// Refuse before connecting to anything.
		if host := remoteDatabaseHost(&conn.Config); host != "" {
			return fmt.Errorf("DATABASE_URL is on %s, not this machine; reset would empty its patients, payments and sync_runs: add -force (make reset RESET_FLAGS=-force) if that is what you want", host)
		}
		if host, _, err := net.SplitHostPort(*s3Addr); err != nil {
			return fmt.Errorf("-s3-addr %q: %w", *s3Addr, err)
		} else if !isLocalHost(host) {
			return fmt.Errorf("-s3-addr %s is not on this machine; reset would delete every object version in bucket %s there: add -force if that is what you want", *s3Addr, *bucket)
		}
	}
	// The bucket first: an upload event still queued in `up` then finds its
	// object gone instead of syncing it into the emptied database.
	if err := resetBucket(ctx, *s3Addr, *bucket); err != nil {
		return err
	}
	return resetDatabase(ctx, conn)
}

// remoteDatabaseHost is the first host of the connection that is not this
// machine, "" when all are.
func remoteDatabaseHost(cfg *pgconn.Config) string {
	hosts := []string{cfg.Host}
	for _, f := range cfg.Fallbacks {
		hosts = append(hosts, f.Host)
	}
	for _, h := range hosts {
		if !isLocalHost(h) {
			return h
		}
	}
	return ""
}

// isLocalHost: localhost, a loopback address, or a Unix socket directory.
func isLocalHost(host string) bool {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" || strings.HasPrefix(host, "/") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
