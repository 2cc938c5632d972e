package db_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/patientsync/patientsync/internal/db"
)

const rdsURL = "postgres://app:s3cret@mydb.cluster-abc.eu-west-1.rds.amazonaws.com:5432/ps"

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	rootCert := filepath.Join("rds-global-bundle.pem") // any real PEM file
	arn := "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
	tests := []struct {
		name string
		env  map[string]string
		role db.Role
		want db.Config // the fields compared: Host, Port, HostVar, SecretTTL, IAMAuth, User, SSLMode, SSLRootCert
		err  string
	}{
		{name: "nothing", env: map[string]string{}, err: "set DATABASE_URL or DATABASE_SECRET_ARN"},
		{name: "url", env: map[string]string{"DATABASE_URL": rdsURL}, want: db.Config{SecretTTL: 10 * time.Minute}},
		{name: "secret", env: map[string]string{"DATABASE_SECRET_ARN": arn}, want: db.Config{SecretTTL: 10 * time.Minute}},
		{name: "junk url hides its password", env: map[string]string{"DATABASE_URL": "postgres://app:s3cret@h:port/db"}, err: "DATABASE_URL"},
		{name: "ttl", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SECRET_TTL": "90s"}, want: db.Config{SecretTTL: 90 * time.Second}},
		{name: "ttl NaN", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SECRET_TTL": "NaN"}, err: `DATABASE_SECRET_TTL="NaN": want a duration`},
		{name: "ttl no unit", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SECRET_TTL": "600"}, err: `DATABASE_SECRET_TTL="600"`},
		{name: "ttl negative", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SECRET_TTL": "-1m"}, err: `DATABASE_SECRET_TTL="-1m"`},
		{name: "ttl too short", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SECRET_TTL": "10ms"}, err: `DATABASE_SECRET_TTL="10ms"`},
		{name: "host", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "proxy.example"},
			want: db.Config{Host: "proxy.example", HostVar: "DATABASE_HOST", SecretTTL: 10 * time.Minute}},
		{name: "host:port", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "proxy.example:6432"},
			want: db.Config{Host: "proxy.example", Port: 6432, HostVar: "DATABASE_HOST", SecretTTL: 10 * time.Minute}},
		{name: "[v6]:port", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "[::1]:6432"},
			want: db.Config{Host: "::1", Port: 6432, HostVar: "DATABASE_HOST", SecretTTL: 10 * time.Minute}},
		{name: "host port 0", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "h:0"}, err: `DATABASE_HOST="h:0": want host or host:port`},
		{name: "host port too big", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "h:70000"}, err: `DATABASE_HOST="h:70000"`},
		{name: "host port junk", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "h:NaN"}, err: `DATABASE_HOST="h:NaN"`},
		{name: "host list", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "a,b"}, err: `DATABASE_HOST="a,b"`},
		{name: "host url", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "postgres://h/db"}, err: `DATABASE_HOST="postgres://h/db"`},
		{name: "query host for the reader", role: db.Reader,
			env:  map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "proxy.example", "DATABASE_QUERY_HOST": "reader.example:5433"},
			want: db.Config{Host: "reader.example", Port: 5433, HostVar: "DATABASE_QUERY_HOST", SecretTTL: 10 * time.Minute}},
		{name: "no query host for a writer", role: db.Writer,
			env:  map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "proxy.example", "DATABASE_QUERY_HOST": "reader.example:5433"},
			want: db.Config{Host: "proxy.example", HostVar: "DATABASE_HOST", SecretTTL: 10 * time.Minute}},
		{name: "reader without query host", role: db.Reader,
			env:  map[string]string{"DATABASE_URL": rdsURL, "DATABASE_HOST": "proxy.example"},
			want: db.Config{Host: "proxy.example", HostVar: "DATABASE_HOST", SecretTTL: 10 * time.Minute}},
		{name: "bad query host", role: db.Reader, env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_QUERY_HOST": "r:x"}, err: `DATABASE_QUERY_HOST="r:x"`},
		{name: "bad query host ignored by a writer", role: db.Writer, env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_QUERY_HOST": "r:x"},
			want: db.Config{SecretTTL: 10 * time.Minute}},
		{name: "sslmode", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_SSLMODE": "verify-ca"},
			want: db.Config{SSLMode: "verify-ca", SecretTTL: 10 * time.Minute}},
		{name: "sslmode typo", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_SSLMODE": "verfy-full"},
			err: `DATABASE_SSLMODE="verfy-full": want one of disable, allow, prefer, require, verify-ca, verify-full`},
		{name: "sslrootcert", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SSLROOTCERT": rootCert},
			want: db.Config{SSLRootCert: rootCert, SecretTTL: 10 * time.Minute}},
		{name: "sslrootcert missing", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SSLROOTCERT": filepath.Join(dir, "none.pem")},
			err: `DATABASE_SSLROOTCERT="` + filepath.Join(dir, "none.pem") + `": open`},
		{name: "sslrootcert not PEM", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SSLROOTCERT": notPEM},
			err: `DATABASE_SSLROOTCERT="` + notPEM + `": no PEM certificate`},
		{name: "sslrootcert without verification", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_SSLROOTCERT": rootCert, "DATABASE_SSLMODE": "disable"},
			err: `DATABASE_SSLMODE="disable" does not verify`},
		{name: "iam", env: map[string]string{"DATABASE_URL": rdsURL + "?sslmode=verify-full", "DATABASE_IAM_AUTH": "true"},
			want: db.Config{IAMAuth: true, SecretTTL: 10 * time.Minute}},
		{name: "iam off", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_IAM_AUTH": "false"},
			want: db.Config{SecretTTL: 10 * time.Minute}},
		{name: "iam junk", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_IAM_AUTH": "yes"}, err: `DATABASE_IAM_AUTH="yes": want true or false`},
		{name: "iam with a secret defaults to verify-full", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_IAM_AUTH": "1", "DATABASE_USER": "iam_app"},
			want: db.Config{IAMAuth: true, User: "iam_app", SecretTTL: 10 * time.Minute}},
		{name: "iam and sslmode require", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_IAM_AUTH": "true", "DATABASE_SSLMODE": "require"},
			want: db.Config{IAMAuth: true, SSLMode: "require", SecretTTL: 10 * time.Minute}},
		{name: "iam refuses prefer", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_IAM_AUTH": "true", "DATABASE_SSLMODE": "prefer"},
			err: `DATABASE_IAM_AUTH=true needs TLS, and DATABASE_SSLMODE="prefer" does not require it`},
		{name: "iam refuses disable", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_IAM_AUTH": "true", "DATABASE_SSLMODE": "disable"},
			err: `DATABASE_SSLMODE="disable" does not require it`},
		{name: "iam refuses allow", env: map[string]string{"DATABASE_SECRET_ARN": arn, "DATABASE_IAM_AUTH": "true", "DATABASE_SSLMODE": "allow"},
			err: `DATABASE_SSLMODE="allow" does not require it`},
		{name: "iam refuses the url's default prefer", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_IAM_AUTH": "true"},
			err: "DATABASE_IAM_AUTH=true needs TLS, and DATABASE_URL's sslmode"},
		{name: "iam refuses the url's disable", env: map[string]string{"DATABASE_URL": rdsURL + "?sslmode=disable", "DATABASE_IAM_AUTH": "true"},
			err: "DATABASE_URL's sslmode"},
		{name: "user without iam", env: map[string]string{"DATABASE_URL": rdsURL, "DATABASE_USER": "x"}, err: `DATABASE_USER="x": only used with DATABASE_IAM_AUTH=true`},
	}
	for _, tt := range tests {
		got, err := db.ConfigFromEnv(func(k string) string { return tt.env[k] }, tt.role)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
			} else if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: the error shows the password: %v", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.URL != tt.env["DATABASE_URL"] || got.SecretARN != tt.env["DATABASE_SECRET_ARN"] {
			t.Errorf("%s: URL %q, SecretARN %q: want the environment's", tt.name, got.URL, got.SecretARN)
		}
		got.URL, got.SecretARN = "", ""
		if got != tt.want {
			t.Errorf("%s: got %+v\nwant %+v", tt.name, got, tt.want)
		}
	}
}

