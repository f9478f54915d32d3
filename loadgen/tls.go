package loadgen

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// TLS configures https:// targets. The zero value verifies the server
// against the system roots, sends the URL's host as SNI (unless it is an
// IP address), offers ALPN http/1.1, speaks TLS 1.2 or 1.3, and never
// resumes a session: every connection is a full handshake.
//
// # How a connection gets its TLS
//
// The loops speak TLS with crypto/tls without blocking, the way the
// gateway does (package tlsloop; loadgen keeps its own copy of the idea,
// since it depends on none of the gateway's packages): a connection's
// connect and handshake run in a goroutine on Go's netpoller, with
// Config.Timeout; the socket is then handed to the loop, and the tls.Conn
// with it, over an in-memory transport: the loop reads ciphertext from
// the socket and lets crypto/tls decrypt it from memory (a Read with none
// left is a temporary net.Error, which crypto/tls tolerates), and
// crypto/tls's records are appended to the connection's write buffer.
// Handshakes are recorded in their own histogram (Result.TLS): request
// latencies start after them.
type TLS struct {
	// Insecure skips certificate verification (--insecure).
	Insecure bool `json:"insecure,omitempty"`
	// ServerName is the SNI sent and the name verified; "" is the URL's
	// host.
	ServerName string `json:"server_name,omitempty"`
	// CAFile (PEM) holds the CAs to verify against; "" is the system
	// roots.
	CAFile string `json:"ca_file,omitempty"`
	// ALPN are the protocols offered; nil is [http/1.1]. hotload speaks
	// HTTP/1.1 only: a server that picks another protocol fails the
	// handshake (counted in Result.TLS.Failed).
	ALPN []string `json:"alpn,omitempty"`
	// Version pins the version ("1.2" or "1.3"); "" offers both.
	Version string `json:"version,omitempty"`
	// Curves are the key exchange groups offered (x25519, p256, p384,
	// x25519mlkem768); nil is Go's defaults.
	Curves []string `json:"curves,omitempty"`
	// Resume keeps session tickets and resumes with them (--tls-resume):
	// with NoKeepAlive, this measures resumed handshakes.
	Resume bool `json:"resume,omitempty"`
}

// ErrTLS is a TLS configuration or handshake that cannot work: the run is
// not made.
var ErrTLS = errors.New("loadgen: TLS")

// TLSResult are a run's handshake figures.
type TLSResult struct {
	Handshakes int64 // completed (connect + handshake), all of the run
	Resumed    int64 // of which resumed a session
	Failed     int64 // failed (also counted as connect errors)
	// Handshake is the time from the connect to the handshake's end,
	// microseconds, for the handshakes completed in the recorded period.
	Handshake *hdrhistogram.Histogram
	// Protocol is what the first handshake negotiated: "TLSv1.3
	// TLS_AES_128_GCM_SHA256 X25519 http/1.1".
	Protocol string
}

// tlsStats are one loop's handshake figures.
type tlsStats struct {
	hist                        *hdrhistogram.Histogram
	handshakes, resumed, failed int64
	protocol                    string
}

var tlsVersionNames = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

var tlsCurveNames = map[string]tls.CurveID{
	"x25519": tls.X25519, "p256": tls.CurveP256, "p384": tls.CurveP384, "p521": tls.CurveP521,
	"x25519mlkem768": tls.X25519MLKEM768,
}

