package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// SecretGetter is the part of the Secrets Manager client ResolveURL uses.
type SecretGetter interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ResolveURL returns DATABASE_URL, or builds the URL from the Secrets Manager
// secret named by DATABASE_SECRET_ARN (a URL string, or the JSON that RDS
// keeps: username, password, host, port, dbname). sm may be nil: a client is
// then made from the default AWS configuration.
func ResolveURL(ctx context.Context, getenv func(string) string, sm SecretGetter) (string, error) {
	if u := getenv("DATABASE_URL"); u != "" {
		return u, nil
	}
	arn := getenv("DATABASE_SECRET_ARN")
	if arn == "" {
		return "", errors.New("set DATABASE_URL or DATABASE_SECRET_ARN")
	}
	if sm == nil {
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return "", fmt.Errorf("load AWS config: %w", err)
		}
		sm = secretsmanager.NewFromConfig(cfg)
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read secret DATABASE_SECRET_ARN=%s: %w", arn, err)
	}
	u, err := URLFromSecret(aws.ToString(out.SecretString))
	if err != nil {
		return "", fmt.Errorf("secret DATABASE_SECRET_ARN=%s: %w", arn, err)
	}
	return u, nil
}

// URLFromSecret turns a secret's string into a connection URL.
func URLFromSecret(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		return s, nil
	}
	var v struct {
		Username string          `json:"username"`
		Password string          `json:"password"`
		Host     string          `json:"host"`
		Port     json.RawMessage `json:"port"` // RDS writes a number; people write strings
		DBName   string          `json:"dbname"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return "", errors.New("neither a postgres:// URL nor JSON with username, password, host, port, dbname")
	}
	if v.Username == "" || v.Host == "" {
		return "", errors.New("JSON secret lacks username or host")
	}
	port := strings.Trim(string(v.Port), `"`)
	if port == "" {
		port = "5432"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("port %s is not a number", v.Port)
	}
	if v.DBName == "" {
		v.DBName = "postgres"
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(v.Username, v.Password), Host: v.Host + ":" + port,
		Path: "/" + v.DBName, RawQuery: "sslmode=require"}
	return u.String(), nil
}
