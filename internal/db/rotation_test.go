package db_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/patientsync/patientsync/internal/db"
	"github.com/patientsync/patientsync/internal/testutil"
)

// countingSecrets counts the reads of a real Secrets Manager client.
type countingSecrets struct {
	db.SecretGetter
	reads atomic.Int32
}

func (c *countingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.reads.Add(1)
	return c.SecretGetter.GetSecretValue(ctx, in, o...)
}

// A rotated password does not break a warm pool: against moto_server's
// Secrets Manager and a PostgreSQL that checks passwords (scram-sha-256),
// a pool opened with the secret survives ALTER ROLE + PutSecretValue and
// the termination of its connections (the one connection attempt made with
// the old password fails, the secret is read again, the next succeeds),
// and a TTL that runs out makes new connections use the new password
// without any failure.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	adminURL := testutil.PasswordPostgres(t)
	endpoint := testutil.Moto(t)
	sm := secretsmanager.New(secretsmanager.Options{BaseEndpoint: aws.String(endpoint), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})

	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	u, _ := url.Parse(adminURL)
	port, _ := strconv.Atoi(u.Port())
	secretString := func(password string) string {
		b, _ := json.Marshal(map[string]any{"engine": "postgres", "username": "app", "password": password,
			"host": "127.0.0.1", "port": port, "dbname": "postgres"})
		return string(b)
	}
	rotate := func(password string) {
		t.Helper()
		if _, err := admin.Exec(ctx, "ALTER ROLE app PASSWORD '"+password+"'"); err != nil {
			t.Fatal(err)
		}
		if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String("patientsync/db"),
			SecretString: aws.String(secretString(password))}); err != nil {
			t.Fatal(err)
		}
	}
	passwords := []string{"Pw-1-qXf83", "Pw-2-Lz91k", "Pw-3-Rt47m"}
	if _, err := admin.Exec(ctx, "CREATE ROLE app LOGIN PASSWORD '"+passwords[0]+"'"); err != nil {
		t.Fatal(err)
	}
	secret, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("patientsync/db"),
		SecretString: aws.String(secretString(passwords[0]))})
	if err != nil {
		t.Fatal(err)
	}

	logs := &testutil.LogBuffer{}
	open := func(ttl string) (*pgxpool.Pool, *countingSecrets) {
		t.Helper()
		env := map[string]string{"DATABASE_SECRET_ARN": aws.ToString(secret.ARN), "DATABASE_SSLMODE": "disable", "DATABASE_SECRET_TTL": ttl}
		cfg, err := db.ConfigFromEnv(func(k string) string { return env[k] }, db.Writer)
		if err != nil {
			t.Fatal(err)
		}
		counting := &countingSecrets{SecretGetter: sm}
		cfg.Secrets = counting
		cfg.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		db.SetSecretRetryGap(&cfg, 200*time.Millisecond)
		pool, err := cfg.Open(ctx, db.Options{MaxConns: 2, AppName: "rotation-test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool, counting
	}
	query := func(pool *pgxpool.Pool) error {
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var user string
		if err := pool.QueryRow(qctx, "SELECT current_user").Scan(&user); err != nil {
			return err
		}
		if user != "app" {
			t.Fatalf("connected as %s", user)
		}
		return nil
	}

	pool, reads := open("1h")
	if err := query(pool); err != nil {
		t.Fatal(err)
	}

	rotate(passwords[1])
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'"); err != nil {
		t.Fatal(err)
	}
	// Past pgxpool's 1s before it pings an idle connection (and the re-read gap).
	time.Sleep(1100 * time.Millisecond)
	err = query(pool)
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "28P01") {
		t.Fatalf("first query after the rotation: %v; want success or the old password's 28P01", err)
	}
	if err != nil {
		t.Logf("the connection attempt with the old password failed, as expected: %v", err)
		if err := query(pool); err != nil {
			t.Fatalf("the query after the failed attempt: %v; want the secret read again and the new password used", err)
		}
	}
	if n := reads.reads.Load(); n != 2 {
		t.Errorf("the secret was read %d times, want 2 (at open, after the failed attempt)", n)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "read the database secret again") {
		t.Errorf("no WARN about the re-read in the log:\n%s", logs)
	}

	// TTL: a pool whose TTL has run out reads the secret before it
	// connects, so the rotated password never fails.
	pool2, reads2 := open("1s")
	if err := query(pool2); err != nil {
		t.Fatal(err)
	}
	rotate(passwords[2])
	time.Sleep(1100 * time.Millisecond)
	pool2.Reset() // new connections from here on
	if err := query(pool2); err != nil {
		t.Fatalf("after the TTL: %v", err)
	}
	if n := reads2.reads.Load(); n != 2 {
		t.Errorf("the secret was read %d times, want 2 (at open, after the TTL)", n)
	}
	// The first pool, still within its TTL, goes on with its connection.
	if err := query(pool); err != nil {
		t.Errorf("the first pool's open connection: %v", err)
	}
	for _, pw := range passwords {
		if strings.Contains(logs.String(), pw) {
			t.Errorf("the log shows a password:\n%s", logs)
		}
	}
}