// checkTLS is Check's part for https:// targets: TLS options only for
// them, HTTP/1.1 over them, and every option one that Run can use.
func (c Config) checkTLS() error {
	https := c.Targets[0].https
	switch {
	case https && c.HTTP2:
		return &FieldError{Field: "HTTP2", Value: "true", Want: "false: hotload speaks HTTP/2 over cleartext only (h2c); https:// targets speak HTTP/1.1"}
	case c.TLS == nil:
		return nil
	case !https:
		field, value := c.TLS.firstSet()
		return &FieldError{Field: field, Value: value, Want: "no TLS options for an http:// target"}
	}
	t := c.TLS
	if _, ok := tlsVersionNames[t.Version]; !ok && t.Version != "" {
		return &FieldError{Field: "TLS.Version", Value: t.Version, Want: "1.2 or 1.3"}
	}
	for _, name := range t.Curves {
		if _, ok := tlsCurveNames[strings.ToLower(name)]; !ok {
			return &FieldError{Field: "TLS.Curves", Value: name, Want: "x25519, p256, p384, p521 or x25519mlkem768"}
		}
	}
	for _, p := range t.ALPN {
		if len(p) == 0 || len(p) > 255 {
			return &FieldError{Field: "TLS.ALPN", Value: strconv.Quote(p), Want: "protocol names of 1 to 255 bytes"}
		}
	}
	if t.CAFile != "" {
		if _, err := t.rootCAs(); err != nil {
			return &FieldError{Field: "TLS.CAFile", Value: t.CAFile, Want: "a readable PEM file of CA certificates (" + err.Error() + ")"}
		}
	}
	return nil
}

// firstSet names the first option t sets, as a Config field, with its
// value ("TLS", "{}" when none is).
func (t *TLS) firstSet() (field, value string) {
	switch {
	case t.Insecure:
		return "TLS.Insecure", "true"
	case t.ServerName != "":
		return "TLS.ServerName", t.ServerName
	case t.CAFile != "":
		return "TLS.CAFile", t.CAFile
	case t.ALPN != nil:
		return "TLS.ALPN", strings.Join(t.ALPN, ",")
	case t.Version != "":
		return "TLS.Version", t.Version
	case t.Curves != nil:
		return "TLS.Curves", strings.Join(t.Curves, ",")
	case t.Resume:
		return "TLS.Resume", "true"
	}
	return "TLS", "{}"
}

// rootCAs reads CAFile.
func (t *TLS) rootCAs() (*x509.CertPool, error) {
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is the field's value
		}
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in it")
	}
	return pool, nil
}

// clientConfig builds the crypto/tls config for host from options that
// Check accepted.
func (t *TLS) clientConfig(host string, connections int) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: t.Insecure, ServerName: t.ServerName, NextProtos: t.ALPN}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.NextProtos == nil {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if v, ok := tlsVersionNames[t.Version]; ok {
		cfg.MinVersion, cfg.MaxVersion = v, v
	}
	for _, name := range t.Curves {
		cfg.CurvePreferences = append(cfg.CurvePreferences, tlsCurveNames[strings.ToLower(name)])
	}
	if t.CAFile != "" {
		var err error
		if cfg.RootCAs, err = t.rootCAs(); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadConfig, t.CAFile, err)
		}
	}
	if t.Resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(max(connections, 64))
	}
	return cfg, nil
}

// tlsProbe makes one handshake, so that a run that cannot work (a
// certificate that does not verify, no common version) fails at once with
// the reason.
func tlsProbe(cfg *tls.Config, addr string, timeout time.Duration) error {
	d := &net.Dialer{Timeout: timeout}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg.Clone()) // a clone: the probe's ticket is not reused
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTLS, addr, err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		return fmt.Errorf("%w: %s: the server chose ALPN %q; hotload speaks http/1.1", ErrTLS, addr, p)
	}
	return nil
}

// tlsDialer connects and handshakes a loop's TLS connections in
// goroutines and hands them to the loop: results are queued and the loop
// woken through an eventfd in its epoll set.
type tlsDialer struct {
	cfg     *tls.Config
	addr    string
	timeout time.Duration
	efd     int
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	done    []handshake // finished, for the loop
	scratch []handshake
}

// handshake is a finished connect and handshake for conn idx of
// generation gen.
type handshake struct {
	idx, gen int32
	fd       int
	sess     *tlsSession
	took     time.Duration
	err      error
}

// tlsEvent is the epoll Fd value of the dialer's eventfd (conns use their
// index).
const tlsEvent = -1

