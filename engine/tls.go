package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/metrics"
	"github.com/hotpath/hotpath/tlsloop"
)

// TLS (docs/tls.md): package tlsloop does the work; this file puts it
// under the engine's connections.
//
// A connection with TLS under it keeps a *tlsConn where it would keep the
// socket's gnet.Conn: the socket with its byte methods (Peek, Discard,
// InboundBuffered, Write, Writev) replaced by the TLS connection's
// plaintext. The HTTP/1.1 connection, the HTTP/2 connection, the tunnel
// and the upstream connection run unchanged over it. OnTraffic feeds the
// ciphertext the socket read to tlsloop first (tlsConn.read) and runs the
// protocol only once the handshake has completed; the handshake itself
// runs off the loop and reports through gnet's Wake, which is another
// OnTraffic. Everything that must reach gnet's own connection (closing
// it, the reflection in gnetlayout.go) goes through rawConn.
//
// Listeners: one tlsloop.Server per TLS listener, for the Server's life
// (its session ticket keys outlive reloads); a reload loads the
// listener's certificates again and applies them only when the whole new
// config compiled. Upstreams: one tlsloop.Client per upstream with a tls
// section, part of the compiled table; the handshake runs in the dial
// goroutine (loop.dial) and the connection enters the loop established.

// tlsConn is a socket with TLS under it.
type tlsConn struct {
	gnet.Conn
	t        *tlsloop.Conn
	listener int  // the listener's index; -1 toward an upstream
	opened   bool // the end of the handshake was handled (h1conn.tlsOpened)
}

func (c *tlsConn) Peek(n int) ([]byte, error) { return c.t.Peek(n) }
func (c *tlsConn) Discard(n int) (int, error) { return c.t.Discard(n) }
func (c *tlsConn) InboundBuffered() int       { return c.t.Buffered() }

// Write encrypts p and hands the records to the socket at once.
func (c *tlsConn) Write(p []byte) (int, error) {
	n, err := c.t.Write(p)
	if ferr := c.t.Flush(c.Conn); err == nil {
		err = ferr
	}
	return n, err
}

// Writev encrypts the pieces (small ones into one record) and hands the
// records to the socket in one write.
func (c *tlsConn) Writev(bs [][]byte) (int, error) {
	n, err := c.t.Writev(bs)
	if ferr := c.t.Flush(c.Conn); err == nil {
		err = ferr
	}
	return n, err
}

// read feeds the ciphertext the socket holds to TLS and sends what TLS
// produced (a handshake flight, an alert, a session ticket). ready is
// false while the handshake runs (act None) or when the connection is
// done (act Close: the handshake failed or a record was bad).
func (c *tlsConn) read() (act gnet.Action, ready bool) {
	in, _ := c.Conn.Peek(-1)
	n, err := c.t.Feed(in)
	if n > 0 {
		_, _ = c.Conn.Discard(n)
	}
	_ = c.t.Flush(c.Conn)
	if err != nil && !errors.Is(err, io.EOF) {
		return gnet.Close, false // io.EOF: close_notify; what came before it is served
	}
	if !c.t.Established() {
		return gnet.None, false
	}
	return gnet.None, true
}

// closeNotify ends the TLS session politely before the socket closes
// after a complete response: a client reading to the end of the
// connection can tell that end from a truncation.
func (c *tlsConn) closeNotify() {
	c.t.CloseNotify()
	_ = c.t.Flush(c.Conn)
}

// rawConn returns gnet's connection under c.
func rawConn(c gnet.Conn) gnet.Conn {
	if t, ok := c.(*tlsConn); ok {
		return t.Conn
	}
	return c
}

// tlsOf returns the TLS under c, or nil.
func tlsOf(c gnet.Conn) *tlsConn {
	t, _ := c.(*tlsConn)
	return t
}

// info returns the established connection's TLS parameters and client
// certificate; nil for a plain connection.
func (c *tlsConn) info() *tlsloop.Info {
	if c == nil {
		return nil
	}
	return c.t.Info()
}

