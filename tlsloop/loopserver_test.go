package tlsloop_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/parser"
	"github.com/hotpath/hotpath/tlsloop"
)

// loopServer is the engine's integration in miniature: a gnet v2 server
// whose connections run TLS through package tlsloop and answer every
// HTTP/1.1 request with a fixed response. Its HTTP code (serveHTTP) is
// written against gnet.Conn and cannot tell TLS from TCP: tlsConn wraps the
// socket's gnet.Conn with the TLS connection's plaintext.
type loopServer struct {
	gnet.BuiltinEventEngine
	tls   *tlsloop.Server // nil: plain TCP
	body  []byte
	loops int

	addr   string
	eng    gnet.Engine
	booted chan struct{}
	done   chan struct{}
	runErr error

	requests atomic.Int64
}

// tlsConn is a client connection: the socket (gnet.Conn) with the byte
// methods the HTTP code uses replaced by the TLS connection's plaintext.
type tlsConn struct {
	gnet.Conn
	t *tlsloop.Conn
	httpState
}

// Peek, Discard and InboundBuffered read plaintext; Write and Writev
// encrypt and send: the HTTP code's calls on gnet.Conn land here.
func (c *tlsConn) Peek(n int) ([]byte, error) { return c.t.Peek(n) }
func (c *tlsConn) Discard(n int) (int, error) { return c.t.Discard(n) }
func (c *tlsConn) InboundBuffered() int       { return c.t.Buffered() }

func (c *tlsConn) Write(p []byte) (int, error) {
	n, err := c.t.Write(p)
	if ferr := c.t.Flush(c.Conn); err == nil {
		err = ferr
	}
	return n, err
}

func (c *tlsConn) Writev(bs [][]byte) (int, error) {
	n, err := c.t.Writev(bs)
	if ferr := c.t.Flush(c.Conn); err == nil {
		err = ferr
	}
	return n, err
}

// plainConn is a client connection without TLS.
type plainConn struct {
	gnet.Conn
	httpState
}

// httpState is a connection's HTTP/1.1 state: the request parser and the
// response head buffer.
type httpState struct {
	req parser.Request
	out []byte
	iov [2][]byte
}

// startLoopServer runs a loopServer on 127.0.0.1 with the given TLS (nil:
// plain) until the test ends.
func startLoopServer(t testing.TB, srv *tlsloop.Server, loops int) *loopServer {
	t.Helper()
	s := newLoopServer(srv, loops)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	ln.Close()
	go func() {
		defer close(s.done)
		s.runErr = runGnet(s)
	}()
	select {
	case <-s.booted:
	case <-s.done:
		t.Fatalf("gnet: %v", s.runErr)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.eng.Stop(ctx)
		<-s.done
	})
	return s
}

func newLoopServer(srv *tlsloop.Server, loops int) *loopServer {
	return &loopServer{tls: srv, body: []byte("Hello, world!"), loops: loops, booted: make(chan struct{}), done: make(chan struct{})}
}

// runGnet runs s on s.addr until its engine stops.
func runGnet(s *loopServer) error {
	return gnet.Run(s, "tcp://"+s.addr,
		gnet.WithMulticore(s.loops > 1), gnet.WithNumEventLoop(s.loops),
		gnet.WithReusePort(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(quietLogger{}))
}

func (s *loopServer) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	close(s.booted)
	return gnet.None
}

func (s *loopServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if s.tls == nil {
		c.SetContext(&plainConn{Conn: c})
		return nil, gnet.None
	}
	// gnet's Wake triggers OnTraffic on c's loop: that is where the
	// handshake's progress is picked up. A wake for a closed connection
	// is ignored by gnet.
	tc := s.tls.NewConn(func() { _ = c.Wake(nil) })
	c.SetContext(&tlsConn{Conn: c, t: tc})
	return nil, gnet.None
}

func (s *loopServer) OnClose(c gnet.Conn, _ error) gnet.Action {
	if tc, ok := c.Context().(*tlsConn); ok {
		tc.t.Close()
	}
	return gnet.None
}

func (s *loopServer) OnTraffic(c gnet.Conn) gnet.Action {
	switch x := c.Context().(type) {
	case *plainConn:
		return s.serveHTTP(x, &x.httpState)
	case *tlsConn:
		// The TLS pump: ciphertext in, handshake flights or plaintext out.
		buf, _ := c.Peek(-1)
		n, err := x.t.Feed(buf)
		if n > 0 {
			_, _ = c.Discard(n) // Discard(0) would discard everything
		}
		_ = x.t.Flush(c)
		if err != nil && !errors.Is(err, io.EOF) {
			return gnet.Close
		}
		if !x.t.Established() {
			return gnet.None
		}
		action := s.serveHTTP(x, &x.httpState)
		if action == gnet.Close {
			x.t.CloseNotify()
			_ = x.t.Flush(c)
		}
		return action
	}
	return gnet.Close
}

// serveHTTP answers every complete request head in c's input. It knows
// nothing of TLS.
func (s *loopServer) serveHTTP(c gnet.Conn, h *httpState) gnet.Action {
	req := &h.req
	for {
		buf, _ := c.Peek(-1)
		if len(buf) == 0 {
			return gnet.None
		}
		req.Reset()
		n, err := req.Parse(buf)
		if err == parser.ErrNeedMore {
			return gnet.None
		}
		if err != nil {
			return gnet.Close
		}
		keep := req.KeepAlive
		_, _ = c.Discard(n)
		s.requests.Add(1)
		out := append(h.out[:0], "HTTP/1.1 200 OK\r\nServer: loopserver\r\nContent-Type: text/plain\r\nContent-Length: "...)
		out = strconv.AppendInt(out, int64(len(s.body)), 10)
		out = append(out, "\r\n"...)
		if tc, ok := c.(*tlsConn); ok && tc.t.Info().Peer != nil {
			// The verified client certificate's subject, as the engine
			// will send it upstream.
			out = append(out, "X-Client-Subject: "...)
			out = append(out, tc.t.Info().Peer.Subject...)
			out = append(out, "\r\n"...)
		}
		if !keep {
			out = append(out, "Connection: close\r\n"...)
		}
		out = append(out, "\r\n"...)
		h.out = out
		h.iov[0], h.iov[1] = out, s.body
		_, _ = c.Writev(h.iov[:])
		if !keep {
			return gnet.Close
		}
	}
}

// quietLogger drops gnet's logs.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
