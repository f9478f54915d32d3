package tlsloop

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// ClientAuth says whether a listener asks clients for a certificate (mTLS).
type ClientAuth uint8

const (
	NoClientCert       ClientAuth = iota // none asked (the default)
	OptionalClientCert                   // asked, verified against ClientCAFile when given
	RequireClientCert                    // required and verified: a client without one fails the handshake
)

// ServerOptions configure a listener's TLS. The zero value of every field
// but Certificates is a safe default.
type ServerOptions struct {
	// Certificates are what the listener serves, chosen per handshake by
	// SNI (CertFile.ServerNames) and, among the certificates of a name,
	// by what the client supports (ECDSA and RSA side by side). At least
	// one.
	Certificates []CertFile
	// MinVersion and MaxVersion bound the protocol versions (defaults
	// tls.VersionTLS12 and tls.VersionTLS13). TLS 1.0 and 1.1 only when
	// asked for, and then with CipherSuites that include CBC suites
	// (they have no AEAD ones).
	MinVersion uint16
	MaxVersion uint16
	// CipherSuites are the TLS 1.2 suites, in no particular order (Go
	// orders them by what the hardware does fast). Nil: ECDHE with
	// AES-GCM or ChaCha20-Poly1305 only, no CBC (TLS 1.3's suites are all
	// AEAD and not configurable).
	CipherSuites []uint16
	// CurvePreferences are the key exchange groups; nil: Go's defaults
	// (the hybrid X25519MLKEM768 first, then X25519, P-256, P-384).
	CurvePreferences []tls.CurveID
	// ALPN are the application protocols offered, preferred first; nil:
	// ["http/1.1"]. "h2" only once the engine serves HTTP/2.
	ALPN []string
	// ClientAuth and ClientCAFile (PEM, one or more CA certificates)
	// configure client certificates (mTLS).
	ClientAuth   ClientAuth
	ClientCAFile string
	// DisableSessionTickets turns session resumption off (every
	// handshake is a full one).
	DisableSessionTickets bool
	// TicketRotation is how often a new session ticket key starts
	// encrypting tickets (default 1 h); TicketLifetime how long a key
	// still decrypts them (default 12 h): a ticket resumes for between
	// TicketLifetime-TicketRotation and TicketLifetime.
	TicketRotation time.Duration
	TicketLifetime time.Duration
	// Handshake bounds the handshakes running off the loops.
	Handshake HandshakeLimits
}

// ServerConfig is a listener's TLS configuration, loaded and checked:
// certificates parsed, keys matched, the client CA read. Immutable; a
// Server serves one (Apply swaps it).
type ServerConfig struct {
	tls      *tls.Config
	opts     ServerOptions
	certs    []CertInfo
	warnings []string
}

// defaultSuites are the TLS 1.2 suites served when ServerOptions has none:
// forward secret, AEAD only.
var defaultSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// LoadServer reads and checks what opts name, at time now (certificate
// expiry). The error is a LoadErrors listing every file that cannot be
// used, with the reason; nothing is partly loaded.
func LoadServer(opts ServerOptions, now time.Time) (*ServerConfig, error) {
	var errs LoadErrors
	var warns []string
	if len(opts.Certificates) == 0 {
		errs = append(errs, &LoadError{Field: "certificates", Index: -1, Reason: "at least one certificate is required"})
	}
	var loaded []*loadedCert
	for i, f := range opts.Certificates {
		c, w, err := loadCert(i, f, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		loaded = append(loaded, c)
		warns = append(warns, w...)
	}
	var cas *x509.CertPool
	if opts.ClientAuth != NoClientCert || opts.ClientCAFile != "" {
		var err *LoadError
		if cas, err = loadCAs("client_ca_file", opts.ClientCAFile); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	min, max := versions(opts.MinVersion, opts.MaxVersion)
	if min < tls.VersionTLS12 && !slices.ContainsFunc(opts.CipherSuites, isCBC) {
		warns = append(warns, "TLS 1.0 and 1.1 need CBC cipher suites, and none is configured: clients of those versions cannot connect")
	}
	idx := newCertIndex(loaded)
	cfg := &tls.Config{
		GetCertificate:         idx.get,
		MinVersion:             min,
		MaxVersion:             max,
		CipherSuites:           opts.CipherSuites,
		CurvePreferences:       opts.CurvePreferences,
		NextProtos:             opts.ALPN,
		ClientCAs:              cas,
		SessionTicketsDisabled: opts.DisableSessionTickets,
		// Full-size records, as nginx's default ssl_buffer_size: the
		// engine writes a response in one piece per loop iteration, and
		// 1 KiB records for the first 128 KiB would cost a seal and 22
		// bytes of framing each.
		DynamicRecordSizingDisabled: true,
	}
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = defaultSuites
	}
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"http/1.1"}
	}
	switch opts.ClientAuth {
	case OptionalClientCert:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case RequireClientCert:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	sc := &ServerConfig{tls: cfg, opts: opts, warnings: warns}
	for _, c := range loaded {
		sc.certs = append(sc.certs, c.info)
	}
	return sc, nil
}