// startTLS puts a listener's TLS under the client connection h just
// opened on c.
func (s *Server) startTLS(h *h1conn, c gnet.Conn, listener int) {
	srv := s.tlsServers[listener]
	h.c = &tlsConn{Conn: c, listener: listener, t: srv.NewConn(func() { _ = c.Wake(nil) })}
}

// tlsOpened runs once h's handshake has completed: with HTTP/2
// negotiated (ALPN h2) the connection becomes an h2conn, which it
// returns; nil for HTTP/1.1.
func (h *h1conn) tlsOpened(t *tlsConn) *h2conn {
	t.opened = true
	if t.t.Info().ALPN != "h2" {
		return nil
	}
	h.toH2(t.listener) // h2conn.go: the preface is the first plaintext
	return h.upgraded
}

// listenerTLS loads the tls sections of cfg's listeners, at time now:
// nil for a plain listener. The errors name each unusable file at its
// field; the warnings (a certificate about to expire, a chain out of
// order) are at the listener's tls section.
func listenerTLS(cfg *config.Config, now time.Time) (scs []*tlsloop.ServerConfig, errs, warnings config.Errors) {
	scs = make([]*tlsloop.ServerConfig, len(cfg.Listeners))
	for i, l := range cfg.Listeners {
		if l.TLS == nil {
			continue
		}
		p := fmt.Sprintf("listeners[%d].tls", i)
		sc, err := tlsloop.LoadServer(serverOptions(l.TLS), now)
		errs = append(errs, tlsLoadErrors(cfg, p, err)...)
		if sc != nil {
			for _, w := range sc.Warnings() {
				warnings = append(warnings, cfg.Errorf(p, "warning: "+w))
			}
		}
		scs[i] = sc
	}
	return scs, errs, warnings
}

// TLSWarnings loads the certificates cfg's listeners name and returns
// what is valid but probably wrong (hotpath -check prints them).
func TLSWarnings(cfg *config.Config) config.Errors {
	_, _, w := listenerTLS(cfg, time.Now())
	return w
}

// serverOptions converts a listener's tls section.
func serverOptions(t *config.ListenerTLS) tlsloop.ServerOptions {
	o := tlsloop.ServerOptions{
		MinVersion:            config.TLSVersion(t.MinVersion),
		MaxVersion:            config.TLSVersion(t.MaxVersion),
		CipherSuites:          config.CipherSuites(t.CipherSuites),
		CurvePreferences:      config.Curves(t.Curves),
		ClientCAFile:          t.ClientCAFile,
		DisableSessionTickets: !t.SessionTickets,
		TicketRotation:        t.TicketKeyRotation,
		TicketLifetime:        t.TicketLifetime,
		ALPN:                  []string{"h2", "http/1.1"},
		Handshake: tlsloop.HandshakeLimits{
			Timeout:     t.HandshakeTimeout,
			MaxInFlight: t.MaxHandshakes,
			Workers:     t.HandshakeWorkers,
		},
	}
	if len(t.ALPN) > 0 {
		o.ALPN = t.ALPN
	}
	switch t.ClientAuth {
	case "optional":
		o.ClientAuth = tlsloop.OptionalClientCert
	case "require":
		o.ClientAuth = tlsloop.RequireClientCert
	}
	for _, c := range t.Certificates {
		f := tlsloop.CertFile{CertFile: c.CertFile, KeyFile: c.KeyFile, Default: c.Default}
		if len(c.ServerNames) > 0 {
			f.ServerNames = c.ServerNames // empty: the certificate's own names
		}
		o.Certificates = append(o.Certificates, f)
	}
	return o
}

// clientOptions converts an upstream's tls section.
func clientOptions(t *config.UpstreamTLS) tlsloop.ClientOptions {
	return tlsloop.ClientOptions{
		CAFile:             t.CAFile,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
		CertFile:           t.CertFile,
		KeyFile:            t.KeyFile,
		MinVersion:         config.TLSVersion(t.MinVersion),
		MaxVersion:         config.TLSVersion(t.MaxVersion),
		ALPN:               []string{"http/1.1"},
		DisableResumption:  !t.SessionResumption,
	}
}

