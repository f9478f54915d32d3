package config

import (
	"crypto/tls"
	"fmt"
	"strings"
	"time"
)

// ListenerTLS is a listener's tls: section: HTTPS on that listener
// (package tlsloop). Certificate files are read and checked when the
// gateway starts or reloads and by hotpath -check, not by Parse.
type ListenerTLS struct {
	// Certificates are served by SNI (each one's server_names, by
	// default its DNS names) and, among those of one name, by what the
	// client supports: list an ECDSA and an RSA certificate side by side.
	Certificates []TLSCertificate `yaml:"certificates"`
	// MinVersion and MaxVersion: "1.2" and "1.3" by default; "1.0" and
	// "1.1" only when set here (and then with CBC cipher_suites).
	MinVersion string `yaml:"min_version"`
	MaxVersion string `yaml:"max_version"`
	// CipherSuites are TLS 1.2 suites by their IANA names
	// (TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ...); empty: ECDHE with
	// AES-GCM or ChaCha20-Poly1305, no CBC. TLS 1.3's are not
	// configurable.
	CipherSuites []string `yaml:"cipher_suites"`
	// Curves are the key exchange groups, preferred first: x25519,
	// x25519mlkem768, secp256r1mlkem768, secp384r1mlkem1024, p256, p384,
	// p521. Empty: Go's defaults (the post-quantum hybrids first).
	Curves []string `yaml:"curves"`
	// ALPN are the protocols offered, preferred first: h2 and http/1.1
	// (the default: both, h2 first); [http/1.1] turns HTTP/2 off.
	ALPN []string `yaml:"alpn"`
	// ClientAuth asks clients for a certificate (mTLS): none (the
	// default), optional (verified when given) or require. ClientCAFile
	// (PEM) holds the CAs a client certificate must chain to.
	ClientAuth   string `yaml:"client_auth"`
	ClientCAFile string `yaml:"client_ca_file"`
	// SessionTickets turns session resumption on (the default). A new
	// ticket key starts every TicketKeyRotation (1h); a key decrypts
	// tickets for TicketLifetime (12h). The keys are shared by every
	// event loop and kept across reloads.
	SessionTickets    bool          `yaml:"session_tickets"`
	TicketKeyRotation time.Duration `yaml:"ticket_key_rotation"`
	TicketLifetime    time.Duration `yaml:"ticket_lifetime"`
	// HandshakeTimeout bounds a handshake from its first byte (10s).
	// MaxHandshakes caps the handshakes in progress (1024): more are
	// refused (the connection closed). HandshakeWorkers caps those
	// computing at once (0: one per core).
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
	MaxHandshakes    int           `yaml:"max_handshakes"`
	HandshakeWorkers int           `yaml:"handshake_workers"`
}

// TLSCertificate is one certificate of a listener.
type TLSCertificate struct {
	// CertFile is the PEM chain, leaf first; KeyFile its PEM private key
	// (RSA, ECDSA or Ed25519, unencrypted). An expired certificate, or a
	// key that does not match, is refused and the previous certificate
	// keeps serving.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerNames are the SNI names served ("api.example.com",
	// "*.example.com"); empty: the certificate's DNS names.
	ServerNames []string `yaml:"server_names"`
	// Default serves the certificate to clients whose SNI matches no name
	// or that send none. Default when no certificate says so: the first
	// (with those serving exactly its names).
	Default bool `yaml:"default"`
}

// UpstreamTLS is an upstream's tls: section: TLS to its endpoints. The
// section's presence turns it on (tls: {} for every default).
type UpstreamTLS struct {
	// CAFile (PEM) holds the CAs the endpoints' certificates must chain
	// to; empty: the system roots.
	CAFile string `yaml:"ca_file"`
	// ServerName is sent as SNI and verified; empty: each endpoint's host.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any certificate: encrypted, not
	// authenticated. The gateway warns at every start and reload.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CertFile and KeyFile are the gateway's client certificate, for
	// endpoints that require one (mTLS).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// MinVersion and MaxVersion as for listeners.
	MinVersion string `yaml:"min_version"`
	MaxVersion string `yaml:"max_version"`
	// SessionResumption keeps the endpoints' session tickets so that a
	// new connection resumes (default true).
	SessionResumption bool `yaml:"session_resumption"`
}

