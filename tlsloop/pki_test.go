package tlsloop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// pki makes certificates for tests: a CA and leaves signed by it, written
// as PEM files into a temporary directory.
type pki struct {
	t      testing.TB
	dir    string
	caCert *x509.Certificate
	caKey  crypto.Signer
	caFile string
	serial int64
}

// Keys are slow to make (RSA above all): one of each kind per test binary.
var (
	keyOnce  sync.Once
	ecKeys   [4]*ecdsa.PrivateKey
	rsaKey   *rsa.PrivateKey
	keyError error
)

func testKeys(t testing.TB) {
	keyOnce.Do(func() {
		for i := range ecKeys {
			if ecKeys[i], keyError = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); keyError != nil {
				return
			}
		}
		rsaKey, keyError = rsa.GenerateKey(rand.Reader, 2048)
	})
	if keyError != nil {
		t.Fatal(keyError)
	}
}

// newPKI makes a CA whose key is ecKeys[n] (n selects one of several
// unrelated CAs).
func newPKI(t testing.TB, n int) *pki {
	testKeys(t)
	p := &pki{t: t, dir: t.TempDir(), caKey: ecKeys[n], serial: 1}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hotpath test CA " + string(rune('A'+n))},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p.caKey.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.caCert, _ = x509.ParseCertificate(der)
	p.caFile = p.write("ca.pem", pemBlock("CERTIFICATE", der))
	return p
}

// leaf describes a certificate to make.
type leaf struct {
	name      string // file name stem
	cn        string
	dns       []string
	ips       []net.IP
	uris      []string
	rsa       bool      // RSA 2048 instead of ECDSA P-256
	notBefore time.Time // zero: an hour ago
	notAfter  time.Time // zero: in a day
	client    bool      // client auth usage
}

// issue makes a leaf and writes name.pem and name.key; it returns the file
// names.
func (p *pki) issue(l leaf) (certFile, keyFile string) {
	var key crypto.Signer = ecKeys[3]
	if l.rsa {
		key = rsaKey
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: l.cn, Organization: []string{"hotpath tests"}},
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
		NotBefore:    l.notBefore,
		NotAfter:     l.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if l.client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, u := range l.uris {
		pu, err := url.Parse(u)
		if err != nil {
			p.t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, key.Public(), p.caKey)
	if err != nil {
		p.t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(l.name+".pem", pemBlock("CERTIFICATE", der)), p.write(l.name+".key", pemBlock("PRIVATE KEY", keyDER))
}

// otherKey writes a key that matches no certificate.
func (p *pki) otherKey(name string) string {
	der, err := x509.MarshalPKCS8PrivateKey(ecKeys[2])
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name, pemBlock("PRIVATE KEY", der))
}

func (p *pki) write(name string, data []byte) string {
	f := filepath.Join(p.dir, name)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return f
}

// pool returns a cert pool holding the CA.
func (p *pki) pool() *x509.CertPool {
	cp := x509.NewCertPool()
	cp.AddCert(p.caCert)
	return cp
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
