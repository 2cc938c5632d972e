package db

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Role is what a process does with the database, which decides its endpoint.
type Role int

const (
	// Writer is the sync, push and migrate functions and the CLI (also the
	// ECS runner): DATABASE_HOST, else the URL's or the secret's host.
	Writer Role = iota
	// Reader is the read-only query functions: DATABASE_QUERY_HOST (a
	// replica or reader endpoint) when it is set, else as Writer.
	Reader
)

// DefaultSecretTTL is how long the secret's credentials are used before
// the secret is read again (DATABASE_SECRET_TTL).
const DefaultSecretTTL = 10 * time.Minute

var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// Config is how every process of patientsync connects to PostgreSQL,
// read from the environment by ConfigFromEnv.
type Config struct {
	URL         string        // DATABASE_URL; when set, DATABASE_SECRET_ARN is not read
	SecretARN   string        // DATABASE_SECRET_ARN: a postgres:// URL or RDS's JSON
	SecretTTL   time.Duration // DATABASE_SECRET_TTL
	Host        string        // DATABASE_HOST, or DATABASE_QUERY_HOST for a Reader; "" keeps the URL's or secret's
	Port        uint16        // the port given with Host; 0 keeps the URL's or secret's
	HostVar     string        // the variable Host came from
	IAMAuth     bool          // DATABASE_IAM_AUTH: the password is an RDS IAM auth token
	User        string        // DATABASE_USER: the IAM user, when not the URL's or secret's
	SSLMode     string        // DATABASE_SSLMODE; "" keeps the URL's, verify-full with a secret
	SSLRootCert string        // DATABASE_SSLROOTCERT: the roots instead of the system's and RDS's

	// Secrets reads the secret; nil makes a client from the default AWS
	// configuration.
	Secrets SecretGetter
	// AWS gives the region and credentials that sign IAM auth tokens; nil
	// loads the default AWS configuration.
	AWS *aws.Config
	// Log receives the warnings of secret re-reads; nil is slog.Default().
	Log *slog.Logger

	secretRetryGap time.Duration // tests shorten it
}

// ConfigFromEnv reads the database settings with getenv (os.Getenv in
// main) and checks them, without any I/O but reading DATABASE_SSLROOTCERT.
// Errors name the variable and the value at fault.
func ConfigFromEnv(getenv func(string) string, role Role) (Config, error) {
	c := Config{URL: getenv("DATABASE_URL"), SecretARN: getenv("DATABASE_SECRET_ARN"), SecretTTL: DefaultSecretTTL,
		User: getenv("DATABASE_USER"), SSLRootCert: getenv("DATABASE_SSLROOTCERT")}
	if c.URL == "" && c.SecretARN == "" {
		return c, errors.New("set DATABASE_URL or DATABASE_SECRET_ARN")
	}
	if c.URL != "" {
		if _, err := pgconn.ParseConfig(c.URL); err != nil {
			return c, fmt.Errorf("DATABASE_URL: %w", err) // pgconn's message hides the password
		}
	}
	if v := getenv("DATABASE_SECRET_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return c, fmt.Errorf("DATABASE_SECRET_TTL=%q: want a duration of at least 1s, such as 10m", v)
		}
		c.SecretTTL = d
	}
	hostVar := "DATABASE_HOST"
	if role == Reader && getenv("DATABASE_QUERY_HOST") != "" {
		hostVar = "DATABASE_QUERY_HOST"
	}
	if v := getenv(hostVar); v != "" {
		h, p, err := splitHostPort(v)
		if err != nil {
			return c, fmt.Errorf("%s=%q: %w", hostVar, v, err)
		}
		c.Host, c.Port, c.HostVar = h, p, hostVar
	}
	if v := getenv("DATABASE_IAM_AUTH"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("DATABASE_IAM_AUTH=%q: want true or false", v)
		}
		c.IAMAuth = b
	}
	if c.User != "" && !c.IAMAuth {
		return c, fmt.Errorf("DATABASE_USER=%q: only used with DATABASE_IAM_AUTH=true (a password comes with its user, in DATABASE_URL or the secret)", c.User)
	}
	if v := getenv("DATABASE_SSLMODE"); v != "" {
		if !slices.Contains(sslModes, v) {
			return c, fmt.Errorf("DATABASE_SSLMODE=%q: want one of %s", v, strings.Join(sslModes, ", "))
		}
		c.SSLMode = v
	}
	if c.SSLRootCert != "" {
		if _, err := readRoots(c.SSLRootCert); err != nil {
			return c, err
		}
		if !verifies(c.SSLMode) && c.SSLMode != "" {
			return c, fmt.Errorf("DATABASE_SSLROOTCERT=%q is set but DATABASE_SSLMODE=%q does not verify the server: want require, verify-ca or verify-full", c.SSLRootCert, c.SSLMode)
		}
	}
	if c.IAMAuth {
		switch {
		case c.SSLMode != "" && !verifies(c.SSLMode):
			return c, fmt.Errorf("DATABASE_IAM_AUTH=true needs TLS, and DATABASE_SSLMODE=%q does not require it: want require, verify-ca or verify-full", c.SSLMode)
		case c.SSLMode == "" && c.URL != "":
			if pc, _ := pgconn.ParseConfig(c.URL); !requiresTLS(pc) {
				return c, errors.New("DATABASE_IAM_AUTH=true needs TLS, and DATABASE_URL's sslmode (the default is prefer) does not require it: set sslmode=verify-full in it or DATABASE_SSLMODE")
			}
		}
	}
	return c, nil
}

