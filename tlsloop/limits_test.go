package tlsloop_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hotpath/hotpath/tlsloop"
)

// TestSlowClientHello: a client that sends part of its ClientHello and
// stops is closed after the handshake timeout, and counted.
func TestSlowClientHello(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	o := certs(cert, key)
	o.Handshake.Timeout = 300 * time.Millisecond
	srv, s := serverWith(t, o)
	hello := clientHello(t, "s.example.test")
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(hello[:20]); err != nil {
		t.Fatal(err)
	}
	// A client that completes its handshake meanwhile is served.
	if status, _, err := get(t, s.addr, &tls.Config{ServerName: "s.example.test", RootCAs: p.pool()}); err != nil || status != 200 {
		t.Fatalf("a normal client: %d %v", status, err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1024))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server did not close the stalled connection within 10s")
	}
	if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read %d bytes, %v; want the connection closed", n, err)
	}
	eventually(t, "counted", func() bool { return srv.Stats().TimedOut == 1 })
	if st := srv.Stats(); st.Handshakes != 1 || st.Failed != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestHandshakeFlood opens many connections that send a ClientHello and
// never finish: at most MaxInFlight handshakes run (the rest are refused
// and closed), goroutines and memory stay bounded, and an established
// connection is served throughout.
func TestHandshakeFlood(t *testing.T) {
	const (
		maxInFlight = 16
		flood       = 300
	)
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	o := certs(cert, key)
	o.Handshake = tlsloop.HandshakeLimits{MaxInFlight: maxInFlight, Workers: 1, Timeout: time.Minute}
	srv, s := serverWith(t, o)

	est, err := tls.Dial("tcp", s.addr, &tls.Config{ServerName: "s.example.test", RootCAs: p.pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	_ = est.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := readResponse(est); err != nil {
		t.Fatal(err)
	}

	hello := clientHello(t, "s.example.test")
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range flood {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		if i%30 == 0 {
			if _, err := readResponse(est); err != nil {
				t.Fatalf("the established connection during the flood: %v", err)
			}
		}
	}
	eventually(t, "every flood handshake running or refused", func() bool {
		st := srv.Stats()
		return st.InFlight+st.Refused == flood
	})
	st := srv.Stats()
	if st.InFlight != maxInFlight || st.PeakInFlight != maxInFlight || st.Refused != flood-maxInFlight {
		t.Errorf("stats %+v: want %d in flight, %d refused", st, maxInFlight, flood-maxInFlight)
	}
	if extra := runtime.NumGoroutine() - goroutines; extra > maxInFlight+8 {
		t.Errorf("%d more goroutines during the flood, want at most about %d", extra, maxInFlight)
	}
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	grown := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew by %d KiB for %d handshakes in flight and %d refused", grown>>10, st.InFlight, st.Refused)
	if grown > 32<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	if _, err := readResponse(est); err != nil {
		t.Fatalf("the established connection after the flood: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
	eventually(t, "handshakes ended by the clients' close", func() bool { return srv.Stats().InFlight == 0 })
}