// staticSecret serves one secret string.
type staticSecret string

func (s staticSecret) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String(string(s))}, nil
}

// What a connection is given: the host, port, user, password and TLS that
// the URL or the secret and the overrides make, after BeforeConnect.
func TestPoolConfig(t *testing.T) {
	t.Parallel()
	const rdsHost = "mydb.cluster-abc.eu-west-1.rds.amazonaws.com"
	jsonSecret := staticSecret(`{"username":"app","password":"pw","host":"` + rdsHost + `","port":5432,"dbname":"ps"}`)
	type tlsWant int
	const (
		noTLS tlsWant = iota
		unverified
		verifyFull // against the system roots and the RDS bundle
		verifyCA
	)
	tests := []struct {
		name        string
		env         map[string]string
		role        db.Role
		secret      db.SecretGetter
		host        string
		port        uint16
		user, pw    string
		database    string
		tls         tlsWant
		serverName  string
		plainToo    bool // a fallback without TLS (prefer)
		wantErrPart string
	}{
		{name: "secret: verify-full by default", env: map[string]string{"DATABASE_SECRET_ARN": "arn"}, secret: jsonSecret,
			host: rdsHost, port: 5432, user: "app", pw: "pw", database: "ps", tls: verifyFull, serverName: rdsHost},
		{name: "secret with the proxy host", env: map[string]string{"DATABASE_SECRET_ARN": "arn", "DATABASE_HOST": "proxy.example:6432"}, secret: jsonSecret,
			host: "proxy.example", port: 6432, user: "app", pw: "pw", database: "ps", tls: verifyFull, serverName: "proxy.example"},
		{name: "secret, reader host", role: db.Reader, env: map[string]string{"DATABASE_SECRET_ARN": "arn", "DATABASE_HOST": "proxy.example", "DATABASE_QUERY_HOST": "reader.example"}, secret: jsonSecret,
			host: "reader.example", port: 5432, user: "app", pw: "pw", database: "ps", tls: verifyFull, serverName: "reader.example"},
		{name: "secret, sslmode require", env: map[string]string{"DATABASE_SECRET_ARN": "arn", "DATABASE_SSLMODE": "require"}, secret: jsonSecret,
			host: rdsHost, port: 5432, user: "app", pw: "pw", database: "ps", tls: unverified},
		{name: "secret, sslmode verify-ca", env: map[string]string{"DATABASE_SECRET_ARN": "arn", "DATABASE_SSLMODE": "verify-ca"}, secret: jsonSecret,
			host: rdsHost, port: 5432, user: "app", pw: "pw", database: "ps", tls: verifyCA},
		{name: "URL secret keeps its sslmode", env: map[string]string{"DATABASE_SECRET_ARN": "arn"},
			secret: staticSecret("postgres://u:p%40w@10.0.0.9:6543/d?sslmode=disable"),
			host:   "10.0.0.9", port: 6543, user: "u", pw: "p@w", database: "d", tls: noTLS},
		{name: "url as it is", env: map[string]string{"DATABASE_URL": rdsURL + "?sslmode=require"},
			host: rdsHost, port: 5432, user: "app", pw: "s3cret", database: "ps", tls: unverified},
		{name: "url keeps pgx's default prefer", env: map[string]string{"DATABASE_URL": rdsURL},
			host: rdsHost, port: 5432, user: "app", pw: "s3cret", database: "ps", tls: unverified, plainToo: true},
		{name: "url verify-full gets the RDS roots and the overridden host", env: map[string]string{"DATABASE_URL": rdsURL + "?sslmode=verify-full", "DATABASE_HOST": "proxy.example"},
			host: "proxy.example", port: 5432, user: "app", pw: "s3cret", database: "ps", tls: verifyFull, serverName: "proxy.example"},
		{name: "sslmode override", env: map[string]string{"DATABASE_URL": rdsURL + "?sslmode=disable", "DATABASE_SSLMODE": "verify-full"},
			host: rdsHost, port: 5432, user: "app", pw: "s3cret", database: "ps", tls: verifyFull, serverName: rdsHost},
		{name: "keyword/value string", env: map[string]string{"DATABASE_URL": "host=a.example user=app password='it\\'s' dbname=ps", "DATABASE_HOST": "b.example:7000", "DATABASE_SSLMODE": "disable"},
			host: "b.example", port: 7000, user: "app", pw: "it's", database: "ps", tls: noTLS},
		{name: "URL secret refusing TLS with IAM", env: map[string]string{"DATABASE_SECRET_ARN": "arn", "DATABASE_IAM_AUTH": "true"},
			secret:      staticSecret("postgres://u@h/d?sslmode=prefer"),
			wantErrPart: "DATABASE_IAM_AUTH=true needs TLS, and the sslmode of the secret DATABASE_SECRET_ARN=arn does not require it"},
	}
	for _, tt := range tests {
		cfg, err := db.ConfigFromEnv(func(k string) string { return tt.env[k] }, tt.role)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		cfg.Secrets = tt.secret
		cfg.AWS = &aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")}
		pc, err := cfg.PoolConfig(context.Background(), db.Options{AppName: "test"})
		if tt.wantErrPart != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErrPart) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErrPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		cc := pc.ConnConfig.Copy()
		if pc.BeforeConnect != nil {
			if err := pc.BeforeConnect(context.Background(), cc); err != nil {
				t.Errorf("%s: BeforeConnect: %v", tt.name, err)
				continue
			}
		}
		if cc.Host != tt.host || cc.Port != tt.port || cc.User != tt.user || cc.Password != tt.pw || cc.Database != tt.database {
			t.Errorf("%s: %s:%d user %q password %q database %q; want %s:%d %q %q %q", tt.name,
				cc.Host, cc.Port, cc.User, cc.Password, cc.Database, tt.host, tt.port, tt.user, tt.pw, tt.database)
		}
		if cc.RuntimeParams["application_name"] != "test" {
			t.Errorf("%s: the options were not applied: %v", tt.name, cc.RuntimeParams)
		}
		checkTLS(t, tt.name, cc, tt.tls == noTLS, tt.tls == unverified, tt.tls == verifyFull, tt.tls == verifyCA, tt.serverName)
		if plain := len(cc.Fallbacks) > 0 && cc.Fallbacks[len(cc.Fallbacks)-1].TLSConfig == nil; plain != tt.plainToo {
			t.Errorf("%s: a fallback without TLS: %v, want %v", tt.name, plain, tt.plainToo)
		}
	}
}

