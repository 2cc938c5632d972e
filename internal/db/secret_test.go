package db_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/patientsync/patientsync/internal/db"
)

func TestURLFromSecret(t *testing.T) {
	t.Parallel()
	tests := []struct{ secret, want, err string }{
		{"postgres://u:p@h:5432/d", "postgres://u:p@h:5432/d", ""},
		{`{"username":"app","password":"p@ss/w","host":"db.example","port":5432,"dbname":"ps","engine":"postgres"}`,
			"postgres://app:p%40ss%2Fw@db.example:5432/ps?sslmode=require", ""},
		{`{"username":"app","password":"x","host":"h","port":"6432"}`, "postgres://app:x@h:6432/postgres?sslmode=require", ""},
		{`{"password":"x"}`, "", "lacks username"},
		{`not json`, "", "neither"},
		{`{"username":"a","host":"h","port":"x"}`, "", "not a number"},
	}
	for _, tt := range tests {
		got, err := db.URLFromSecret(tt.secret)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.secret, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.secret, got, err, tt.want)
		}
	}
}

// ResolveURL through the real Secrets Manager client against a loopback
// endpoint speaking its JSON protocol.
func TestResolveURLFromSecretsManager(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		_ = json.Unmarshal(body, &in)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" || in.SecretId != arn {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"no such secret"}`))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]string{"ARN": arn, "SecretString": `{"username":"app","password":"pw","host":"db","port":5432,"dbname":"ps"}`})
	}))
	defer srv.Close()
	sm := secretsmanager.New(secretsmanager.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	env := map[string]string{"DATABASE_SECRET_ARN": arn}
	got, err := db.ResolveURL(context.Background(), func(k string) string { return env[k] }, sm)
	if err != nil || got != "postgres://app:pw@db:5432/ps?sslmode=require" {
		t.Fatalf("got %q, %v", got, err)
	}
	env["DATABASE_SECRET_ARN"] = arn + "x"
	if _, err := db.ResolveURL(context.Background(), func(k string) string { return env[k] }, sm); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Fatalf("missing secret: err = %v", err)
	}
	env = map[string]string{"DATABASE_URL": "postgres://x"}
	if got, _ := db.ResolveURL(context.Background(), func(k string) string { return env[k] }, sm); got != "postgres://x" {
		t.Fatalf("DATABASE_URL must win, got %q", got)
	}
	if _, err := db.ResolveURL(context.Background(), func(string) string { return "" }, sm); err == nil {
		t.Fatal("no configuration must be an error")
	}
}
