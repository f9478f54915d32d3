package tlsloop_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hotpath/hotpath/tlsloop"
)

// notifier returns a wake function that signals ch (once per pending
// signal), and ch.
func notifier() (func(), chan struct{}) {
	ch := make(chan struct{}, 1)
	return func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}, ch
}

// memPair connects a server Conn of srv and a client Conn of cl in memory,
// the test goroutine playing both event loops, and returns them
// established.
func memPair(t testing.TB, srv *tlsloop.Server, cl *tlsloop.Client, host string) (server, client *tlsloop.Conn) {
	t.Helper()
	swake, sch := notifier()
	cwake, cch := notifier()
	server = srv.NewConn(swake)
	client, err := cl.NewConn(host, cwake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	var toServer, toClient []byte
	deadline := time.After(10 * time.Second)
	for server.Handshaking() || client.Handshaking() {
		select {
		case <-sch:
		case <-cch:
		case <-deadline:
			t.Fatal("handshake did not complete in 10s")
		}
		for moved := true; moved; {
			a := step(t, server, &toServer, &toClient)
			b := step(t, client, &toClient, &toServer)
			moved = a || b
		}
	}
	return server, client
}

// step is one event-loop turn for c: it feeds c the bytes in *in (keeping
// what c does not take) and appends c's output to *out. It reports
// whether anything moved.
func step(t testing.TB, c *tlsloop.Conn, in, out *[]byte) bool {
	t.Helper()
	n, err := c.Feed(*in)
	if err != nil {
		t.Fatalf("Feed: %v", err)
	}
	*in = (*in)[n:]
	var b bytes.Buffer
	_ = c.Flush(&b)
	*out = append(*out, b.Bytes()...)
	return n > 0 || b.Len() > 0
}

// testPair is a server and client Conn pair over a fresh PKI.
func testPair(t testing.TB, sopts tlsloop.ServerOptions, copts tlsloop.ClientOptions) (server, client *tlsloop.Conn) {
	t.Helper()
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	sopts.Certificates = []tlsloop.CertFile{{CertFile: cert, KeyFile: key}}
	sc, err := tlsloop.LoadServer(sopts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	copts.CAFile = p.caFile
	cl, err := tlsloop.LoadClient(copts)
	if err != nil {
		t.Fatal(err)
	}
	return memPair(t, tlsloop.NewServer(sc), cl, "s.example.test")
}

// TestRecordLayerChunks sends messages of several sizes and feeds their
// ciphertext to the other side in chunks of several sizes, down to one byte
// at a time: partial records wait inside crypto/tls for the rest.
func TestRecordLayerChunks(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		server, client := testPair(t, tlsloop.ServerOptions{}, tlsloop.ClientOptions{MaxVersion: version})
		for _, size := range []int{1, 100, 16384, 16385, 100_000} {
			for _, chunk := range []int{1, 7, 1000, 1 << 30} {
				if size > 20_000 && chunk < 1000 {
					continue
				}
				msg := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
				if _, err := client.Write(msg); err != nil {
					t.Fatal(err)
				}
				var ct bytes.Buffer
				_ = client.Flush(&ct)
				for b := ct.Bytes(); len(b) > 0; {
					n := min(chunk, len(b))
					if m, err := server.Feed(b[:n]); err != nil || m != n {
						t.Fatalf("%s size %d chunk %d: Feed took %d of %d: %v", tls.VersionName(version), size, chunk, m, n, err)
					}
					b = b[n:]
				}
				got, _ := server.Peek(-1)
				if !bytes.Equal(got, msg) {
					t.Fatalf("%s size %d chunk %d: got %d bytes, want %d", tls.VersionName(version), size, chunk, len(got), len(msg))
				}
				if n, _ := server.Discard(-1); n != size {
					t.Fatalf("discarded %d", n)
				}
			}
		}
	}
}

// TestPeekDiscard: plaintext is consumed piecewise, as the HTTP parser
// consumes a head and leaves a pipelined one.
func TestPeekDiscard(t *testing.T) {
	server, client := testPair(t, tlsloop.ServerOptions{}, tlsloop.ClientOptions{})
	send(t, client, server, []byte("GET /a HTTP/1.1\r\n\r\nGET /b"))
	if _, err := server.Peek(100); err != io.ErrShortBuffer {
		t.Errorf("Peek beyond the data: %v", err)
	}
	if n, _ := server.Discard(19); n != 19 || server.Buffered() != 6 {
		t.Fatalf("after Discard(19): %d buffered", server.Buffered())
	}
	send(t, client, server, []byte(" HTTP/1.1\r\n\r\n"))
	if got, _ := server.Peek(-1); string(got) != "GET /b HTTP/1.1\r\n\r\n" {
		t.Errorf("buffered %q", got)
	}
}

// send writes msg on from and feeds its ciphertext to to.
func send(t testing.TB, from, to *tlsloop.Conn, msg []byte) {
	t.Helper()
	if _, err := from.Write(msg); err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	_ = from.Flush(&ct)
	if _, err := to.Feed(ct.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// TestWritevOneRecord: a small Writev goes out as one record (one seal,
// one header), a large one record per piece at most.
func TestWritevOneRecord(t *testing.T) {
	server, client := testPair(t, tlsloop.ServerOptions{}, tlsloop.ClientOptions{})
	head, body := []byte("HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n"), []byte("Hello, world!")
	if _, err := server.Writev([][]byte{head, body}); err != nil {
		t.Fatal(err)
	}
	const overhead = 5 + 1 + 16 // TLS 1.3: header, inner content type, AEAD tag
	if got, want := server.Pending(), len(head)+len(body)+overhead; got != want {
		t.Errorf("ciphertext %d bytes, want %d (one record)", got, want)
	}
	var ct bytes.Buffer
	_ = server.Flush(&ct)
	if _, err := client.Feed(ct.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(mustPeek(client))), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("response %v %v", resp, err)
	}
}

func mustPeek(c *tlsloop.Conn) []byte {
	b, _ := c.Peek(-1)
	return b
}

// TestCloseNotify: the peer's close_notify ends the input with io.EOF
// after the plaintext that came before it.
func TestCloseNotify(t *testing.T) {
	server, client := testPair(t, tlsloop.ServerOptions{}, tlsloop.ClientOptions{})
	if _, err := client.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	client.CloseNotify()
	var ct bytes.Buffer
	_ = client.Flush(&ct)
	if _, err := server.Feed(ct.Bytes()); err != io.EOF {
		t.Fatalf("Feed: %v, want io.EOF", err)
	}
	if got := mustPeek(server); string(got) != "last words" {
		t.Errorf("plaintext %q", got)
	}
	if _, err := server.Write([]byte("still open for writing")); err != nil {
		t.Errorf("write after the peer's close_notify: %v", err)
	}
}

// TestCorruptRecord: a record that does not authenticate fails the Conn and
// leaves an alert to send.
func TestCorruptRecord(t *testing.T) {
	server, client := testPair(t, tlsloop.ServerOptions{}, tlsloop.ClientOptions{})
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	var ct bytes.Buffer
	_ = client.Flush(&ct)
	b := ct.Bytes()
	b[len(b)-1] ^= 1
	if _, err := server.Feed(b); err == nil {
		t.Fatal("a corrupt record was accepted")
	}
	if server.Pending() == 0 {
		t.Error("no alert to send")
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Error("Write on a failed Conn succeeded")
	}
}

// TestFedInputBound: while a handshake runs, Feed takes at most 64 KiB
// that the handshake has not read.
func TestFedInputBound(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	sc, err := tlsloop.LoadServer(certs(cert, key), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsloop.NewServer(sc)
	wake, ch := notifier()
	c := srv.NewConn(wake)
	defer c.Close()
	hello := clientHello(t, "s.example.test")
	// The ClientHello, then garbage in the same read: the handshake reads
	// the hello, answers it and waits; the garbage is taken up to the bound.
	in := append(hello[:len(hello):len(hello)], make([]byte, 1<<20)...)
	total := 0
	for total < len(in) {
		n, err := c.Feed(in[total:])
		if err != nil {
			break // the handshake read the garbage and failed: fine
		}
		if n == 0 {
			<-ch // wait for the handshake to read some
		}
		if n > 64<<10 {
			t.Fatalf("Feed took %d bytes at once", n)
		}
		total += n
	}
	eventually(t, "failed", func() bool {
		select {
		case <-ch:
		default:
		}
		_, err := c.Feed(nil)
		return err != nil
	})
	if st := srv.Stats(); st.Failed != 1 || st.InFlight != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestWriteBeforeHandshake: the plaintext side is closed until the
// handshake completes.
func TestWriteBeforeHandshake(t *testing.T) {
	p := newPKI(t, 0)
	cert, key := p.issue(leaf{name: "s", cn: "s", dns: []string{"s.example.test"}})
	sc, err := tlsloop.LoadServer(certs(cert, key), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c := tlsloop.NewServer(sc).NewConn(func() {})
	defer c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, tlsloop.ErrNotOpen) {
		t.Errorf("Write: %v", err)
	}
	if !c.Handshaking() || c.Established() {
		t.Error("a new Conn is not handshaking")
	}
	c.Close()
	if _, err := c.Feed([]byte{22}); !errors.Is(err, tlsloop.ErrClosed) {
		t.Errorf("Feed after Close: %v", err)
	}
}

// TestTrim: a trimmed Conn (an idle connection's buffers dropped) keeps
// working, and keeps plaintext not yet consumed.
func TestTrim(t *testing.T) {
	server, client := testPair(t, tlsloop.ServerOptions{}, tlsloop.ClientOptions{})
	send(t, client, server, []byte("partial head"))
	server.Trim()
	if got := mustPeek(server); string(got) != "partial head" {
		t.Fatalf("Trim dropped unread plaintext: %q", got)
	}
	server.Discard(-1)
	server.Trim()
	send(t, client, server, []byte("GET / HTTP/1.1\r\n\r\n"))
	send(t, server, client, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
	if got := mustPeek(server); string(got) != "GET / HTTP/1.1\r\n\r\n" {
		t.Errorf("after Trim: %q", got)
	}
	if got := mustPeek(client); string(got) != "HTTP/1.1 204 No Content\r\n\r\n" {
		t.Errorf("client: %q", got)
	}
}
