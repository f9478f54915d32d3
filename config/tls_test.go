package config

import (
	"crypto/tls"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestTLSSectionsParse(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
listeners:
  - address: 127.0.0.1:8443
    tls:
      certificates:
        - {cert_file: ec.pem, key_file: ec.key}
        - {cert_file: rsa.pem, key_file: rsa.key, server_names: ["*.example.com"], default: true}
      min_version: "1.3"
      curves: [x25519, P256]
      alpn: [h2, http/1.1]
      client_auth: optional
      client_ca_file: clients.pem
      max_handshakes: 64
upstreams:
  - name: app
    endpoints: [{address: "app.internal:443"}]
    tls: {ca_file: ca.pem, cert_file: gw.pem, key_file: gw.key}
  - name: plain
    endpoints: [{address: "127.0.0.1:1"}]
    tls: {}
routes:
  - {path: /, upstream: app}
`))
	if err != nil {
		t.Fatal(err)
	}
	lt := c.Listeners[0].TLS
	if len(lt.Certificates) != 2 || lt.Certificates[1].ServerNames[0] != "*.example.com" || !lt.Certificates[1].Default {
		t.Errorf("certificates %+v", lt.Certificates)
	}
	if TLSVersion(lt.MinVersion) != tls.VersionTLS13 || TLSVersion(lt.MaxVersion) != tls.VersionTLS13 {
		t.Errorf("versions %q %q", lt.MinVersion, lt.MaxVersion)
	}
	if ids := Curves(lt.Curves); len(ids) != 2 || ids[0] != tls.X25519 || ids[1] != tls.CurveP256 {
		t.Errorf("curves %v", ids)
	}
	// Unset fields keep their defaults.
	if !lt.SessionTickets || lt.TicketKeyRotation != time.Hour || lt.TicketLifetime != 12*time.Hour ||
		lt.HandshakeTimeout != 10*time.Second || lt.MaxHandshakes != 64 || lt.HandshakeWorkers != 0 || lt.CipherSuites != nil {
		t.Errorf("defaults %+v", lt)
	}
	if ut := c.Upstreams[0].TLS; ut.CAFile != "ca.pem" || !ut.SessionResumption || ut.MinVersion != "1.2" || ut.InsecureSkipVerify {
		t.Errorf("upstream tls %+v", ut)
	}
	if ut := c.Upstreams[1].TLS; ut == nil || !ut.SessionResumption {
		t.Errorf("tls: {} is %+v", ut)
	}
	if c.Upstreams[0].TLS == nil || c.Listeners[0].TLS == nil || Default().Listeners[0].TLS != nil {
		t.Error("tls is on only where a section is")
	}
	if ids := CipherSuites([]string{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}); len(ids) != 1 || ids[0] != tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 {
		t.Errorf("cipher suites %v", ids)
	}
}

// mtlsListener is a listener asking for client certificates (6 lines).
const mtlsListener = "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      client_auth: optional\n      client_ca_file: ca.pem\n"

func TestTLSValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		yaml string
		path string
		line int
		msg  string
	}{
		{name: "no-certificates", yaml: "listeners:\n  - address: :8443\n    tls: {}\n",
			path: "listeners[0].tls.certificates", line: 3, msg: "at least one certificate"},
		{name: "no-key", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates:\n        - cert_file: a.pem\n",
			path: "listeners[0].tls.certificates[0].key_file", line: 5, msg: "is required"},
		{name: "bad-version", yaml: "listeners:\n  - address: :8443\n    tls: {certificates: [{cert_file: a, key_file: b}], min_version: \"1.4\"}\n",
			path: "listeners[0].tls.min_version", line: 3, msg: `got "1.4"`},
		{name: "min-above-max", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      min_version: \"1.3\"\n      max_version: \"1.2\"\n",
			path: "listeners[0].tls.min_version", line: 5, msg: "above max_version"},
		{name: "unknown-suite", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      cipher_suites: [RC4]\n",
			path: "listeners[0].tls.cipher_suites[0]", line: 5, msg: "unknown cipher suite"},
		{name: "tls13-suite", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      cipher_suites: [TLS_AES_128_GCM_SHA256]\n",
			path: "listeners[0].tls.cipher_suites[0]", line: 5, msg: "not configurable"},
		{name: "unknown-curve", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      curves: [x448]\n",
			path: "listeners[0].tls.curves[0]", line: 5, msg: `unknown curve "x448"`},
		{name: "unknown-alpn", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      alpn: [spdy/3]\n",
			path: "listeners[0].tls.alpn[0]", line: 5, msg: "unknown protocol"},
		{name: "client-auth-without-ca", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      client_auth: require\n",
			path: "listeners[0].tls.client_ca_file", line: 4, msg: "is required by client_auth require"},
		{name: "ca-without-client-auth", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      client_ca_file: ca.pem\n",
			path: "listeners[0].tls.client_ca_file", line: 5, msg: "client_auth is none"},
		{name: "bad-client-auth", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      client_auth: sometimes\n",
			path: "listeners[0].tls.client_auth", line: 5, msg: "want none, optional or require"},
		{name: "zero-handshakes", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      max_handshakes: 0\n",
			path: "listeners[0].tls.max_handshakes", line: 5, msg: "at least 1"},
		{name: "lifetime-below-rotation", yaml: "listeners:\n  - address: :8443\n    tls:\n      certificates: [{cert_file: a, key_file: b}]\n      ticket_key_rotation: 2h\n      ticket_lifetime: 1h\n",
			path: "listeners[0].tls.ticket_lifetime", line: 6, msg: "at least ticket_key_rotation"},
		{name: "upstream-cert-without-key", yaml: "upstreams:\n  - name: app\n    endpoints: [{address: \"a:443\"}]\n    tls: {cert_file: gw.pem}\n",
			path: "upstreams[0].tls.cert_file", line: 4, msg: "go together"},
		{name: "upstream-unknown-field", yaml: "upstreams:\n  - name: app\n    endpoints: [{address: \"a:443\"}]\n    tls: {verify: false}\n",
			path: "upstreams[0].tls.verify", line: 4, msg: "unknown field"},
		{name: "redirect-on-tls", yaml: "listeners:\n  - address: :8443\n    tls: {certificates: [{cert_file: a, key_file: b}]}\n    https_redirect: {}\n",
			path: "listeners[0].https_redirect", line: 4, msg: "plain listener"},
		{name: "redirect-port", yaml: "listeners:\n  - address: :80\n    https_redirect: {port: 70000}\n",
			path: "listeners[0].https_redirect.port", line: 3, msg: "got 70000"},
		{name: "redirect-status", yaml: "listeners:\n  - address: :80\n    https_redirect: {status: 200}\n",
			path: "listeners[0].https_redirect.status", line: 3, msg: "want 301, 302, 307 or 308"},
		{name: "redirect-except", yaml: "listeners:\n  - address: :80\n    https_redirect: {except: [acme]}\n",
			path: "listeners[0].https_redirect.except[0]", line: 3, msg: "starting with /"},
		{name: "client-cert-empty", yaml: mtlsListener + "routes:\n  - {path: /, direct: {}, client_cert: {}}\n",
			path: "routes[0].client_cert", line: 8, msg: "set required, subject_header or san_header"},
		{name: "client-cert-no-mtls-listener", yaml: "routes:\n  - {path: /, direct: {}, client_cert: {required: true}}\n",
			path: "routes[0].client_cert", line: 2, msg: "no listener asks for client certificates"},
		{name: "client-cert-bad-header", yaml: mtlsListener + "routes:\n  - path: /\n    direct: {}\n    client_cert: {subject_header: \"X Subject\"}\n",
			path: "routes[0].client_cert.subject_header", line: 10, msg: "not a header name"},
		{name: "client-cert-managed-header", yaml: mtlsListener + "routes:\n  - path: /\n    direct: {}\n    client_cert: {san_header: Host}\n",
			path: "routes[0].client_cert.san_header", line: 10, msg: "managed by the gateway"},
		{name: "client-cert-same-header", yaml: mtlsListener + "routes:\n  - path: /\n    direct: {}\n    client_cert: {subject_header: X-Id, san_header: x-id}\n",
			path: "routes[0].client_cert.san_header", line: 10, msg: "same field"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(c.yaml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v", err)
			}
			for _, e := range errs {
				if e.Path == c.path {
					if e.Line != c.line || !strings.Contains(e.Msg, c.msg) {
						t.Errorf("%s, want line %d and %q", e, c.line, c.msg)
					}
					return
				}
			}
			t.Errorf("no error for %s in:\n%v", c.path, err)
		})
	}
}

func TestTLSWarnings(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
listeners:
  - address: :8443
    tls:
      certificates: [{cert_file: a, key_file: b}]
      min_version: "1.0"
upstreams:
  - name: app
    endpoints: [{address: "a:443"}]
    tls:
      insecure_skip_verify: true
`))
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings()
	if len(ws) != 2 {
		t.Fatalf("warnings %v", ws)
	}
	if ws[0].Path != "listeners[0].tls.min_version" || ws[0].Line != 6 || !strings.Contains(ws[0].Msg, "deprecated") {
		t.Errorf("%s", ws[0])
	}
	if ws[1].Path != "upstreams[0].tls.insecure_skip_verify" || ws[1].Line != 11 || !strings.Contains(ws[1].Msg, "NOT verified") {
		t.Errorf("%s", ws[1])
	}
}