// compileUpstreamTLS loads the tls section of cfg's upstream i, if any.
func compileUpstreamTLS(cfg *config.Config, i int) (*tlsloop.Client, config.Errors) {
	t := cfg.Upstreams[i].TLS
	if t == nil {
		return nil, nil
	}
	o := clientOptions(t)
	if cfg.Upstreams[i].Protocol == "h2" {
		o.ALPN = []string{"h2"} // HTTP/2 over TLS (up2.go)
	}
	c, err := tlsloop.LoadClient(o)
	return c, tlsLoadErrors(cfg, fmt.Sprintf("upstreams[%d].tls", i), err)
}

// tlsLoadErrors maps tlsloop's LoadErrors under the section at p to
// FieldErrors ("listeners[0].tls.certificates[1].key_file: /etc/k.pem:
// the private key does not match the certificate in /etc/c.pem").
func tlsLoadErrors(cfg *config.Config, p string, err error) config.Errors {
	if err == nil {
		return nil
	}
	var les tlsloop.LoadErrors
	if !errors.As(err, &les) {
		return config.Errors{cfg.Errorf(p, err.Error())}
	}
	var out config.Errors
	for _, e := range les {
		path := p + "." + e.Field
		if e.Index >= 0 {
			path = fmt.Sprintf("%s.certificates[%d].%s", p, e.Index, e.Field)
		}
		msg := e.Reason
		if e.File != "" {
			msg = e.File + ": " + e.Reason
		}
		out = append(out, errorAt(cfg, path, msg))
	}
	return out
}

// errorAt is cfg.Errorf at path's line, or its nearest ancestor's when the
// field is not in the file (server_names[0] comes from the certificate).
func errorAt(cfg *config.Config, path, msg string) *config.FieldError {
	e := cfg.Errorf(path, msg)
	for p := path; e.Line == 0 && p != ""; {
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
		e.Line = cfg.Line(p)
	}
	return e
}

// dialTLS runs the TLS handshake toward an upstream on nc, a connection
// just dialed, in the dial goroutine, within what is left of the connect
// timeout.
func dialTLS(c *tlsloop.Client, nc net.Conn, addr string, deadline time.Time) (*tlsloop.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	return c.Handshake(ctx, nc, host)
}

// sameProtocols reports whether listeners i and j may share a port:
// connections are told apart by their local port (listenerOf), so two
// listeners on one port (different addresses) must serve the same way.
func sameProtocols(cfg *config.Config, i, j int) bool {
	a, b := cfg.Listeners[i], cfg.Listeners[j]
	return a.TLS == nil && b.TLS == nil && (a.HTTPSRedirect == nil) == (b.HTTPSRedirect == nil) &&
		slices.Equal(a.Protocols, b.Protocols)
}

// closeTLS ends the TLS under c, if any, when its socket has closed: a
// handshake in progress stops, the buffers go.
func closeTLS(c gnet.Conn) {
	if t := tlsOf(c); t != nil {
		t.t.Close()
	}
}

// clientCert applies the route's client_cert to the request: without a
// verified client certificate a required one answers 403 (it returns
// true); with one, its subject and SANs go into the identity fields the
// gate sends upstream. The client's own fields of those names are never
// forwarded (gate.reqDrop).
func (d *exchange) clientCert(g *gate, ps *policyState) bool {
	var peer *tlsloop.Peer
	if in := d.cl.tls(); in != nil {
		peer = in.Peer
	}
	if peer == nil || !peer.Verified {
		if !g.certRequired {
			return false
		}
		d.authRejected(metrics.AuthClientCert)
		d.renderLocal(403, nil)
		return true
	}
	if g.certSubject != "" {
		ps.ident = appendField(ps.ident, g.certSubject, peer.Subject)
	}
	if g.certSANs != "" && peer.SANs != "" {
		ps.ident = appendField(ps.ident, g.certSANs, peer.SANs)
	}
	return false
}

// appendField appends "name: value\r\n" (value made header-safe by tlsloop).
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// httpsRedirect is a plain listener's https_redirect, compiled.
type httpsRedirect struct {
	port   string // ":8443"; "" for 443
	status int
	except [][]byte // path prefixes served as usual
}

