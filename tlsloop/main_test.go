package tlsloop_test

import (
	"bufio"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/internal/testsupport"
	"github.com/hotpath/hotpath/proctest"
	"github.com/hotpath/hotpath/tlsloop"
)

func TestMain(m *testing.M) {
	// `TLSLOOP_SERVE=1 tlsloop.test -cert C -key K` runs the loop server
	// as a program, for interop and benchmark runs (bench_test.go).
	proctest.RunIfChild("TLSLOOP_SERVE", serveMain)
	goleak.VerifyTestMain(m,
		// gnet's package-level worker pool (ants) starts with the package
		// and outlives the tests.
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
		goleak.IgnoreAnyFunction("github.com/panjf2000/ants/v2.(*goWorker).run.func1"),
	)
}

// serverWith loads opts and serves them on a loop server with one loop.
func serverWith(t testing.TB, opts tlsloop.ServerOptions) (*tlsloop.Server, *loopServer) {
	t.Helper()
	sc, err := tlsloop.LoadServer(opts, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsloop.NewServer(sc)
	return srv, startLoopServer(t, srv, 1)
}

// get sends one GET over a new TLS connection to addr with cfg and returns
// the response status and the connection's state.
func get(t testing.TB, addr string, cfg *tls.Config) (int, tls.ConnectionState, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return 0, tls.ConnectionState{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	status, err := roundTrip(c, "/")
	return status, c.ConnectionState(), err
}

// roundTrip writes a GET and reads its response from c.
func roundTrip(c net.Conn, path string) (int, error) {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

// eventually polls cond every few milliseconds until it holds or 10 s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testsupport.Eventually(t, 10*time.Second, what, cond)
}

// clientHello returns the bytes of one ClientHello record for name, as
// Go's client sends it.
func clientHello(t testing.TB, name string) []byte {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(a, &tls.Config{ServerName: name, InsecureSkipVerify: true}).Handshake()
	}()
	var rec []byte
	buf := make([]byte, 16<<10)
	for len(rec) < 5 || len(rec) < 5+int(rec[3])<<8|int(rec[4]) {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		rec = append(rec, buf[:n]...)
	}
	b.Close()
	a.Close()
	<-done
	return rec
}

// serveMain runs a loop server from flags until killed: the program that
// interop and benchmark runs start (TLSLOOP_SERVE=1).
func serveMain(args []string) int {
	fs := flag.NewFlagSet("loopserver", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8443", "listen address")
	certs := fs.String("cert", "", "certificate files, comma-separated")
	keys := fs.String("key", "", "key files, comma-separated, in the order of -cert")
	alpn := fs.String("alpn", "", "ALPN protocols, comma-separated (default http/1.1)")
	curves := fs.String("curves", "", "key exchange groups: x25519, p256 (default Go's)")
	loops := fs.Int("loops", 1, "event loops")
	plain := fs.Bool("plain", false, "plain TCP, no TLS")
	tickets := fs.Bool("tickets", true, "session tickets (resumption)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opts := tlsloop.ServerOptions{DisableSessionTickets: !*tickets}
	certFiles, keyFiles := strings.Split(*certs, ","), strings.Split(*keys, ",")
	for i := range certFiles {
		if i < len(keyFiles) {
			opts.Certificates = append(opts.Certificates, tlsloop.CertFile{CertFile: certFiles[i], KeyFile: keyFiles[i]})
		}
	}
	if *alpn != "" {
		opts.ALPN = strings.Split(*alpn, ",")
	}
	for _, c := range strings.Split(*curves, ",") {
		switch c {
		case "x25519":
			opts.CurvePreferences = append(opts.CurvePreferences, tls.X25519)
		case "p256":
			opts.CurvePreferences = append(opts.CurvePreferences, tls.CurveP256)
		}
	}
	var srv *tlsloop.Server
	if !*plain {
		sc, err := tlsloop.LoadServer(opts, time.Now())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		srv = tlsloop.NewServer(sc)
	}
	s := newLoopServer(srv, *loops)
	s.addr = *addr
	go func() {
		<-s.booted
		fmt.Println("listening on", s.addr)
	}()
	fmt.Fprintln(os.Stderr, runGnet(s))
	return 1
}

// readResponse sends a GET on c and reads the response, body included.
func readResponse(c net.Conn) (*http.Response, error) {
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, err
}