func TestTLSFiles(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`
listeners:
  - address: :8443
    tls:
      certificates: [{cert_file: a.pem, key_file: a.key}]
      client_auth: require
      client_ca_file: clients.pem
upstreams:
  - name: app
    endpoints: [{address: "a:443"}]
    tls: {ca_file: ca.pem}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range c.Files() {
		got = append(got, f.Path+"="+f.File)
	}
	want := "listeners[0].tls.certificates[0].cert_file=a.pem listeners[0].tls.certificates[0].key_file=a.key " +
		"listeners[0].tls.client_ca_file=clients.pem upstreams[0].tls.ca_file=ca.pem"
	if strings.Join(got, " ") != want {
		t.Errorf("files %v", got)
	}
}

// TestTLSExample: the commented TLS sections of example.yaml, uncommented,
// are a valid config (they document every field with its default).
func TestTLSExample(t *testing.T) {
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "# >>> tls example"):
			in = true
			continue
		case strings.HasPrefix(trimmed, "# <<< tls example"):
			in = false
			continue
		case in:
			i := strings.Index(line, "# ")
			if i < 0 {
				t.Fatalf("a line in a tls example block is not commented: %q", line)
			}
			line = line[:i] + line[i+2:]
		}
		out = append(out, line)
	}
	text := strings.Join(out, "\n")
	if !strings.Contains(text, "certificates:") || !strings.Contains(text, "insecure_skip_verify") {
		t.Fatal("example.yaml has no tls example blocks")
	}
	c, err := Parse("example.yaml (tls uncommented)", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	var listener, upstream bool
	for _, l := range c.Listeners {
		listener = listener || l.TLS != nil
	}
	for _, u := range c.Upstreams {
		upstream = upstream || u.TLS != nil
	}
	if !listener || !upstream {
		t.Errorf("tls on a listener %v, on an upstream %v", listener, upstream)
	}
}

// TestHTTPSRedirectDefaults: https_redirect: {} redirects to port 443 with
// 308 (the method and body kept).
func TestHTTPSRedirectDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte("listeners:\n  - address: :80\n    https_redirect: {}\n  - address: :81\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Listeners[0].HTTPSRedirect; r == nil || r.Port != 443 || r.Status != 308 || len(r.Except) != 0 {
		t.Errorf("https_redirect %+v", r)
	}
	if c.Listeners[1].HTTPSRedirect != nil {
		t.Error("a listener without https_redirect has one")
	}
}
