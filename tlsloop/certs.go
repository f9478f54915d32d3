package tlsloop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CertFile is one certificate a listener serves: a PEM chain (leaf first,
// then intermediates) and its PEM private key (RSA, ECDSA or Ed25519;
// PKCS #1, SEC 1 or PKCS #8; not encrypted).
type CertFile struct {
	CertFile string
	KeyFile  string
	// ServerNames are the SNI names it serves: exact ("api.example.com")
	// or one-label wildcards ("*.example.com"). Nil means the DNS names
	// of the certificate (its subject alternative names).
	ServerNames []string
	// Default marks the certificate for clients whose SNI matches no
	// name, or that send none (IP literals). Several may be marked: an RSA
	// and an ECDSA certificate of one site, say. When none is, the first
	// certificate is the default, with the certificates that serve
	// exactly its names (its other key types).
	Default bool
}

// ExpiryWarning is how close to its end a certificate may be before
// loading it warns.
const ExpiryWarning = 14 * 24 * time.Hour

// CertInfo describes a loaded certificate, for logs and metrics.
type CertInfo struct {
	File     string
	Names    []string  // the SNI names it serves
	KeyType  string    // "ECDSA P-256", "RSA 2048", "Ed25519"
	NotAfter time.Time // the leaf's expiry
	Default  bool
}

// loadedCert is one certificate ready to serve.
type loadedCert struct {
	cert *tls.Certificate // Leaf set
	info CertInfo
}

// loadCert reads and checks certificate i. An expired leaf is refused:
// clients would refuse it anyway, and refusing it at load keeps the
// previous certificate serving on a reload. Warnings are returned for a
// leaf not valid yet or expiring within ExpiryWarning, a chain whose
// certificates do not sign one another in order, an expired intermediate,
// and a certificate with no names.
func loadCert(i int, f CertFile, now time.Time) (*loadedCert, []string, *LoadError) {
	certErr := func(format string, args ...any) *LoadError {
		return &LoadError{Field: "cert_file", Index: i, File: f.CertFile, Reason: fmt.Sprintf(format, args...)}
	}
	keyErr := func(format string, args ...any) *LoadError {
		return &LoadError{Field: "key_file", Index: i, File: f.KeyFile, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case f.CertFile == "":
		return nil, nil, certErr("is required")
	case f.KeyFile == "":
		return nil, nil, keyErr("is required")
	}
	certPEM, err := os.ReadFile(f.CertFile)
	if err != nil {
		return nil, nil, certErr("cannot read: %v", unwrapPath(err))
	}
	chain, lerr := parseChain(certPEM)
	if lerr != "" {
		return nil, nil, certErr("%s", lerr)
	}
	keyPEM, err := os.ReadFile(f.KeyFile)
	if err != nil {
		return nil, nil, keyErr("cannot read: %v", unwrapPath(err))
	}
	if reason := checkKeyPEM(keyPEM); reason != "" {
		return nil, nil, keyErr("%s", reason)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, nil, keyErr("the private key does not match the certificate in %s", f.CertFile)
		}
		return nil, nil, keyErr("%s", strings.TrimPrefix(err.Error(), "tls: "))
	}
	leaf := chain[0]
	pair.Leaf = leaf
	if now.After(leaf.NotAfter) {
		return nil, nil, certErr("the certificate (%s) expired on %s", leaf.Subject, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	var warns []string
	warn := func(format string, args ...any) {
		warns = append(warns, fmt.Sprintf("certificates[%d].cert_file %s: ", i, f.CertFile)+fmt.Sprintf(format, args...))
	}
	if now.Before(leaf.NotBefore) {
		warn("the certificate is not valid before %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if left := leaf.NotAfter.Sub(now); left < ExpiryWarning {
		warn("the certificate expires in %s, on %s", roundDays(left), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for k := 1; k < len(chain); k++ {
		if chain[k-1].CheckSignatureFrom(chain[k]) != nil {
			warn("certificate %d of the chain is not signed by certificate %d: the chain is out of order or incomplete (leaf first, then each issuer)", k, k+1)
			break
		}
		if now.After(chain[k].NotAfter) {
			warn("certificate %d of the chain (%s) expired on %s", k+1, chain[k].Subject, chain[k].NotAfter.UTC().Format(time.RFC3339))
		}
	}
	names := f.ServerNames
	if names == nil {
		names = leaf.DNSNames
	}
	for k, n := range names {
		if reason := checkServerName(n); reason != "" {
			return nil, nil, &LoadError{Field: "server_names[" + strconv.Itoa(k) + "]", Index: i, File: f.CertFile, Reason: reason}
		}
	}
	if len(names) == 0 {
		warn("the certificate has no DNS names and server_names is empty: it is served only as the default")
	}
	return &loadedCert{cert: &pair, info: CertInfo{
		File:     f.CertFile,
		Names:    lowerAll(names),
		KeyType:  keyType(leaf),
		NotAfter: leaf.NotAfter,
		Default:  f.Default,
	}}, warns, nil
}

// parseChain decodes the CERTIFICATE blocks of a PEM chain, or says why it
// cannot.
func parseChain(data []byte) ([]*x509.Certificate, string) {
	var chain []*x509.Certificate
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, "holds a private key: cert_file is the certificate chain, the key goes in key_file"
			}
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Sprintf("certificate %d: %v", len(chain)+1, strings.TrimPrefix(err.Error(), "x509: "))
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, "no PEM certificate in it (want -----BEGIN CERTIFICATE-----)"
	}
	return chain, ""
}

// checkKeyPEM says what is wrong with a key file that tls.X509KeyPair
// would refuse with a less useful message.
func checkKeyPEM(data []byte) string {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return "no PEM private key in it (want -----BEGIN PRIVATE KEY----- or an RSA/EC variant)"
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY" || block.Headers["Proc-Type"] == "4,ENCRYPTED":
			return "the private key is encrypted: hotpath needs it unencrypted (openssl pkey -in KEY -out KEY.plain)"
		case block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY"):
			return ""
		case block.Type == "CERTIFICATE":
			return "holds a certificate, not a private key"
		}
	}
}

// checkServerName validates one SNI name of server_names.
func checkServerName(n string) string {
	name := strings.TrimPrefix(n, "*.")
	switch {
	case n == "":
		return "empty name"
	case strings.Contains(name, "*"):
		return fmt.Sprintf("%q: a wildcard is only \"*.\" before the other labels (*.example.com)", n)
	case strings.HasPrefix(n, "*.") && !strings.Contains(name, "."):
		return fmt.Sprintf("%q: a wildcard needs at least two labels after it (*.example.com)", n)
	case strings.ContainsAny(name, " /:@\t\r\n") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "."):
		return fmt.Sprintf("%q: not a DNS name", n)
	}
	return ""
}

func keyType(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return "RSA " + strconv.Itoa(k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

func roundDays(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Minute).String()
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " days"
}

func lowerAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = strings.ToLower(n)
	}
	return out
}

