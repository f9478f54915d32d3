package tlsloop_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/tlsloop"
)

// upstream is a loop server for the client tests, with a certificate for
// up.example.test and 127.0.0.1.
func upstream(t *testing.T, p *pki, mod func(*tlsloop.ServerOptions)) (*tlsloop.Server, *loopServer) {
	t.Helper()
	cert, key := p.issue(leaf{name: "up", cn: "up", dns: []string{"up.example.test"}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	o := certs(cert, key)
	if mod != nil {
		mod(&o)
	}
	return serverWith(t, o)
}

// dialTLS dials addr and runs cl's handshake on the connection, as the
// engine's dial goroutine will.
func dialTLS(t *testing.T, cl *tlsloop.Client, addr, host string) (*tlsloop.Conn, net.Conn, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cl.Handshake(ctx, nc, host)
	return c, nc, err
}

// exchange sends a GET through c (whose socket is nc) and reads the
// response with the record layer on this goroutine: Write, Flush to the
// socket, Feed what the socket returns.
func exchange(t *testing.T, c *tlsloop.Conn, nc net.Conn) *http.Response {
	t.Helper()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: up\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(nc); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 16<<10)
	for {
		if b, _ := c.Peek(-1); bytes.Contains(b, []byte("Hello, world!")) {
			resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
			if err != nil {
				t.Fatal(err)
			}
			c.Discard(-1)
			return resp
		}
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if _, err := c.Feed(buf[:n]); err != nil {
			t.Fatalf("Feed: %v", err)
		}
		_ = c.Flush(nc)
	}
}

// TestClientVerify: an upstream's certificate is verified against the CA
// file, for the endpoint's host by default.
func TestClientVerify(t *testing.T) {
	p := newPKI(t, 0)
	wrong := newPKI(t, 1)
	_, up := upstream(t, p, nil)
	for _, c := range []struct {
		name     string
		opts     tlsloop.ClientOptions
		host     string
		err      string
		verified bool
	}{
		{name: "ca-file-ip-host", opts: tlsloop.ClientOptions{CAFile: p.caFile}, host: "127.0.0.1", verified: true},
		{name: "server-name", opts: tlsloop.ClientOptions{CAFile: p.caFile, ServerName: "up.example.test"}, host: "127.0.0.1", verified: true},
		{name: "wrong-ca", opts: tlsloop.ClientOptions{CAFile: wrong.caFile}, host: "127.0.0.1", err: "certificate signed by unknown authority"},
		{name: "system-roots", opts: tlsloop.ClientOptions{}, host: "127.0.0.1", err: "certificate signed by unknown authority"},
		{name: "wrong-name", opts: tlsloop.ClientOptions{CAFile: p.caFile, ServerName: "other.example.test"}, host: "127.0.0.1", err: "not other.example.test"},
		{name: "insecure", opts: tlsloop.ClientOptions{CAFile: wrong.caFile, InsecureSkipVerify: true}, host: "127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := tlsloop.LoadClient(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			conn, nc, err := dialTLS(t, cl, up.addr, c.host)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if c.name == "wrong-ca" {
					var ua x509.UnknownAuthorityError
					if !errors.As(err, &ua) {
						t.Errorf("%T is not an x509.UnknownAuthorityError", err)
					}
				}
				if st := cl.Stats(); st.Failed != 1 {
					t.Errorf("stats %+v", st)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp := exchange(t, conn, nc); resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if peer := conn.Info().Peer; peer == nil || peer.Verified != c.verified || peer.Subject != "CN=up,O=hotpath tests" {
				t.Errorf("peer %+v", peer)
			}
		})
	}
}