// ClientCert is a route's client_cert: section: what the route asks of
// the client certificate a TLS listener verified (its tls.client_auth is
// optional or require). The header fields are the gateway's: a client's
// own fields of those names are removed, never forwarded.
type ClientCert struct {
	// Required refuses (403) a request without a verified client
	// certificate: over plain HTTP, or client_auth optional and none sent.
	Required bool `yaml:"required"`
	// SubjectHeader sends the certificate's subject distinguished name
	// (RFC 2253: "CN=alice,O=Example") upstream in this field.
	SubjectHeader string `yaml:"subject_header"`
	// SANHeader sends its subject alternative names, comma-separated
	// ("DNS:a.example,URI:spiffe://example/alice").
	SANHeader string `yaml:"san_header"`
}

// HTTPSRedirect is a plain listener's https_redirect: section: every
// request is answered with a redirect to the same host and target over
// HTTPS, except the paths under Except, which are served as usual.
type HTTPSRedirect struct {
	// Port is the HTTPS port written in the Location (443, the default,
	// is left out of the URL).
	Port int `yaml:"port"`
	// Status is 301, 302, 307 or 308 (the default: the method and body
	// are kept).
	Status int `yaml:"status"`
	// Except are path prefixes served without a redirect
	// ("/.well-known/acme-challenge/" for ACME HTTP-01 challenges).
	Except []string `yaml:"except"`
}

func (r *HTTPSRedirect) setDefaults() { r.Port, r.Status = 443, 308 }

// Listener TLS defaults.
const (
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultMaxHandshakes     = 1024
	DefaultTicketKeyRotation = time.Hour
	DefaultTicketLifetime    = 12 * time.Hour
)

func (t *ListenerTLS) setDefaults() {
	t.MinVersion, t.MaxVersion = "1.2", "1.3"
	t.ClientAuth = "none"
	t.SessionTickets = true
	t.TicketKeyRotation, t.TicketLifetime = DefaultTicketKeyRotation, DefaultTicketLifetime
	t.HandshakeTimeout, t.MaxHandshakes = DefaultHandshakeTimeout, DefaultMaxHandshakes
}

func (t *UpstreamTLS) setDefaults() {
	t.MinVersion, t.MaxVersion = "1.2", "1.3"
	t.SessionResumption = true
}

// tlsVersions maps the version names config accepts to crypto/tls's.
var tlsVersions = map[string]uint16{
	"1.0": tls.VersionTLS10,
	"1.1": tls.VersionTLS11,
	"1.2": tls.VersionTLS12,
	"1.3": tls.VersionTLS13,
}

// tlsCurves maps the curve names config accepts to crypto/tls's.
var tlsCurves = map[string]tls.CurveID{
	"x25519":             tls.X25519,
	"x25519mlkem768":     tls.X25519MLKEM768,
	"secp256r1mlkem768":  tls.SecP256r1MLKEM768,
	"secp384r1mlkem1024": tls.SecP384r1MLKEM1024,
	"p256":               tls.CurveP256,
	"p384":               tls.CurveP384,
	"p521":               tls.CurveP521,
}

// ALPNProtocols are the protocols a listener may offer.
var ALPNProtocols = []string{"h2", "http/1.1"}

// TLSVersion returns the crypto/tls version for a validated name ("1.2").
func TLSVersion(name string) uint16 { return tlsVersions[name] }

// Curves returns the crypto/tls IDs of validated curve names, nil for none.
func Curves(names []string) []tls.CurveID {
	var ids []tls.CurveID
	for _, n := range names {
		ids = append(ids, tlsCurves[strings.ToLower(n)])
	}
	return ids
}