func newTLSDialer(cfg *tls.Config, addr string, timeout time.Duration, ep int) (*tlsDialer, error) {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tlsEvent}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		return nil, fmt.Errorf("loadgen: epoll_ctl: %w", err)
	}
	d := &tlsDialer{cfg: cfg, addr: addr, timeout: timeout, efd: efd}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d, nil
}

// close stops the handshakes in progress, waits for their goroutines and
// closes what they left.
func (d *tlsDialer) close() {
	d.cancel()
	d.wg.Wait()
	for _, h := range d.done {
		if h.err == nil {
			unix.Close(h.fd)
		}
	}
	unix.Close(d.efd)
}

// start connects and handshakes for conn idx (generation gen) in a
// goroutine.
func (d *tlsDialer) start(idx, gen int32) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		h := handshake{idx: idx, gen: gen}
		begin := time.Now()
		h.fd, h.sess, h.err = d.dial()
		h.took = time.Since(begin)
		d.mu.Lock()
		d.done = append(d.done, h)
		d.mu.Unlock()
		var one = [8]byte{1}
		_, _ = unix.Write(d.efd, one[:]) // wakes the loop
	}()
}

// dial connects, handshakes, and takes the socket from Go's netpoller: a
// duplicate descriptor, non-blocking, for the loop.
func (d *tlsDialer) dial() (int, *tlsSession, error) {
	ctx, cancel := context.WithTimeout(d.ctx, d.timeout)
	defer cancel()
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return -1, nil, err
	}
	defer nc.Close() // the loop keeps the duplicate
	_ = nc.(*net.TCPConn).SetNoDelay(true)
	s := &tlsSession{}
	s.tr.nc = nc
	s.tc = tls.Client(&s.tr, d.cfg)
	if err := s.tc.HandshakeContext(ctx); err != nil {
		return -1, nil, err
	}
	if p := s.tc.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		return -1, nil, fmt.Errorf("%w: ALPN %q", ErrTLS, p)
	}
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		return -1, nil, err
	}
	fd := -1
	cerr := raw.Control(func(f uintptr) { fd, err = unix.Dup(int(f)) })
	if cerr != nil || err != nil {
		return -1, nil, errors.Join(cerr, err)
	}
	s.tr.nc = nil // from now on crypto/tls reads and writes memory
	return fd, s, nil
}

// take returns the finished handshakes (valid until the next take).
func (d *tlsDialer) take() []handshake {
	var b [8]byte
	_, _ = unix.Read(d.efd, b[:])
	d.mu.Lock()
	d.scratch, d.done = d.done, d.scratch[:0]
	d.mu.Unlock()
	return d.scratch
}

// tlsSession is a connection's TLS state on the loop.
type tlsSession struct {
	tc *tls.Conn
	tr tlsTransport
}

// tlsTransport is the net.Conn under a tls.Conn: the socket during the
// handshake (in its goroutine), memory after (on the loop).
type tlsTransport struct {
	nc  net.Conn
	src []byte  // ciphertext read from the socket, not yet taken
	dst *[]byte // the connection's write buffer
}

// tlsWouldBlock is the transport's "no more ciphertext": Temporary, so
// crypto/tls keeps a partial record and the connection usable.
type tlsWouldBlock struct{}

func (tlsWouldBlock) Error() string   { return "loadgen: no more ciphertext" }
func (tlsWouldBlock) Timeout() bool   { return false }
func (tlsWouldBlock) Temporary() bool { return true }

func (t *tlsTransport) Read(p []byte) (int, error) {
	if t.nc != nil {
		return t.nc.Read(p)
	}
	if len(t.src) == 0 {
		return 0, tlsWouldBlock{}
	}
	n := copy(p, t.src)
	t.src = t.src[n:]
	return n, nil
}

func (t *tlsTransport) Write(b []byte) (int, error) {
	if t.nc != nil {
		return t.nc.Write(b)
	}
	*t.dst = append(*t.dst, b...)
	return len(b), nil
}

func (t *tlsTransport) Close() error {
	if t.nc != nil {
		return t.nc.Close() // HandshakeContext's context ended
	}
	return nil
}