func checkTLS(t *testing.T, name string, cc *pgx.ConnConfig, none, unverified, full, ca bool, serverName string) {
	t.Helper()
	tc := cc.TLSConfig
	switch {
	case none:
		if tc != nil {
			t.Errorf("%s: TLS configured, want none", name)
		}
	case tc == nil:
		t.Errorf("%s: no TLS", name)
	case unverified:
		if !tc.InsecureSkipVerify || tc.VerifyPeerCertificate != nil {
			t.Errorf("%s: the server's certificate is verified, want sslmode require", name)
		}
	case full:
		if tc.InsecureSkipVerify || tc.RootCAs == nil || tc.ServerName != serverName {
			t.Errorf("%s: InsecureSkipVerify %v, roots %v, ServerName %q; want verify-full of %q against the default roots",
				name, tc.InsecureSkipVerify, tc.RootCAs != nil, tc.ServerName, serverName)
		}
	case ca:
		if !tc.InsecureSkipVerify || tc.VerifyPeerCertificate == nil {
			t.Errorf("%s: want verify-ca", name)
		}
	}
}

// The IAM auth token is built per connection, for the endpoint connected to
// (the reader's for a reader), and is the password.
func TestIAMAuthToken(t *testing.T) {
	t.Parallel()
	const writer = "mydb.cluster-abc.eu-west-1.rds.amazonaws.com"
	const reader = "mydb.cluster-ro-abc.eu-west-1.rds.amazonaws.com"
	env := map[string]string{"DATABASE_URL": "postgres://iam_app@" + writer + "/ps?sslmode=verify-full",
		"DATABASE_IAM_AUTH": "true", "DATABASE_QUERY_HOST": reader + ":5433"}
	for _, tt := range []struct {
		name     string
		role     db.Role
		user     string
		endpoint string
	}{
		{"writer", db.Writer, "", writer + ":5432"},
		{"reader", db.Reader, "", reader + ":5433"},
		{"DATABASE_USER", db.Writer, "other", writer + ":5432"},
	} {
		e := map[string]string{"DATABASE_USER": tt.user}
		cfg, err := db.ConfigFromEnv(func(k string) string {
			if v, ok := e[k]; ok {
				return v
			}
			return env[k]
		}, tt.role)
		if err != nil {
			t.Fatal(err)
		}
		cfg.AWS = &aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI", "")}
		pc, err := cfg.PoolConfig(context.Background(), db.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		cc := pc.ConnConfig.Copy()
		if err := pc.BeforeConnect(context.Background(), cc); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		wantUser := tt.user
		if wantUser == "" {
			wantUser = "iam_app"
		}
		u, err := url.Parse("https://" + cc.Password)
		if err != nil {
			t.Fatalf("%s: the password is no token: %v", tt.name, err)
		}
		q := u.Query()
		if u.Host != tt.endpoint || q.Get("Action") != "connect" || q.Get("DBUser") != wantUser || q.Get("X-Amz-Signature") == "" ||
			!strings.HasPrefix(q.Get("X-Amz-Credential"), "AKIDEXAMPLE/") || !strings.HasSuffix(q.Get("X-Amz-Credential"), "/eu-west-1/rds-db/aws4_request") {
			t.Errorf("%s: token %s: want one for %s, user %s, signed for eu-west-1 rds-db", tt.name, cc.Password, tt.endpoint, wantUser)
		}
		if cc.User != wantUser || cc.TLSConfig == nil || cc.TLSConfig.InsecureSkipVerify {
			t.Errorf("%s: user %q, TLS %v: want %q over verified TLS", tt.name, cc.User, cc.TLSConfig != nil, wantUser)
		}
		// A second connection gets a token of its own.
		cc2 := pc.ConnConfig.Copy()
		if err := pc.BeforeConnect(context.Background(), cc2); err != nil || cc2.Password == "" {
			t.Errorf("%s: second connection: %v", tt.name, err)
		}
	}

	cfg, err := db.ConfigFromEnv(func(k string) string { return env[k] }, db.Writer)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AWS = &aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "x", "")}
	if _, err := cfg.PoolConfig(context.Background(), db.Options{}); err == nil || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Errorf("no region: err = %v, want one naming AWS_REGION", err)
	}
}
