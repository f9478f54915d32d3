package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// tlsLoad are hotload's flags for the TLS scenarios: the contenders'
// certificate is self-signed, and X25519 is the only group (Go's client
// would offer the X25519MLKEM768 hybrid first).
var tlsLoad = []string{"--insecure", "--tls-version", "1.3", "--tls-curves", "x25519"}

// siteTLS is the certificate every contender serves in a TLS scenario.
type siteTLS struct {
	Cert, Key string // PEM files
	Combined  string // both in one file (HAProxy's crt)
}

// scheme is the scenario's URL scheme.
func scheme(s Scenario) string {
	if s.TLS {
		return "https"
	}
	return "http"
}

// featureNames names what s asks of the contenders beyond proxying.
func featureNames(s Scenario) string {
	names := s.Features.names()
	if s.TLS {
		if names != "" {
			names += ", "
		}
		names += "tls"
	}
	return names
}

// probeTLS is the probe's TLS config: the certificate is self-signed.
func probeTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
}

// tlsSite returns the certificate of a TLS scenario (nil for the others):
// one ECDSA P-256 certificate for the run, made on first use in the
// scratch directory.
func (h *harness) tlsSite(s Scenario) (*siteTLS, error) {
	if !s.TLS {
		return nil, nil
	}
	dir := filepath.Join(h.scratch, "tls")
	st := &siteTLS{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), Combined: filepath.Join(dir, "combined.pem")}
	if _, err := os.Stat(st.Combined); err == nil {
		return st, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench.hotpath.test"}, DNSNames: []string{"bench.hotpath.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for f, data := range map[string][]byte{st.Cert: certPEM, st.Key: keyPEM, st.Combined: append(certPEM, keyPEM...)} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			return nil, err
		}
	}
	return st, nil
}
