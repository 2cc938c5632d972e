package db

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"testing"
)

// The embedded bundle is the one AWS publishes (its digest and size), and
// holds the RDS roots, each self-signed.
func TestRDSGlobalBundle(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256(rdsGlobalBundle)
	if got := hex.EncodeToString(sum[:]); got != "fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f" {
		t.Logf("rds-global-bundle.pem changed (sha256 %s): update the digest in rdsca.go and here after checking its source", got)
		t.Fail()
	}
	rest := rdsGlobalBundle
	subjects := map[string]*x509.Certificate{}
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		subjects[c.Subject.CommonName] = c
	}
	if len(subjects) != 115 {
		t.Errorf("%d certificates, want 115", len(subjects))
	}
	for _, cn := range []string{"Amazon RDS Root 2019 CA", "Amazon RDS us-east-1 Root CA RSA2048 G1",
		"Amazon RDS eu-central-1 Root CA ECC384 G1", "Amazon RDS us-west-2 Root CA RSA4096 G1"} {
		c, ok := subjects[cn]
		if !ok {
			t.Errorf("no %q in the bundle", cn)
			continue
		}
		if err := c.CheckSignatureFrom(c); err != nil || c.Subject.String() != c.Issuer.String() {
			t.Errorf("%q is not a self-signed root: %v", cn, err)
		}
	}
	// The default roots trust an RDS root (valid until 2061).
	pool, err := defaultRoots()
	if err != nil {
		t.Fatalf("defaultRoots: %v", err)
	}
	if _, err := subjects["Amazon RDS us-east-1 Root CA RSA2048 G1"].Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("the default roots do not trust the RDS roots: %v", err)
	}
}