// Warnings are what loading found valid but probably wrong: expiry within
// ExpiryWarning, a chain out of order, ... (see loadCert).
func (sc *ServerConfig) Warnings() []string { return sc.warnings }

// Certificates describes the certificates served.
func (sc *ServerConfig) Certificates() []CertInfo { return sc.certs }

func versions(min, max uint16) (uint16, uint16) {
	if min == 0 {
		min = tls.VersionTLS12
	}
	if max == 0 {
		max = tls.VersionTLS13
	}
	return min, max
}

func isCBC(id uint16) bool {
	return strings.Contains(tls.CipherSuiteName(id), "_CBC_")
}

// loadCAs reads a PEM file of CA certificates.
func loadCAs(field, file string) (*x509.CertPool, *LoadError) {
	if file == "" {
		return nil, &LoadError{Field: field, Index: -1, Reason: "is required"}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &LoadError{Field: field, Index: -1, File: file, Reason: fmt.Sprintf("cannot read: %v", unwrapPath(err))}
	}
	chain, reason := parseChain(data)
	if reason != "" {
		return nil, &LoadError{Field: field, Index: -1, File: file, Reason: reason}
	}
	pool := x509.NewCertPool()
	for _, c := range chain {
		pool.AddCert(c)
	}
	return pool, nil
}

// Server is one listener's TLS: its current ServerConfig, its session
// ticket keys and its handshake limits and counters, shared by every
// event loop. Safe for concurrent use.
type Server struct {
	cur     atomic.Pointer[ServerConfig]
	hs      handshakes
	tickets ticketKeys
}

// NewServer serves sc. sc belongs to the Server from now on (its
// tls.Config gets the Server's session ticket keys).
func NewServer(sc *ServerConfig) *Server {
	s := &Server{}
	s.Apply(sc)
	return s
}

// Apply swaps in sc (a reload): new handshakes use it, established
// connections and handshakes in progress keep the config they started
// with. Session ticket keys carry over, so that resumption survives the
// reload; the handshake limits are sc's from now on.
func (s *Server) Apply(sc *ServerConfig) {
	rot, life := sc.opts.TicketRotation, sc.opts.TicketLifetime
	if rot <= 0 {
		rot = DefaultTicketRotation
	}
	if life <= 0 {
		life = DefaultTicketLifetime
	}
	s.tickets.configure(sc.tls, rot, life, time.Now())
	s.hs.setLimits(sc.opts.Handshake)
	s.cur.Store(sc)
}

// Reload loads opts and applies them. On error the current config keeps
// serving; the error is a LoadErrors naming each file and why.
func (s *Server) Reload(opts ServerOptions) (*ServerConfig, error) {
	sc, err := LoadServer(opts, time.Now())
	if err != nil {
		return nil, err
	}
	s.Apply(sc)
	return sc, nil
}

// Config returns the config new handshakes use.
func (s *Server) Config() *ServerConfig { return s.cur.Load() }

// Stats returns the handshake counters.
func (s *Server) Stats() Stats { return s.hs.stats() }

// NewConn returns the TLS side of a connection a loop just accepted. Its
// handshake starts off the loop at the first Feed with bytes. wake is
// called from the handshake goroutine whenever the loop should call Feed
// (a flight to send, the handshake's end): post it to the connection's
// loop, for example with gnet's Conn.Wake (which triggers OnTraffic) or
// EventLoop.Execute. It may be called after Close, and must be harmless
// then.
func (s *Server) NewConn(wake func()) *Conn {
	c := &Conn{srv: s, hs: &s.hs}
	c.tr.wake = wake
	c.tc = tls.Server(&c.tr, s.cur.Load().tls)
	return c
}