func (t *tlsTransport) LocalAddr() net.Addr {
	if t.nc != nil {
		return t.nc.LocalAddr()
	}
	return nil
}

func (t *tlsTransport) RemoteAddr() net.Addr {
	if t.nc != nil {
		return t.nc.RemoteAddr()
	}
	return nil
}

func (t *tlsTransport) SetDeadline(d time.Time) error      { return nil }
func (t *tlsTransport) SetReadDeadline(d time.Time) error  { return nil }
func (t *tlsTransport) SetWriteDeadline(d time.Time) error { return nil }

// tlsConnect starts a TLS connection for c: connect and handshake off the
// loop; c waits in stConnecting until tlsHandshakes hands it over.
func (l *loop) tlsConnect(c *conn, now int64) {
	c.closeMe, c.wantOut = false, false
	c.rlen, c.wbuf, c.woff, c.qh, c.qn, c.phase = 0, c.wbuf[:0], 0, 0, 0, phHead
	c.resp.Reset()
	c.gen++
	c.fd, c.state, c.connAt, c.tls = -1, stConnecting, now, nil
	l.tls.start(c.idx, c.gen)
}

// tlsHandshakes takes the finished handshakes: each one still wanted
// becomes an open connection on the loop, and sends its requests.
func (l *loop) tlsHandshakes(now int64) {
	st := &l.stats.tls
	for _, h := range l.tls.take() {
		c := &l.conns[h.idx]
		if c.gen != h.gen || c.state != stConnecting {
			if h.err == nil {
				unix.Close(h.fd) // its conn timed out and moved on
			}
			continue
		}
		if h.err != nil {
			st.failed++
			l.stats.tlsFailed(ErrConnect, h.err)
			c.state = stClosed
			l.later(c, now+int64(reconnectGap))
			continue
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: c.idx, Pad: c.gen}
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, h.fd, &ev); err != nil {
			unix.Close(h.fd)
			l.stats.failed(ErrConnect, err)
			c.state = stClosed
			l.later(c, now+int64(reconnectGap))
			continue
		}
		cs := h.sess.tc.ConnectionState()
		st.handshakes++
		if cs.DidResume {
			st.resumed++
		}
		if st.protocol == "" {
			st.protocol = strings.TrimSpace(fmt.Sprintf("%s %s %s %s", tls.VersionName(cs.Version),
				tls.CipherSuiteName(cs.CipherSuite), cs.CurveID, cs.NegotiatedProtocol))
		}
		if now >= l.recStart {
			record(st.hist, h.took.Microseconds())
		}
		h.sess.tr.dst = &c.wbuf
		c.fd, c.tls, c.state = h.fd, h.sess, stOpen
		l.stats.connects++
		l.fill(c, now)
		l.settle(c, now)
	}
}

// tlsRead reads ciphertext from c's socket and decrypts all it can into
// c.rbuf, framing responses as they come (read does the same without
// TLS).
func (l *loop) tlsRead(c *conn, now int64) {
	if cap(c.tlsIn) == 0 {
		c.tlsIn = make([]byte, readBufSize)
	}
	n, err := rawRead(c.fd, c.tlsIn[:cap(c.tlsIn)])
	if !l.readResult(c, n, err, now) {
		return
	}
	s := c.tls
	s.tr.src = c.tlsIn[:n]
	for !c.closeMe {
		if c.rlen == len(c.rbuf) {
			nb := make([]byte, 2*len(c.rbuf)) // a head larger than the buffer (rare)
			copy(nb, c.rbuf)
			c.rbuf = nb
		}
		m, err := s.tc.Read(c.rbuf[c.rlen:])
		c.rlen += m
		if m > 0 {
			l.consume(c, now)
		}
		if err != nil {
			if _, ok := err.(tlsWouldBlock); !ok {
				if c.qn > 0 {
					l.stats.tlsFailed(ErrRead, err) // an alert, a bad record, or close_notify mid-response
				}
				c.closeMe = true
			}
			break
		}
	}
	s.tr.src = nil
	if len(c.wbuf) > c.woff && !c.closeMe {
		l.flush(c, now) // crypto/tls answered something (a key update)
	}
}

