package tlsloop

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// ClientOptions configure TLS toward an upstream. The zero value verifies
// the upstream against the system roots, with session resumption on.
type ClientOptions struct {
	// CAFile (PEM) holds the CAs the upstream's certificate must chain
	// to; "" means the system roots.
	CAFile string
	// ServerName is the SNI sent and the name verified; "" means the host
	// of the endpoint being connected to (an IP address is verified
	// against the certificate's IP addresses and not sent as SNI).
	ServerName string
	// InsecureSkipVerify accepts any certificate the upstream presents:
	// the connection is encrypted but not authenticated. For tests only;
	// the gateway warns at every start and reload.
	InsecureSkipVerify bool
	// CertFile and KeyFile are a client certificate for upstreams that
	// ask for one (mTLS).
	CertFile string
	KeyFile  string
	// MinVersion and MaxVersion (defaults TLS 1.2 and 1.3), CipherSuites
	// (TLS 1.2; nil: Go's defaults minus CBC) and CurvePreferences (nil:
	// Go's defaults), as for ServerOptions.
	MinVersion       uint16
	MaxVersion       uint16
	CipherSuites     []uint16
	CurvePreferences []tls.CurveID
	// ALPN are the protocols offered; nil offers none.
	ALPN []string
	// DisableResumption turns off session resumption (tickets kept in a
	// cache of SessionCacheSize sessions, default 1024, shared by every
	// loop).
	DisableResumption bool
	SessionCacheSize  int
	// Handshake bounds the handshakes of NewConn's connections.
	Handshake HandshakeLimits
}

// Client is TLS toward one upstream (all its endpoints): the loaded
// options, a session cache and handshake counters. Safe for concurrent
// use.
type Client struct {
	base    *tls.Config
	opts    ClientOptions
	configs sync.Map // host → *tls.Config with its ServerName
	hs      handshakes
}

// LoadClient reads the files opts name. The error is a LoadErrors.
func LoadClient(opts ClientOptions) (*Client, error) {
	var errs LoadErrors
	cfg := &tls.Config{
		InsecureSkipVerify: opts.InsecureSkipVerify,
		CipherSuites:       opts.CipherSuites,
		CurvePreferences:   opts.CurvePreferences,
		NextProtos:         opts.ALPN,
	}
	cfg.MinVersion, cfg.MaxVersion = versions(opts.MinVersion, opts.MaxVersion)
	if cfg.CipherSuites == nil {
		cfg.CipherSuites = defaultSuites
	}
	if opts.CAFile != "" {
		cas, err := loadCAs("ca_file", opts.CAFile)
		if err != nil {
			errs = append(errs, err)
		}
		cfg.RootCAs = cas
	}
	if opts.CertFile != "" || opts.KeyFile != "" {
		c, _, err := loadCert(-1, CertFile{CertFile: opts.CertFile, KeyFile: opts.KeyFile, ServerNames: []string{}}, time.Now())
		if err != nil {
			errs = append(errs, err)
		} else {
			cfg.Certificates = []tls.Certificate{*c.cert}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if !opts.DisableResumption {
		n := opts.SessionCacheSize
		if n <= 0 {
			n = 1024
		}
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(n)
	}
	c := &Client{base: cfg, opts: opts}
	c.hs.setLimits(opts.Handshake)
	return c, nil
}

// Config returns the crypto/tls config of connections to host (the
// endpoint's host, the default ServerName), for code that runs TLS on a
// net.Conn itself (the gateway's active health checks). Do not modify it.
func (c *Client) Config(host string) *tls.Config { return c.configFor(host) }

// configFor returns the config for connections to host (its ServerName).
func (c *Client) configFor(host string) *tls.Config {
	name := c.opts.ServerName
	if name == "" {
		name = host
	}
	if v, ok := c.configs.Load(name); ok {
		return v.(*tls.Config)
	}
	cfg := c.base.Clone()
	cfg.ServerName = name
	v, _ := c.configs.LoadOrStore(name, cfg)
	return v.(*tls.Config)
}

// Handshake runs a client handshake on nc, a connection just dialed, in
// the caller's goroutine (the engine's dial goroutine), bounded by ctx.
// host is the endpoint's host (no port), the default ServerName. The Conn
// returned is established and in the data phase: hand nc's socket to the
// loop and drive the Conn with Feed and Write there. Bytes crypto/tls read
// past the handshake stay inside the Conn. On error the caller closes nc.
func (c *Client) Handshake(ctx context.Context, nc net.Conn, host string) (*Conn, error) {
	conn := &Conn{hs: &c.hs}
	conn.tr.phase, conn.tr.nc = phasePass, nc
	conn.tc = tls.Client(&conn.tr, c.configFor(host))
	begin := time.Now()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	err := conn.tc.HandshakeContext(ctx)
	if err != nil {
		c.hs.record(err, false)
		return nil, err
	}
	conn.info = infoOf(conn.tc.ConnectionState(), time.Since(begin))
	c.hs.record(nil, conn.info.Resumed)
	conn.tr.phase, conn.tr.nc = phaseLoop, nil
	conn.tr.dst = &conn.out
	conn.state = stateOpen
	return conn, nil
}

// NewConn returns the TLS side of an upstream connection whose socket a
// loop owns already, with its handshake started off the loop (the client
// speaks first): Flush after the first wake sends the ClientHello. wake is
// as for Server.NewConn. ErrBusy when Handshake.MaxInFlight handshakes
// run.
func (c *Client) NewConn(host string, wake func()) (*Conn, error) {
	conn := &Conn{hs: &c.hs}
	conn.tr.wake = wake
	conn.tc = tls.Client(&conn.tr, c.configFor(host))
	if err := conn.start(); err != nil {
		return nil, err
	}
	return conn, nil
}

// Stats returns the handshake counters.
func (c *Client) Stats() Stats { return c.hs.stats() }