// verifies: the sslmodes that insist on TLS.
func verifies(mode string) bool {
	return mode == "require" || mode == "verify-ca" || mode == "verify-full"
}

// splitHostPort reads host or host:port ([v6]:port).
func splitHostPort(v string) (string, uint16, error) {
	host, port := v, ""
	if strings.HasPrefix(v, "[") || strings.Count(v, ":") == 1 {
		h, p, err := net.SplitHostPort(v)
		if err != nil {
			return "", 0, errors.New("want host or host:port")
		}
		host, port = h, p
	}
	if host == "" || strings.ContainsAny(host, " \t/,?#@=") {
		return "", 0, errors.New("want host or host:port")
	}
	if port == "" {
		return host, 0, nil
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", 0, errors.New("want host or host:port with a port from 1 to 65535")
	}
	return host, uint16(n), nil
}

// PoolFromEnv is a Lambda function's pool: the connection ConfigFromEnv
// reads for role, its warnings to log, connecting lazily (NewPool), so that
// a database that is down at cold start fails invocations, not the init.
func PoolFromEnv(ctx context.Context, getenv func(string) string, role Role, log *slog.Logger, o Options) (*pgxpool.Pool, error) {
	c, err := ConfigFromEnv(getenv, role)
	if err != nil {
		return nil, fmt.Errorf("database configuration: %w", err)
	}
	c.Log = log
	return c.NewPool(ctx, o)
}

// Open creates a pool on c and checks that the database answers.
func (c Config) Open(ctx context.Context, o Options) (*pgxpool.Pool, error) {
	pool, err := c.NewPool(ctx, o)
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", pool.Config().ConnConfig.Host, err)
	}
	return pool, nil
}

// NewPool creates a pool on c without connecting: connections are made on
// first use. It reads the secret, if any, once now.
func (c Config) NewPool(ctx context.Context, o Options) (*pgxpool.Pool, error) {
	pc, err := c.PoolConfig(ctx, o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), pc)
	if err != nil {
		return nil, fmt.Errorf("create pool: %w", err)
	}
	return pool, nil
}

// ConnConfig is one connection's configuration with its credentials, for
// what connects without a pool.
func (c Config) ConnConfig(ctx context.Context) (*pgx.ConnConfig, error) {
	pc, err := c.PoolConfig(ctx, Options{})
	if err != nil {
		return nil, err
	}
	cc := pc.ConnConfig.Copy()
	cc.AfterNetConnect = nil // no pool to report failures to
	if pc.BeforeConnect != nil {
		if err := pc.BeforeConnect(ctx, cc); err != nil {
			return nil, err
		}
	}
	return cc, nil
}