// TLS against the local server (Debian's cluster has ssl on with its
// self-signed snakeoil certificate, named after the machine): with the RDS
// bundle as the roots, verify-ca refuses it as signed by an unknown
// authority and verify-full refuses it too (Go checks the name 127.0.0.1
// first); so does verify-full with the default roots (the system's and the
// RDS bundle); the server's own certificate as DATABASE_SSLROOTCERT lets
// verify-ca through but not verify-full (the name); require encrypts
// without verifying, and disable does not encrypt.
func TestTLSModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := testutil.DBPool(t)
	var ssl, certFile string
	if err := pool.QueryRow(ctx, "SELECT current_setting('ssl'), current_setting('ssl_cert_file')").Scan(&ssl, &certFile); err != nil {
		t.Fatal(err)
	}
	if ssl != "on" {
		t.Skip("the test server has ssl off: nothing to verify")
	}
	base := testutil.AdminURL()
	const rdsBundle = "rds-global-bundle.pem"
	for _, tt := range []struct {
		mode, rootCert string
		unknownCA      bool // signed by an unknown authority
		wrongName      bool // not 127.0.0.1's certificate
		certErr        bool // any certificate verification error
		encrypted      bool
	}{
		{mode: "verify-full", rootCert: rdsBundle, certErr: true},
		{mode: "verify-ca", rootCert: rdsBundle, unknownCA: true},
		{mode: "verify-full", certErr: true},
		{mode: "verify-ca", rootCert: certFile, encrypted: true},
		{mode: "verify-full", rootCert: certFile, wrongName: true},
		{mode: "require", encrypted: true},
		{mode: "disable"},
	} {
		if tt.rootCert != "" {
			if _, err := os.ReadFile(tt.rootCert); err != nil {
				t.Logf("skip verify-ca with the server's certificate: %v", err)
				continue
			}
		}
		env := map[string]string{"DATABASE_URL": base, "DATABASE_SSLMODE": tt.mode, "DATABASE_SSLROOTCERT": tt.rootCert}
		cfg, err := db.ConfigFromEnv(func(k string) string { return env[k] }, db.Writer)
		if err != nil {
			t.Fatal(err)
		}
		p, err := cfg.Open(ctx, db.Options{MaxConns: 1})
		if tt.unknownCA || tt.wrongName || tt.certErr {
			var unknown x509.UnknownAuthorityError
			var verr *tls.CertificateVerificationError
			var hostErr x509.HostnameError
			switch {
			case err == nil:
				t.Errorf("%s (root %q) connected, want a certificate error", tt.mode, tt.rootCert)
			case tt.unknownCA && !errors.As(err, &unknown):
				t.Errorf("%s (root %q): err = %v, want x509: certificate signed by unknown authority", tt.mode, tt.rootCert, err)
			case tt.wrongName && !errors.As(err, &hostErr):
				t.Errorf("%s (root %q): err = %v, want x509: certificate is not valid for 127.0.0.1", tt.mode, tt.rootCert, err)
			case !errors.As(err, &unknown) && !errors.As(err, &verr) && !errors.As(err, &hostErr):
				t.Errorf("%s (root %q): err = %v, want a certificate verification error", tt.mode, tt.rootCert, err)
			}
			if p != nil {
				p.Close()
			}
			continue
		}
		if err != nil {
			t.Errorf("%s (root %q): %v", tt.mode, tt.rootCert, err)
			continue
		}
		var encrypted bool
		if err := p.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&encrypted); err != nil {
			t.Fatal(err)
		}
		if encrypted != tt.encrypted {
			t.Errorf("%s: encrypted %v, want %v", tt.mode, encrypted, tt.encrypted)
		}
		p.Close()
	}
}
