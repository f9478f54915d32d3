package tlsloop_test

import (
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/testpki"
)

// pki is package testpki's CA under the names these tests use.
type pki struct {
	*testpki.PKI
	dir    string
	caFile string
	caCert *x509.Certificate
}

// newPKI makes CA number n (several unrelated CAs).
func newPKI(t testing.TB, n int) *pki {
	p := testpki.New(t, n)
	return &pki{PKI: p, dir: p.Dir, caFile: p.CAFile, caCert: p.CACert}
}

// leaf describes a certificate to make (testpki.Leaf).
type leaf struct {
	name      string
	cn        string
	dns       []string
	ips       []net.IP
	uris      []string
	rsa       bool
	notBefore time.Time
	notAfter  time.Time
	client    bool
}

func (p *pki) issue(l leaf) (certFile, keyFile string) {
	return p.Issue(testpki.Leaf{Name: l.name, CN: l.cn, DNS: l.dns, IPs: l.ips, URIs: l.uris, RSA: l.rsa,
		NotBefore: l.notBefore, NotAfter: l.notAfter, Client: l.client})
}

func (p *pki) otherKey(name string) string           { return p.OtherKey(name) }
func (p *pki) write(name string, data []byte) string { return p.Write(name, data) }
func (p *pki) pool() *x509.CertPool                  { return p.Pool() }
