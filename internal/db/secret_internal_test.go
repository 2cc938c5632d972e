package db

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func TestParseSecret(t *testing.T) {
	t.Parallel()
	tests := []struct {
		secret string
		want   secretCreds
		url    string
		err    string
	}{
		{secret: "postgres://u:p%40ss@h:6432/d?sslmode=verify-ca&connect_timeout=5",
			want: secretCreds{User: "u", Password: "p@ss", Host: "h", Port: 6432, Database: "d", Query: "sslmode=verify-ca&connect_timeout=5"},
			url:  "postgres://u@h:6432/d?sslmode=verify-ca&connect_timeout=5"},
		{secret: `{"username":"app","password":"p@ss/w","host":"db.example","port":5432,"dbname":"ps","engine":"postgres"}`,
			want: secretCreds{User: "app", Password: "p@ss/w", Host: "db.example", Port: 5432, Database: "ps"},
			url:  "postgres://app@db.example:5432/ps"},
		{secret: `{"username":"app","password":"x","host":"h","port":"6432"}`,
			want: secretCreds{User: "app", Password: "x", Host: "h", Port: 6432, Database: "postgres"},
			url:  "postgres://app@h:6432/postgres"},
		{secret: `{"username":"app","password":"x","host":"::1"}`,
			want: secretCreds{User: "app", Password: "x", Host: "::1", Port: 5432, Database: "postgres"},
			url:  "postgres://app@[::1]:5432/postgres"},
		{secret: `{"password":"x"}`, err: "lacks username"},
		{secret: `not json`, err: "neither"},
		{secret: `{"username":"a","host":"h","port":"x"}`, err: "not a port number"},
		{secret: `{"username":"a","host":"h","port":70000}`, err: "not a port number"},
	}
	for _, tt := range tests {
		got, err := parseSecret(tt.secret)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.secret, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || got.url() != tt.url {
			t.Errorf("%s: got %+v (%s), %v; want %+v (%s)", tt.secret, got, got.url(), err, tt.want, tt.url)
		}
	}
}

// fakeSecrets serves a secret string that the test changes, or an error.
type fakeSecrets struct {
	value string
	err   error
	reads int
}

func (f *fakeSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(f.value)}, nil
}

// The cache on a fake clock: TTL expiry, a failed connection attempt, the
// rate limit on re-reads, and an unreachable Secrets Manager.
func TestSecretCache(t *testing.T) {
	t.Parallel()
	sm := &fakeSecrets{value: `{"username":"app","password":"one","host":"h"}`}
	now := time.Unix(0, 0)
	c := &secretCache{arn: "arn", sm: sm, ttl: time.Minute, gap: 5 * time.Second,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), now: func() time.Time { return now }}
	ctx := context.Background()
	step := func(what string, advance time.Duration, wantPassword string, wantReads int) {
		t.Helper()
		now = now.Add(advance)
		got, err := c.get(ctx)
		if err != nil || got.Password != wantPassword || sm.reads != wantReads {
			t.Fatalf("%s: password %q, err %v, reads %d; want %q after %d reads", what, got.Password, err, sm.reads, wantPassword, wantReads)
		}
	}
	step("first use reads", 0, "one", 1)
	sm.value = `{"username":"app","password":"two","host":"h"}`
	step("within the TTL the cache answers", 30*time.Second, "one", 1)
	step("after the TTL the secret is read again", 31*time.Second, "two", 2)
	sm.value = `{"username":"app","password":"three","host":"h"}`
	c.markStale()
	step("a failure within the gap waits", time.Second, "two", 2)
	step("a failure after the gap reads again", 5*time.Second, "three", 3)
	step("and is then fresh", time.Second, "three", 3)
	sm.err = errors.New("unreachable")
	c.markStale()
	step("an unreachable secret keeps the old credentials", 10*time.Second, "three", 4)
	step("and is not asked again within the gap", time.Second, "three", 4)
	sm.err = nil
	step("after the gap it is asked again", 5*time.Second, "three", 5)

	empty := &secretCache{arn: "arn", sm: &fakeSecrets{err: errors.New("AccessDenied")}, ttl: time.Minute,
		log: slog.Default(), now: time.Now}
	if _, err := empty.get(ctx); err == nil || !strings.Contains(err.Error(), "DATABASE_SECRET_ARN=arn") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("a first read that fails: err = %v", err)
	}
}
