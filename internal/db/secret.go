package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretGetter is the part of the Secrets Manager client the connection uses.
type SecretGetter interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// secretCreds is what a database secret holds.
type secretCreds struct {
	User, Password, Host, Database string
	Port                           uint16
	Query                          string // a URL secret's parameters (sslmode=...)
}

// url is the connection URL of c, without its password (that is set on
// each connection).
func (c secretCreds) url() string {
	u := url.URL{Scheme: "postgres", User: url.User(c.User), Host: net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), Path: "/" + c.Database}
	u.RawQuery = c.Query
	return u.String()
}

// parseSecret reads a secret's string: a postgres:// URL, or the JSON that
// RDS keeps (username, password, host, port, dbname).
func parseSecret(s string) (secretCreds, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return secretCreds{}, errors.New("not a valid postgres:// URL") // url's error would quote the password
		}
		pw, _ := u.User.Password()
		c := secretCreds{User: u.User.Username(), Password: pw, Host: u.Hostname(),
			Database: strings.TrimPrefix(u.Path, "/"), Query: u.RawQuery}
		if c.Port, err = parsePort(u.Port()); err != nil {
			return secretCreds{}, err
		}
		return c.withDefaults()
	}
	var v struct {
		Username string          `json:"username"`
		Password string          `json:"password"`
		Host     string          `json:"host"`
		Port     json.RawMessage `json:"port"` // RDS writes a number; people write strings
		DBName   string          `json:"dbname"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return secretCreds{}, errors.New("neither a postgres:// URL nor JSON with username, password, host, port, dbname")
	}
	port, err := parsePort(strings.Trim(string(v.Port), `"`))
	if err != nil {
		return secretCreds{}, err
	}
	return secretCreds{User: v.Username, Password: v.Password, Host: v.Host, Port: port, Database: v.DBName}.withDefaults()
}

func parsePort(s string) (uint16, error) {
	if s == "" || s == "null" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("port %s is not a port number", s)
	}
	return uint16(n), nil
}

func (c secretCreds) withDefaults() (secretCreds, error) {
	if c.User == "" || c.Host == "" {
		return c, errors.New("the secret lacks username or host")
	}
	if c.Port == 0 {
		c.Port = 5432
	}
	if c.Database == "" {
		c.Database = "postgres"
	}
	return c, nil
}

// secretRetryGap is the least time between two reads of the secret that a
// failed connection attempt or the TTL asks for.
const secretRetryGap = 5 * time.Second

// secretCache holds the secret's credentials for ttl, and reads them
// again sooner when a connection attempt failed (the password may have
// been rotated), at most once per gap.
type secretCache struct {
	arn string
	sm  SecretGetter
	ttl time.Duration
	gap time.Duration
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	creds   secretCreds
	readAt  time.Time // last successful read
	triedAt time.Time // last read, successful or not
	stale   bool      // a connection attempt failed since readAt
	reads   int
}

// get returns the credentials, reading the secret when there are none yet,
// when they are older than the TTL, or after a failed connection attempt.
// A read that fails once credentials are known keeps them (and is tried
// again after gap): Secrets Manager being unreachable should not stop
// connections that the old password still opens.
func (s *secretCache) get(ctx context.Context) (secretCreds, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	known := s.reads > 0
	expired := now.Sub(s.readAt) >= s.ttl
	if known && (!expired && !s.stale || now.Sub(s.triedAt) < s.gap) {
		return s.creds, nil
	}
	s.triedAt = now
	creds, err := s.read(ctx)
	if err != nil {
		if !known {
			return secretCreds{}, err
		}
		s.log.Warn("db: reading the database secret failed; keeping the credentials read before",
			"secret", s.arn, "retry_in", s.gap.String(), "error", err.Error())
		return s.creds, nil
	}
	switch {
	case s.stale:
		s.log.Warn("db: a connection attempt failed; read the database secret again",
			"secret", s.arn, "user", creds.User, "password_changed", creds.Password != s.creds.Password)
	case known:
		s.log.Debug("db: read the database secret again (DATABASE_SECRET_TTL)", "secret", s.arn,
			"password_changed", creds.Password != s.creds.Password)
	}
	s.creds, s.readAt, s.stale = creds, now, false
	s.reads++
	return creds, nil
}

// markStale asks the next get to read the secret again.
func (s *secretCache) markStale() {
	s.mu.Lock()
	s.stale = true
	s.mu.Unlock()
}

func (s *secretCache) read(ctx context.Context) (secretCreds, error) {
	out, err := s.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(s.arn)})
	if err != nil {
		return secretCreds{}, fmt.Errorf("read secret DATABASE_SECRET_ARN=%s: %w", s.arn, err)
	}
	creds, err := parseSecret(aws.ToString(out.SecretString))
	if err != nil {
		return secretCreds{}, fmt.Errorf("secret DATABASE_SECRET_ARN=%s: %w", s.arn, err)
	}
	return creds, nil
}
