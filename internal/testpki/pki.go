// Package testpki makes certificates for tests: a CA and leaves signed by
// it (ECDSA P-256 or RSA 2048), written as PEM files into a test's
// temporary directory. Keys are made once per test binary (RSA is slow);
// several unrelated CAs are told apart by an index.
package testpki

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
	"strconv"
	"sync"
	"testing"
	"time"
)

// CAs is how many unrelated CAs New can make (its n is 0..CAs-1).
const CAs = 3

// PKI is a CA and the files of what it issued.
type PKI struct {
	T      testing.TB
	Dir    string // where the files go (t.TempDir())
	CACert *x509.Certificate
	CAKey  crypto.Signer
	CAFile string // the CA certificate, PEM
	serial int64
}

var (
	keyOnce  sync.Once
	ecKeys   [CAs + 1]*ecdsa.PrivateKey // one per CA, the last for leaves
	rsaKey   *rsa.PrivateKey
	keyError error
)

func keys(t testing.TB) {
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

// New makes CA number n (0..CAs-1): the CAs of different n do not trust
// each other's leaves.
func New(t testing.TB, n int) *PKI {
	t.Helper()
	keys(t)
	p := &PKI{T: t, Dir: t.TempDir(), CAKey: ecKeys[n], serial: 1}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hotpath test CA " + strconv.Itoa(n)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p.CAKey.Public(), p.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	p.CACert, _ = x509.ParseCertificate(der)
	p.CAFile = p.Write("ca.pem", PEM("CERTIFICATE", der))
	return p
}

// Leaf describes a certificate to issue.
type Leaf struct {
	Name      string // file name stem: Name.pem and Name.key
	CN        string
	DNS       []string
	IPs       []net.IP
	URIs      []string
	RSA       bool      // RSA 2048 instead of ECDSA P-256
	NotBefore time.Time // zero: an hour ago
	NotAfter  time.Time // zero: in a day
	Client    bool      // for client authentication (mTLS) instead of a server
}

// Issue makes a leaf signed by the CA and writes its certificate and key;
// it returns the two file names.
func (p *PKI) Issue(l Leaf) (certFile, keyFile string) {
	p.T.Helper()
	var key crypto.Signer = ecKeys[CAs]
	if l.RSA {
		key = rsaKey
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: l.CN, Organization: []string{"hotpath tests"}},
		DNSNames:     l.DNS,
		IPAddresses:  l.IPs,
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if l.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, u := range l.URIs {
		pu, err := url.Parse(u)
		if err != nil {
			p.T.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CACert, key.Public(), p.CAKey)
	if err != nil {
		p.T.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		p.T.Fatal(err)
	}
	return p.Write(l.Name+".pem", PEM("CERTIFICATE", der)), p.Write(l.Name+".key", PEM("PRIVATE KEY", keyDER))
}

// OtherKey writes a private key that matches no certificate Issue makes.
func (p *PKI) OtherKey(name string) string {
	der, err := x509.MarshalPKCS8PrivateKey(ecKeys[CAs-1])
	if err != nil {
		p.T.Fatal(err)
	}
	return p.Write(name, PEM("PRIVATE KEY", der))
}

// Write writes a file into Dir and returns its name.
func (p *PKI) Write(name string, data []byte) string {
	f := filepath.Join(p.Dir, name)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		p.T.Fatal(err)
	}
	return f
}

// Pool returns a certificate pool holding the CA.
func (p *PKI) Pool() *x509.CertPool {
	cp := x509.NewCertPool()
	cp.AddCert(p.CACert)
	return cp
}

// PEM encodes der as a PEM block of type typ.
func PEM(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
