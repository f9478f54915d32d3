package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/internal/testsupport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testsupport.GnetLeaks()...) }

// testConfig is a config with short timeouts for tests; extra YAML (routes,
// upstreams, ...) is appended. Upstream addresses come in through fmt args.
func testConfig(t testing.TB, body string) *config.Config {
	t.Helper()
	y := `
workers: 2
listeners:
  - address: 127.0.0.1:0
timeouts:
  client_header: 2s
  client_body: 2s
  client_idle: 5s
  connect: 1s
  upstream_header: 2s
  upstream_read: 2s
  drain: 2s
` + body
	cfg, err := config.Parse("test.yaml", []byte(y))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, y)
	}
	return cfg
}

// proxyTo is a config body: one upstream "app" with the given endpoints and
// a catch-all route to it.
func proxyTo(addrs ...string) string {
	var b strings.Builder
	b.WriteString("upstreams:\n  - name: app\n    endpoints:\n")
	for _, a := range addrs {
		fmt.Fprintf(&b, "      - address: %s\n", a)
	}
	b.WriteString("routes:\n  - path: /*path\n    upstream: app\n")
	return b.String()
}

func startServer(t testing.TB, cfg *config.Config) *Server {
	t.Helper()
	srv, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// httpUpstream is a net/http upstream that counts connections
// (testsupport.Upstream's counters under the names engine tests use).
type httpUpstream struct {
	addr                string
	conns, closed, reqs *atomic.Int64
}

func newHTTPUpstream(t *testing.T, h http.HandlerFunc) *httpUpstream {
	t.Helper()
	return fromUpstream(testsupport.NewUpstream(t, h))
}

func fromUpstream(u *testsupport.Upstream) *httpUpstream {
	return &httpUpstream{addr: u.Addr, conns: &u.Conns, closed: &u.Closed, reqs: &u.Reqs}
}

// echoHandler answers with the request body, and headers describing the
// request it saw.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Seen-Path", r.URL.RequestURI())
	w.Header().Set("X-Seen-Host", r.Host)
	w.Header().Set("X-Seen-XFF", r.Header.Get("X-Forwarded-For"))
	w.Header().Set("X-Seen-Via", r.Header.Get("Via"))
	w.Header().Set("X-Seen-Method", r.Method)
	// Read the whole body before answering: net/http may cut a request body
	// short once a handler has started writing (HTTP/1.x is not full duplex
	// there).
	body, _ := io.ReadAll(r.Body)
	if r.ContentLength >= 0 {
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	}
	_, _ = w.Write(body)
}

// rawUpstream accepts connections and hands each to fn; it records every
// byte received on all connections.
type rawUpstream struct {
	ln       net.Listener
	addr     string
	mu       sync.Mutex
	got      bytes.Buffer
	noRecord bool
	conns    atomic.Int64
	wg       sync.WaitGroup
}

func newRawUpstream(t *testing.T, fn func(c net.Conn, r *bufio.Reader)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln, addr: ln.Addr().String()}
	var open sync.Map
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.conns.Add(1)
			open.Store(c, true)
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				fn(c, bufio.NewReader(io.TeeReader(c, recorder{u})))
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		open.Range(func(k, _ any) bool { _ = k.(net.Conn).Close(); return true })
		u.wg.Wait()
	})
	return u
}

type recorder struct{ u *rawUpstream }

func (r recorder) Write(p []byte) (int, error) {
	r.u.mu.Lock()
	defer r.u.mu.Unlock()
	if r.u.noRecord {
		return len(p), nil
	}
	return r.u.got.Write(p)
}

// recordOff stops recording received bytes (for large transfers).
func (u *rawUpstream) recordOff() {
	u.mu.Lock()
	u.noRecord = true
	u.mu.Unlock()
}

func (u *rawUpstream) received() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.got.String()
}

// readRequestHead reads one request head from r (through the blank line).
func readRequestHead(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return b.String(), err
		}
		if line == "\r\n" {
			return b.String(), nil
		}
	}
}

// dial opens a client connection to the server.
func dial(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", srv.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// roundTrip writes raw and reads one response.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, raw string, method string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	_ = resp.Body.Close()
	return string(b)
}

// httpClient returns a client that keeps one connection to the server.
func httpClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// eventually polls cond until it holds or d passes (testsupport.Eventually).
func eventually(t *testing.T, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	testsupport.Eventually(t, d, msg, cond)
}

func shutdown(t *testing.T, srv *Server, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return srv.Shutdown(ctx)
}
