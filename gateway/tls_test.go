package gateway

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/testpki"
)

// writeCert issues a certificate for name valid until notAfter from a
// test CA, and its key; it returns the two file names.
func writeCert(t *testing.T, _ string, name string, notAfter time.Time) (string, string) {
	t.Helper()
	return testpki.New(t, 0).Issue(testpki.Leaf{Name: name, CN: name, DNS: []string{name},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: notAfter})
}

// TestCheckTLS: hotpath -check loads the certificates, keys and CA files
// of the tls sections and reports each unusable one at its field.
func TestCheckTLS(t *testing.T) {
	dir := t.TempDir()
	good, goodKey := writeCert(t, dir, "good.example.test", time.Now().Add(365*24*time.Hour))
	other, _ := writeCert(t, dir, "other.example.test", time.Now().Add(365*24*time.Hour))
	old, oldKey := writeCert(t, dir, "old.example.test", time.Now().Add(-time.Hour))
	wrongKey := testpki.New(t, 1).OtherKey("wrong.key")
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
		{name: "mismatched-key", cert: good, key: wrongKey, ca: other,
			errs: []string{"listeners[0].tls.certificates[0].key_file@6: " + wrongKey + ": the private key does not match the certificate in " + good}},
		{name: "expired", cert: old, key: oldKey, ca: other,
			errs: []string{"listeners[0].tls.certificates[0].cert_file@5: " + old + ": the certificate (CN=old.example.test,O=hotpath tests) expired on"}},
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
			want := c.errs
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