// CipherSuites returns the IDs of validated TLS 1.2 suite names, nil for
// none.
func CipherSuites(names []string) []uint16 {
	var ids []uint16
	for _, n := range names {
		if s := cipherSuite(n); s != nil {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func cipherSuite(name string) *tls.CipherSuite {
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// validateTLS checks every listeners[].tls and upstreams[].tls section.
// The files they name are read by the gateway (and hotpath -check).
func (c *Config) validateTLS(bad reporter) {
	for i, l := range c.Listeners {
		t := l.TLS
		if t == nil {
			continue
		}
		p := fmt.Sprintf("listeners[%d].tls", i)
		if len(t.Certificates) == 0 {
			bad(p+".certificates", "at least one certificate is required (cert_file and key_file)")
		}
		for j, cert := range t.Certificates {
			cp := fmt.Sprintf("%s.certificates[%d]", p, j)
			if cert.CertFile == "" {
				bad(cp+".cert_file", "is required")
			}
			if cert.KeyFile == "" {
				bad(cp+".key_file", "is required")
			}
		}
		validateVersions(p, t.MinVersion, t.MaxVersion, bad)
		for j, name := range t.CipherSuites {
			sp := fmt.Sprintf("%s.cipher_suites[%d]", p, j)
			switch s := cipherSuite(name); {
			case s == nil:
				bad(sp, "unknown cipher suite %q (want a TLS 1.2 suite's IANA name, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)", name)
			case !supports12(s):
				bad(sp, "%s is a TLS 1.3 suite: those are not configurable", name)
			}
		}
		for j, name := range t.Curves {
			if _, ok := tlsCurves[strings.ToLower(name)]; !ok {
				bad(fmt.Sprintf("%s.curves[%d]", p, j), "unknown curve %q (want one of %s)", name, strings.Join(SortedKeys(curveNames()), ", "))
			}
		}
		seen := map[string]int{}
		for j, proto := range t.ALPN {
			ap := fmt.Sprintf("%s.alpn[%d]", p, j)
			if !contains(ALPNProtocols, proto) {
				bad(ap, "unknown protocol %q (want h2 or http/1.1)", proto)
			} else if k, dup := seen[proto]; dup {
				bad(ap, "duplicate protocol %q (also alpn[%d])", proto, k)
			}
			seen[proto] = j
		}
		switch t.ClientAuth {
		case "none":
			if t.ClientCAFile != "" {
				bad(p+".client_ca_file", "is set but client_auth is none: set client_auth to optional or require")
			}
		case "optional", "require":
			if t.ClientCAFile == "" {
				bad(p+".client_ca_file", "is required by client_auth %s (the CAs client certificates must chain to)", t.ClientAuth)
			}
		default:
			bad(p+".client_auth", "want none, optional or require, got %q", t.ClientAuth)
		}
		if t.HandshakeTimeout <= 0 {
			bad(p+".handshake_timeout", "must be positive")
		}
		if t.MaxHandshakes < 1 {
			bad(p+".max_handshakes", "must be at least 1, got %d", t.MaxHandshakes)
		}
		if t.HandshakeWorkers < 0 {
			bad(p+".handshake_workers", "must be 0 (one per core) or more, got %d", t.HandshakeWorkers)
		}
		if t.SessionTickets {
			if t.TicketKeyRotation <= 0 {
				bad(p+".ticket_key_rotation", "must be positive")
			} else if t.TicketLifetime < t.TicketKeyRotation {
				bad(p+".ticket_lifetime", "must be at least ticket_key_rotation (%v)", t.TicketKeyRotation)
			}
		}
	}
	mtls := false
	for i, l := range c.Listeners {
		if l.TLS != nil && l.TLS.ClientAuth != "none" {
			mtls = true
		}
		r := l.HTTPSRedirect
		if r == nil {
			continue
		}
		p := fmt.Sprintf("listeners[%d].https_redirect", i)
		if l.TLS != nil {
			bad(p, "is for a plain listener; this one has tls")
		}
		if r.Port < 1 || r.Port > 65535 {
			bad(p+".port", "want a port number 1-65535, got %d", r.Port)
		}
		switch r.Status {
		case 301, 302, 307, 308:
		default:
			bad(p+".status", "want 301, 302, 307 or 308, got %d", r.Status)
		}
		for j, e := range r.Except {
			if !strings.HasPrefix(e, "/") {
				bad(fmt.Sprintf("%s.except[%d]", p, j), "want a path prefix starting with /, got %q", e)
			}
		}
	}
	for i, r := range c.Routes {
		cc := r.ClientCert
		if cc == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].client_cert", i)
		if !cc.Required && cc.SubjectHeader == "" && cc.SANHeader == "" {
			bad(p, "set required, subject_header or san_header")
		}
		if !mtls {
			bad(p, "no listener asks for client certificates: set tls.client_auth to optional or require on a listener")
		}
		for _, h := range []struct{ field, name string }{{"subject_header", cc.SubjectHeader}, {"san_header", cc.SANHeader}} {
			switch {
			case h.name == "":
			case !isToken(h.name):
				bad(p+"."+h.field, "not a header name: %q", h.name)
			case contains(managedFields, strings.ToLower(h.name)):
				bad(p+"."+h.field, "%s is managed by the gateway", h.name)
			}
		}
		if cc.SubjectHeader != "" && strings.EqualFold(cc.SubjectHeader, cc.SANHeader) {
			bad(p+".san_header", "is the same field as subject_header")
		}
	}
	for i, u := range c.Upstreams {
		t := u.TLS
		if t == nil {
			continue
		}
		p := fmt.Sprintf("upstreams[%d].tls", i)
		validateVersions(p, t.MinVersion, t.MaxVersion, bad)
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad(p+".cert_file", "cert_file and key_file go together (the client certificate and its key)")
		}
		if strings.ContainsAny(t.ServerName, " \t\r\n/:") {
			bad(p+".server_name", "not a host name: %q", t.ServerName)
		}
	}
}

func validateVersions(p, min, max string, bad reporter) {
	lo, okLo := tlsVersions[min]
	hi, okHi := tlsVersions[max]
	if !okLo {
		bad(p+".min_version", "want 1.0, 1.1, 1.2 or 1.3, got %q", min)
	}
	if !okHi {
		bad(p+".max_version", "want 1.0, 1.1, 1.2 or 1.3, got %q", max)
	}
	if okLo && okHi && lo > hi {
		bad(p+".min_version", "%s is above max_version %s", min, max)
	}
}

func supports12(s *tls.CipherSuite) bool {
	for _, v := range s.SupportedVersions {
		if v == tls.VersionTLS12 {
			return true
		}
	}
	return false
}

func curveNames() map[string]string {
	m := map[string]string{}
	for k := range tlsCurves {
		m[k] = k
	}
	return m
}

// tlsWarnings adds the TLS warnings of c to warn (see Warnings).
func (c *Config) tlsWarnings(warn func(path, format string, args ...any)) {
	for i, l := range c.Listeners {
		if t := l.TLS; t != nil && (t.MinVersion == "1.0" || t.MinVersion == "1.1") {
			warn(fmt.Sprintf("listeners[%d].tls.min_version", i), "TLS %s is deprecated (RFC 8996) and needs CBC cipher_suites", t.MinVersion)
		}
	}
	for i, u := range c.Upstreams {
		if t := u.TLS; t != nil && t.InsecureSkipVerify {
			warn(fmt.Sprintf("upstreams[%d].tls.insecure_skip_verify", i),
				"upstream %q: certificates are NOT verified; anyone on the path to its endpoints can impersonate them and read the traffic", u.Name)
		}
	}
}