// unwrapPath drops the file name from an *os.PathError (the LoadError
// names the file already).
func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// certIndex picks a listener's certificate for a ClientHello: by exact
// SNI name, then by one-label wildcard, then the default; among the
// certificates of a name, the first that the client supports (its
// signature algorithms and cipher suites: RSA or ECDSA), else the first.
// Immutable once built.
type certIndex struct {
	exact map[string][]*tls.Certificate
	wild  map[string][]*tls.Certificate // "*.example.com" under "example.com"
	def   []*tls.Certificate
}

func newCertIndex(certs []*loadedCert) *certIndex {
	x := &certIndex{exact: map[string][]*tls.Certificate{}, wild: map[string][]*tls.Certificate{}}
	for _, c := range certs {
		for _, n := range c.info.Names {
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				x.wild[rest] = append(x.wild[rest], c.cert)
			} else {
				x.exact[n] = append(x.exact[n], c.cert)
			}
		}
		if c.info.Default {
			x.def = append(x.def, c.cert)
		}
	}
	if len(x.def) == 0 {
		first := certs[0]
		for _, c := range certs {
			if c == first || sameNames(c.info.Names, first.info.Names) {
				x.def = append(x.def, c.cert)
				c.info.Default = true
			}
		}
	}
	return x
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// get is tls.Config.GetCertificate.
func (x *certIndex) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return pick(hello, x.lookup(hello.ServerName)), nil
}

// lookup returns the certificates that serve name.
func (x *certIndex) lookup(name string) []*tls.Certificate {
	if name == "" {
		return x.def
	}
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if c := x.exact[name]; len(c) > 0 {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if c := x.wild[name[i+1:]]; len(c) > 0 {
			return c
		}
	}
	return x.def
}

// pick returns the first of certs the client supports, else the first
// (the handshake then fails with the client's own alert, which says why).
func pick(hello *tls.ClientHelloInfo, certs []*tls.Certificate) *tls.Certificate {
	if len(certs) > 1 {
		for _, c := range certs {
			if hello.SupportsCertificate(c) == nil {
				return c
			}
		}
	}
	return certs[0]
}
