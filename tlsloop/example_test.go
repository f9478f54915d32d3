package tlsloop_test

import (
	"errors"
	"io"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/hotpath/hotpath/tlsloop"
)

// secureConn is a client connection as an engine sees it: the socket's
// gnet.Conn with its byte methods replaced by the TLS connection's
// plaintext, so that HTTP code written against gnet.Conn runs unchanged.
type secureConn struct {
	gnet.Conn
	tls *tlsloop.Conn
}

func (c *secureConn) Peek(n int) ([]byte, error) { return c.tls.Peek(n) }
func (c *secureConn) Discard(n int) (int, error) { return c.tls.Discard(n) }
func (c *secureConn) InboundBuffered() int       { return c.tls.Buffered() }

func (c *secureConn) Write(p []byte) (int, error) {
	n, err := c.tls.Write(p)
	_ = c.tls.Flush(c.Conn)
	return n, err
}

func (c *secureConn) Writev(bs [][]byte) (int, error) {
	n, err := c.tls.Writev(bs)
	_ = c.tls.Flush(c.Conn)
	return n, err
}

// handler is a gnet.EventHandler serving HTTP over TLS.
type handler struct {
	gnet.BuiltinEventEngine
	tls *tlsloop.Server
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	// The handshake reports progress through gnet's Wake: OnTraffic again.
	c.SetContext(&secureConn{Conn: c, tls: h.tls.NewConn(func() { _ = c.Wake(nil) })})
	return nil, gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	sc := c.Context().(*secureConn)
	in, _ := c.Peek(-1)
	n, err := sc.tls.Feed(in)
	if n > 0 {
		_, _ = c.Discard(n)
	}
	_ = sc.tls.Flush(c) // a handshake flight, an alert, a ticket
	if err != nil && !errors.Is(err, io.EOF) {
		return gnet.Close
	}
	if !sc.tls.Established() {
		return gnet.None // the handshake goes on off the loop
	}
	return serve(sc) // the HTTP code, as over TCP
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	c.Context().(*secureConn).tls.Close()
	return gnet.None
}

// serve stands for the connection's HTTP code: it reads requests with
// Peek and Discard and answers with Write, on a gnet.Conn.
func serve(c gnet.Conn) gnet.Action {
	req, _ := c.Peek(-1)
	_, _ = c.Discard(len(req))
	_, _ = c.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
	return gnet.None
}

// Example runs TLS on gnet's event loops.
func Example() {
	sc, err := tlsloop.LoadServer(tlsloop.ServerOptions{
		Certificates: []tlsloop.CertFile{
			{CertFile: "/etc/hotpath/example.com.ecdsa.pem", KeyFile: "/etc/hotpath/example.com.ecdsa.key"},
			{CertFile: "/etc/hotpath/example.com.rsa.pem", KeyFile: "/etc/hotpath/example.com.rsa.key"},
		},
	}, time.Now())
	if err != nil {
		return // a LoadErrors: each file that cannot be used, and why
	}
	_ = gnet.Run(&handler{tls: tlsloop.NewServer(sc)}, "tcp://:8443", gnet.WithMulticore(true))
}