// TestClientResumption: the second connection to an upstream resumes the
// first one's session, unless resumption is off.
func TestClientResumption(t *testing.T) {
	p := newPKI(t, 0)
	_, up := upstream(t, p, nil)
	for _, c := range []struct {
		name    string
		disable bool
		resumed int64
	}{
		{name: "on", resumed: 2},
		{name: "off", disable: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := tlsloop.LoadClient(tlsloop.ClientOptions{CAFile: p.caFile, DisableResumption: c.disable})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				conn, nc, err := dialTLS(t, cl, up.addr, "127.0.0.1")
				if err != nil {
					t.Fatal(err)
				}
				// The response carries the TLS 1.3 ticket in: Feed stores it.
				exchange(t, conn, nc)
				if want := i > 0 && !c.disable; conn.Info().Resumed != want {
					t.Errorf("connection %d: resumed %v", i, conn.Info().Resumed)
				}
				nc.Close()
			}
			if st := cl.Stats(); st.Handshakes != 3 || st.Resumed != c.resumed {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestClientCertificate: an upstream that requires a client certificate
// accepts the Client's.
func TestClientCertificate(t *testing.T) {
	p := newPKI(t, 0)
	_, up := upstream(t, p, func(o *tlsloop.ServerOptions) {
		o.ClientAuth, o.ClientCAFile = tlsloop.RequireClientCert, p.caFile
	})
	gwCert, gwKey := p.issue(leaf{name: "gateway", cn: "gateway", client: true})
	cl, err := tlsloop.LoadClient(tlsloop.ClientOptions{CAFile: p.caFile, CertFile: gwCert, KeyFile: gwKey})
	if err != nil {
		t.Fatal(err)
	}
	conn, nc, err := dialTLS(t, cl, up.addr, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	resp := exchange(t, conn, nc)
	if got := resp.Header.Get("X-Client-Subject"); got != "CN=gateway,O=hotpath tests" {
		t.Errorf("the upstream saw %q", got)
	}
	_, err = tlsloop.LoadClient(tlsloop.ClientOptions{CertFile: gwCert, KeyFile: p.otherKey("wrong.key")})
	var errs tlsloop.LoadErrors
	if !errors.As(err, &errs) || errs[0].Field != "key_file" {
		t.Errorf("a mismatched client key: %v", err)
	}
}

// TestClientHandshakeDeadline: an upstream that accepts and never answers
// fails the handshake at the context's deadline.
func TestClientHandshakeDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	cl, err := tlsloop.LoadClient(tlsloop.ClientOptions{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := cl.Handshake(ctx, nc, "127.0.0.1"); err == nil {
		t.Fatal("a handshake with a silent upstream succeeded")
	}
	(<-accepted).Close()
}

// TestClientOnLoop runs a client Conn whose handshake is fed by a loop
// (NewConn): the ClientHello goes out after the first wake.
func TestClientOnLoop(t *testing.T) {
	p := newPKI(t, 0)
	_, up := upstream(t, p, nil)
	cl, err := tlsloop.LoadClient(tlsloop.ClientOptions{CAFile: p.caFile})
	if err != nil {
		t.Fatal(err)
	}
	nc, err := net.Dial("tcp", up.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wake, woken := notifier()
	conn, err := cl.NewConn("127.0.0.1", wake)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reads := make(chan []byte)
	go func() {
		defer close(reads)
		for {
			buf := make([]byte, 16<<10)
			n, err := nc.Read(buf)
			if err != nil {
				return
			}
			reads <- buf[:n]
		}
	}()
	var pending []byte
	deadline := time.After(10 * time.Second)
	for conn.Handshaking() {
		select {
		case b, ok := <-reads:
			if !ok {
				t.Fatal("the upstream closed")
			}
			pending = append(pending, b...)
		case <-woken:
		case <-deadline:
			t.Fatal("no handshake in 10s")
		}
		n, err := conn.Feed(pending)
		if err != nil {
			t.Fatal(err)
		}
		pending = pending[n:]
		if err := conn.Flush(nc); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: up\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = conn.Flush(nc)
	for !bytes.Contains(mustPeek(conn), []byte("Hello, world!")) {
		select {
		case b, ok := <-reads:
			if !ok {
				t.Fatal("the upstream closed")
			}
			if _, err := conn.Feed(b); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			t.Fatal("no response in 10s")
		}
	}
	nc.Close()
	for range reads {
	}
}