// causeTLS is the cause (beside the errno values, all below it) of a
// failure of TLS itself: a handshake refused, an alert, a bad record.
const causeTLS = maxCause - 1

// tlsFailed counts a failure of class e on a TLS connection by its cause:
// the errno under it, ETIMEDOUT for a handshake out of time, EOF (0) for
// a close_notify, else causeTLS.
func (s *stats) tlsFailed(e ErrorClass, err error) {
	var errno unix.Errno
	var ne net.Error
	switch {
	case errors.As(err, &errno):
		s.failed(e, errno)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		s.failed(e, unix.ETIMEDOUT)
	case errors.Is(err, io.EOF):
		s.failed(e, nil)
	default:
		s.errs[e]++
		s.causes[e][causeTLS]++
	}
}

// tlsResult merges the loops' handshake figures.
func tlsResult(loops []*loop) *TLSResult {
	r := &TLSResult{Handshake: newHistogram()}
	for _, l := range loops {
		s := &l.stats.tls
		r.Handshakes += s.handshakes
		r.Resumed += s.resumed
		r.Failed += s.failed
		if s.hist != nil {
			r.Handshake.Merge(s.hist)
		}
		if r.Protocol == "" {
			r.Protocol = s.protocol
		}
	}
	return r
}

// TLSReport is the JSON form of a TLSResult.
type TLSReport struct {
	Handshakes int64   `json:"handshakes"`
	Resumed    int64   `json:"resumed"`
	Failed     int64   `json:"failed,omitempty"`
	Protocol   string  `json:"protocol,omitempty"`
	Figures    Figures `json:"handshake"` // connect + handshake, microseconds
	Hist       string  `json:"handshake_us"`
}

func (t *TLSResult) report() (*TLSReport, error) {
	if t == nil {
		return nil, nil
	}
	h, err := t.Handshake.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, err
	}
	return &TLSReport{Handshakes: t.Handshakes, Resumed: t.Resumed, Failed: t.Failed, Protocol: t.Protocol,
		Figures: figures(t.Handshake), Hist: string(h)}, nil
}

func (r *TLSReport) result() (*TLSResult, error) {
	if r == nil {
		return nil, nil
	}
	h, err := hdrhistogram.Decode([]byte(r.Hist))
	if err != nil {
		return nil, fmt.Errorf("%w: handshake histogram: %v", ErrBadReport, err)
	}
	return &TLSResult{Handshakes: r.Handshakes, Resumed: r.Resumed, Failed: r.Failed, Protocol: r.Protocol, Handshake: h}, nil
}

// merge returns t and o summed (either may be nil).
func (t *TLSResult) merge(o *TLSResult) *TLSResult {
	if o == nil {
		return t
	}
	if t == nil {
		t = &TLSResult{Handshake: newHistogram(), Protocol: o.Protocol}
	}
	t.Handshakes += o.Handshakes
	t.Resumed += o.Resumed
	t.Failed += o.Failed
	t.Handshake.Merge(o.Handshake)
	return t
}

// summary prints the handshake lines of WriteSummary.
func (t *TLSResult) summary(b *strings.Builder) {
	if t == nil {
		return
	}
	fmt.Fprintf(b, "TLS: %s; %d handshakes (%d resumed, %d failed)\n", t.Protocol, t.Handshakes, t.Resumed, t.Failed)
	if h := t.Handshake; h.TotalCount() > 0 {
		fmt.Fprintf(b, "  Handshake (connect + TLS, not in the latency above): p50 %s, p90 %s, p99 %s, max %s\n",
			fmtUS(float64(h.ValueAtQuantile(50))), fmtUS(float64(h.ValueAtQuantile(90))),
			fmtUS(float64(h.ValueAtQuantile(99))), fmtUS(float64(h.Max())))
	}
}
