package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
)

// writeCert writes a self-signed ECDSA certificate for name valid until
// notAfter, and its key; it returns the two file names.
func writeCert(t *testing.T, dir, name string, notAfter time.Time) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestCheckTLS: hotpath -check loads the certificates, keys and CA files
// of the tls sections and reports each unusable one at its field.
func TestCheckTLS(t *testing.T) {
	dir := t.TempDir()
	good, goodKey := writeCert(t, dir, "good.example.test", time.Now().Add(365*24*time.Hour))
	other, _ := writeCert(t, dir, "other.example.test", time.Now().Add(365*24*time.Hour))
	old, oldKey := writeCert(t, dir, "old.example.test", time.Now().Add(-time.Hour))
	soon, soonKey := writeCert(t, dir, "soon.example.test", time.Now().Add(72*time.Hour))
	write := func(body string) string {
		p := filepath.Join(dir, "hotpath.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const tmpl = `listeners:
  - address: 127.0.0.1:0
    tls:
      certificates:
        - cert_file: %s
          key_file: %s
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:1"}]
    tls:
      ca_file: %s
routes:
  - {path: /, upstream: app}
`
	for _, c := range []struct {
		name          string
		cert, key, ca string
		errs          []string // "path@line: substring"
		warn          string
	}{
		{name: "good", cert: good, key: goodKey, ca: other},
		{name: "mismatched-key", cert: good, key: oldKey, ca: other,
			errs: []string{"listeners[0].tls.certificates[0].key_file@6: " + oldKey + ": the private key does not match the certificate in " + good}},
		{name: "expired", cert: old, key: oldKey, ca: other,
			errs: []string{"listeners[0].tls.certificates[0].cert_file@5: " + old + ": the certificate (CN=old.example.test) expired on"}},
		{name: "missing-ca", cert: good, key: goodKey, ca: filepath.Join(dir, "none.pem"),
			errs: []string{"upstreams[0].tls.ca_file@11: " + filepath.Join(dir, "none.pem") + ": cannot read: no such file or directory"}},
		{name: "expiring-soon", cert: soon, key: soonKey, ca: other, warn: "listeners[0].tls@4: warning: certificates[0].cert_file " + soon + ": the certificate expires in"},
	} {
		t.Run(c.name, func(t *testing.T) {
			warnings, err := CheckFile(write(fmt.Sprintf(tmpl, c.cert, c.key, c.ca)))
			var errs config.Errors
			if err != nil && !errors.As(err, &errs) {
				t.Fatal(err)
			}
			// Until the engine serves TLS, -check says so too (last: its
			// line is the highest).
			want := append(c.errs[:len(c.errs):len(c.errs)], "listeners[0].tls@4: HTTPS is not served", "upstreams[0].tls@11: TLS to upstreams is not")
			sort.SliceStable(want, func(i, j int) bool { return lineOf(want[i]) < lineOf(want[j]) })
			if len(errs) != len(want) {
				t.Fatalf("errors:\n%v\nwant %d", err, len(want))
			}
			for i, want := range want {
				if got := fmt.Sprintf("%s@%d: %s", errs[i].Path, errs[i].Line, errs[i].Msg); !strings.HasPrefix(got, want) {
					t.Errorf("got  %s\nwant %s...", got, want)
				}
			}
			var ws []string
			for _, w := range warnings {
				if strings.Contains(w.Path, "tls") {
					ws = append(ws, fmt.Sprintf("%s@%d: %s", w.Path, w.Line, w.Msg))
				}
			}
			switch {
			case c.warn == "" && len(ws) > 0:
				t.Errorf("warnings %q", ws)
			case c.warn != "" && (len(ws) != 1 || !strings.HasPrefix(ws[0], c.warn)):
				t.Errorf("warnings %q, want %s...", ws, c.warn)
			}
		})
	}
}

// TestRefuseTLS: until the engine serves TLS, a config with a tls section
// does not start (it would serve plain HTTP on an HTTPS listener).
func TestRefuseTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir, "a.example.test", time.Now().Add(24*time.Hour))
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`listeners:
  - address: 127.0.0.1:0
    tls: {certificates: [{cert_file: %s, key_file: %s}]}
`, cert, key)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	var errs config.Errors
	if !errors.As(err, &errs) || errs[0].Path != "listeners[0].tls" || !strings.Contains(errs[0].Msg, "issue 13") {
		t.Fatalf("New: %v", err)
	}
}

// lineOf returns the line of a "path@line: message" expectation.
func lineOf(s string) int {
	_, rest, _ := strings.Cut(s, "@")
	n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ':')])
	return n
}