// PoolConfig is the pool's configuration: the URL or the secret with the
// host, sslmode and root overrides, o applied, and a BeforeConnect that
// sets each new connection's credentials (the cached secret's, read again
// after the TTL or a failed connection attempt; an IAM token).
func (c Config) PoolConfig(ctx context.Context, o Options) (*pgxpool.Config, error) {
	cn := &connector{c: c}
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	var awsCfg *aws.Config
	loadAWS := func() (*aws.Config, error) {
		if awsCfg == nil {
			awsCfg = c.AWS
		}
		if awsCfg == nil {
			cfg, err := config.LoadDefaultConfig(ctx)
			if err != nil {
				return nil, fmt.Errorf("load AWS config: %w", err)
			}
			awsCfg = &cfg
		}
		return awsCfg, nil
	}

	var base, source string
	var set [][2]string
	if c.URL != "" {
		base, source = c.URL, "DATABASE_URL"
	} else {
		sm := c.Secrets
		if sm == nil {
			a, err := loadAWS()
			if err != nil {
				return nil, err
			}
			sm = secretsmanager.NewFromConfig(*a)
		}
		ttl := c.SecretTTL
		if ttl <= 0 {
			ttl = DefaultSecretTTL
		}
		gap := c.secretRetryGap
		if gap <= 0 {
			gap = secretRetryGap
		}
		cn.secret = &secretCache{arn: c.SecretARN, sm: sm, ttl: ttl, gap: gap, log: log, now: time.Now}
		creds, err := cn.secret.get(ctx)
		if err != nil {
			return nil, err
		}
		base, source = creds.url(), "the secret DATABASE_SECRET_ARN="+c.SecretARN
		if q, _ := url.ParseQuery(creds.Query); c.SSLMode == "" && !q.Has("sslmode") {
			set = append(set, [2]string{"sslmode", "verify-full"})
		}
	}
	if c.SSLMode != "" {
		set = append(set, [2]string{"sslmode", c.SSLMode})
	}
	if c.SSLRootCert != "" {
		set = append(set, [2]string{"sslrootcert", c.SSLRootCert})
	}
	if c.Host != "" {
		set = append(set, [2]string{"host", c.Host})
		if c.Port != 0 {
			set = append(set, [2]string{"port", strconv.Itoa(int(c.Port))})
		}
	}
	pc, err := pgxpool.ParseConfig(withSettings(base, set))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	if c.IAMAuth {
		if !requiresTLS(&pc.ConnConfig.Config) {
			return nil, fmt.Errorf("DATABASE_IAM_AUTH=true needs TLS, and the sslmode of %s does not require it", source)
		}
		a, err := loadAWS()
		if err != nil {
			return nil, err
		}
		if a.Region == "" {
			return nil, errors.New("DATABASE_IAM_AUTH=true: no AWS region to sign the auth token for (set AWS_REGION)")
		}
		if a.Credentials == nil {
			return nil, errors.New("DATABASE_IAM_AUTH=true: no AWS credentials to sign the auth token with")
		}
		cn.region, cn.creds = a.Region, a.Credentials
	}
	if err := setDefaultRoots(&pc.ConnConfig.Config); err != nil {
		return nil, err
	}

	if o.MaxConns > 0 {
		pc.MaxConns = o.MaxConns
	}
	if o.ExecMode != 0 {
		pc.ConnConfig.DefaultQueryExecMode = o.ExecMode
	}
	for k, v := range o.RuntimeParams {
		pc.ConnConfig.RuntimeParams[k] = v
	}
	if o.AppName != "" {
		pc.ConnConfig.RuntimeParams["application_name"] = o.AppName
	}
	// IAM tokens and proxies recycle connections; keep them young.
	pc.MaxConnLifetime = 10 * time.Minute
	pc.MaxConnIdleTime = 5 * time.Minute

	if cn.secret != nil || c.IAMAuth {
		pc.BeforeConnect = cn.beforeConnect
	}
	if cn.secret != nil {
		// A connection attempt that reached the server but closed before
		// AfterConnect (a password rotated since the secret was read, say)
		// makes the next one read the secret again.
		next := pc.ConnConfig.AfterNetConnect
		pc.ConnConfig.AfterNetConnect = func(ctx context.Context, cfg *pgconn.Config, conn net.Conn) (net.Conn, error) {
			if next != nil {
				var err error
				if conn, err = next(ctx, cfg, conn); err != nil {
					return conn, err
				}
			}
			return &trackedConn{Conn: conn, failed: cn.secret.markStale}, nil
		}
		pc.AfterConnect = func(_ context.Context, conn *pgx.Conn) error {
			if t, ok := conn.PgConn().Conn().(*trackedConn); ok {
				t.ok.Store(true)
			}
			return nil
		}
	}
	return pc, nil
}