// compileRedirects returns the listeners' redirects by index, or nil
// when no listener has one.
func compileRedirects(cfg *config.Config) []*httpsRedirect {
	var out []*httpsRedirect
	for i, l := range cfg.Listeners {
		r := l.HTTPSRedirect
		if r == nil {
			continue
		}
		if out == nil {
			out = make([]*httpsRedirect, len(cfg.Listeners))
		}
		rd := &httpsRedirect{status: r.Status}
		if r.Port != 443 {
			rd.port = ":" + strconv.Itoa(r.Port)
		}
		for _, e := range r.Except {
			rd.except = append(rd.except, []byte(e))
		}
		out[i] = rd
	}
	return out
}

// redirectToHTTPS answers the request with a redirect to the same host
// and target over HTTPS when its listener has an https_redirect and the
// path is not an exception. The Host is the request's, checked by the
// parser (a host and an optional port, nothing that could inject a field
// or another URL), with the port replaced by the redirect's.
func (d *exchange) redirectToHTTPS(tbl *table) bool {
	i, ok := d.cl.listener()
	if !ok || i >= len(tbl.redirects) || tbl.redirects[i] == nil {
		return false
	}
	rd := tbl.redirects[i]
	r := &d.req
	for _, e := range rd.except {
		if bytes.HasPrefix(r.Path, e) {
			return false
		}
	}
	if len(r.Host) == 0 {
		d.localError(ErrNoHostToRedirect)
		return true
	}
	d.local = true
	b := append(d.head[:0], "Location: https://"...)
	b = append(b, hostOnly(r.Host)...)
	b = append(b, rd.port...)
	b = append(b, r.Path...)
	if r.Query != nil {
		b = append(b, '?')
		b = append(b, r.Query...)
	}
	b = append(b, "\r\n"...)
	d.head = b
	d.renderLocal(rd.status, b)
	return true
}

// hostOnly returns host without its port ("[::1]:80" -> "[::1]").
func hostOnly(host []byte) []byte {
	i := bytes.LastIndexByte(host, ':')
	if i < 0 || bytes.IndexByte(host[i:], ']') >= 0 {
		return host
	}
	return host[:i]
}

// tlsStats returns the handshake counters of the TLS listeners and of the
// current table's TLS upstreams (hotpath_tls_* metrics).
func (s *Server) tlsStats() []metrics.TLSStats {
	var out []metrics.TLSStats
	add := func(side, name string, st tlsloop.Stats) {
		out = append(out, metrics.TLSStats{
			Side: side, Name: name,
			Full: uint64(st.Handshakes - st.Resumed), Resumed: uint64(st.Resumed),
			Failed: uint64(st.Failed), TimedOut: uint64(st.TimedOut), Refused: uint64(st.Refused),
			InFlight: st.InFlight,
		})
	}
	for i, srv := range s.tlsServers {
		if srv != nil && i < len(s.addrs) {
			add("listener", s.addrs[i], srv.Stats())
		}
	}
	for _, u := range s.tbl.Load().upstreams {
		if u.tls != nil {
			add("upstream", u.name, u.tls.Stats())
		}
	}
	return out
}

// errDialTimeout is a TLS handshake to an upstream that ran out of the
// connect timeout: counted and answered as a connect timeout (504).
var errDialTimeout = errors.New("engine: upstream TLS handshake timed out")

// tlsWarnEvery spaces the warnings about one upstream's failed TLS
// handshakes: a wrong CA fails every connection, and one line says it.
const tlsWarnEvery = 10 * time.Second

// upstreamTLSFailed logs a failed TLS handshake to an endpoint of tu (a
// certificate the gateway does not trust, a name that does not match, no
// common version): at most once per tlsWarnEvery per upstream. Each
// failure is also a connect failure for the request (502) and for the
// endpoint's passive health. It runs in the dial goroutine.
func (s *Server) upstreamTLSFailed(tu *upstream, addr string, err error) {
	now := time.Now().UnixNano()
	last := tu.tlsWarned.Load()
	if now-last < int64(tlsWarnEvery) || !tu.tlsWarned.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("upstream TLS handshake failed", "upstream", tu.name, "endpoint", addr, "err", err)
}