// withSettings adds key=value settings to a connection URL or keyword/value
// string; pgconn takes the last of a repeated key.
func withSettings(base string, set [][2]string) string {
	if len(set) == 0 {
		return base
	}
	var b strings.Builder
	b.WriteString(base)
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		sep := "?"
		if strings.Contains(base, "?") {
			sep = "&"
		}
		for _, kv := range set {
			b.WriteString(sep + url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]))
			sep = "&"
		}
		return b.String()
	}
	quote := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	for _, kv := range set {
		b.WriteString(" " + kv[0] + "='" + quote.Replace(kv[1]) + "'")
	}
	return b.String()
}

// requiresTLS: every way pgconn would try uses TLS (no sslmode disable,
// allow or prefer).
func requiresTLS(c *pgconn.Config) bool {
	if c == nil || c.TLSConfig == nil {
		return false
	}
	for _, f := range c.Fallbacks {
		if f.TLSConfig == nil {
			return false
		}
	}
	return true
}

// setDefaultRoots gives the TLS configurations that verify the server
// (verify-ca, verify-full) and were given no roots the system's and RDS's.
func setDefaultRoots(c *pgconn.Config) error {
	tcs := []*pgconn.FallbackConfig{{TLSConfig: c.TLSConfig}}
	tcs = append(tcs, c.Fallbacks...)
	for _, f := range tcs {
		tc := f.TLSConfig
		if tc == nil || tc.RootCAs != nil || (tc.InsecureSkipVerify && tc.VerifyPeerCertificate == nil) {
			continue
		}
		roots, err := defaultRoots()
		if err != nil {
			return err
		}
		// pgconn's verify-ca check reads RootCAs from this very config.
		tc.RootCAs = roots
	}
	return nil
}

// connector sets each new connection's credentials.
type connector struct {
	c      Config
	secret *secretCache // nil without DATABASE_SECRET_ARN
	region string
	creds  aws.CredentialsProvider
}

func (cn *connector) beforeConnect(ctx context.Context, cc *pgx.ConnConfig) error {
	if cn.secret != nil {
		s, err := cn.secret.get(ctx)
		if err != nil {
			return err
		}
		cc.User, cc.Password, cc.Database = s.User, s.Password, s.Database
		if cn.c.Host == "" {
			retarget(&cc.Config, s.Host, s.Port)
		}
	}
	if cn.c.IAMAuth {
		if cn.c.User != "" {
			cc.User = cn.c.User
		}
		endpoint := net.JoinHostPort(cc.Host, strconv.Itoa(int(cc.Port)))
		token, err := auth.BuildAuthToken(ctx, endpoint, cn.region, cc.User, cn.creds)
		if err != nil {
			return fmt.Errorf("DATABASE_IAM_AUTH: auth token for user %s on %s: %w", cc.User, endpoint, err)
		}
		cc.Password = token
	}
	return nil
}

// retarget moves a connection to the secret's host and port when a re-read
// secret names another (the URL made from the first read has the old).
func retarget(c *pgconn.Config, host string, port uint16) {
	if c.Host == host && c.Port == port {
		return
	}
	old := c.Host
	for _, f := range c.Fallbacks {
		if f.Host == old {
			f.Host, f.Port = host, port
			if f.TLSConfig != nil && f.TLSConfig.ServerName == old {
				f.TLSConfig.ServerName = host
			}
		}
	}
	c.Host, c.Port = host, port
	if c.TLSConfig != nil && c.TLSConfig.ServerName == old {
		c.TLSConfig.ServerName = host
	}
}

// trackedConn reports a connection that closes before AfterConnect saw it
// established.
type trackedConn struct {
	net.Conn
	ok     atomic.Bool
	once   sync.Once
	failed func()
}

func (t *trackedConn) Close() error {
	if !t.ok.Load() {
		t.once.Do(t.failed)
	}
	return t.Conn.Close()
}
