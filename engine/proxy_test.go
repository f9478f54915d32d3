package engine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/testsupport"
)

func TestProxyBodies(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	client := httpClient(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB

	tests := []struct {
		name    string
		method  string
		path    string
		body    []byte
		chunked bool
	}{
		{"get", "GET", "/hello?x=1", nil, false},
		{"head", "HEAD", "/hello", nil, false},
		{"post content-length", "POST", "/post", []byte("hello upstream"), false},
		{"post chunked", "POST", "/chunked", []byte("chunked body bytes"), true},
		{"post large content-length", "PUT", "/big", big, false},
		{"post large chunked", "POST", "/bigchunked", big, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body) // hides the length: chunked
				}
			}
			req, _ := http.NewRequest(tc.method, "http://"+srv.Addr()+tc.path, body)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := readBody(t, resp)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if tc.method != "HEAD" && got != string(tc.body) {
				t.Fatalf("body: got %d bytes, want %d", len(got), len(tc.body))
			}
			if p := resp.Header.Get("X-Seen-Path"); p != tc.path {
				t.Errorf("upstream saw path %q, want %q", p, tc.path)
			}
			if xff := resp.Header.Get("X-Seen-XFF"); xff != "127.0.0.1" {
				t.Errorf("X-Forwarded-For %q", xff)
			}
			if v := resp.Header.Get("X-Seen-Via"); v != "1.1 hotpath" {
				t.Errorf("Via %q", v)
			}
			if v := resp.Header.Get("Via"); v != "1.1 hotpath" {
				t.Errorf("response Via %q", v)
			}
		})
	}
}

// TestRequestHeadRewrite checks the exact head the upstream receives:
// hop-by-hop fields removed, X-Forwarded-* appended, Host kept.
func TestRequestHeadRewrite(t *testing.T) {
	heads := make(chan string, 1)
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		h, _ := readRequestHead(r)
		heads <- h
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Up-Hop\r\nX-Up-Hop: 1\r\nKeep-Alive: timeout=5\r\n\r\nok")
		_, _ = r.ReadByte()
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	resp := roundTrip(t, c, br, "GET /a/b?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: 300\r\nTE: trailers\r\nProxy-Authorization: x\r\nUpgrade: h2c\r\nX-Forwarded-For: 10.0.0.1\r\nX-Keep: yes\r\n\r\n", "GET")
	if body := readBody(t, resp); body != "ok" {
		t.Fatalf("body %q", body)
	}
	for _, h := range []string{"X-Up-Hop", "Keep-Alive", "Connection"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("response kept hop-by-hop %s: %q", h, v)
		}
	}
	head := <-heads
	wantLines := []string{
		"GET /a/b?q=1 HTTP/1.1\r\n",
		"Host: example.com\r\n",
		"X-Keep: yes\r\n",
		"X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n",
		"X-Forwarded-Proto: http\r\n",
		"X-Forwarded-Host: example.com\r\n",
		"Via: 1.1 hotpath\r\n",
	}
	for _, w := range wantLines {
		if !strings.Contains(head, w) {
			t.Errorf("upstream head lacks %q:\n%s", w, head)
		}
	}
	for _, bad := range []string{"X-Hop", "Keep-Alive", "TE:", "Proxy-Authorization", "Upgrade", "Connection"} {
		if strings.Contains(head, bad) {
			t.Errorf("upstream head has hop-by-hop %q:\n%s", bad, head)
		}
	}
}

func TestKeepAliveReuseAndPipelining(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for i := 0; i < 20; i++ {
		resp := roundTrip(t, c, br, fmt.Sprintf("GET /seq/%d HTTP/1.1\r\nHost: x\r\n\r\n", i), "GET")
		readBody(t, resp)
		if p := resp.Header.Get("X-Seen-Path"); p != fmt.Sprintf("/seq/%d", i) {
			t.Fatalf("response %d for %q", i, p)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 20 sequential requests, want 1", n)
	}

	// Pipelined: five requests in one write, bodies included; answers in order.
	var b strings.Builder
	for i := 0; i < 5; i++ {
		body := strings.Repeat("x", i)
		fmt.Fprintf(&b, "POST /pipe/%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := readBody(t, resp)
		if p := resp.Header.Get("X-Seen-Path"); p != fmt.Sprintf("/pipe/%d", i) || got != strings.Repeat("x", i) {
			t.Fatalf("pipelined response %d: path %q body %q", i, p, got)
		}
	}
}

func TestHTTP10Client(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			if _, err := readRequestHead(r); err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
		}
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))

	t.Run("chunked upstream is close-delimited to 1.0", func(t *testing.T) {
		c := dial(t, srv)
		_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		all, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		s := string(all)
		if strings.Contains(strings.ToLower(s), "transfer-encoding") || !strings.HasSuffix(s, "\r\n\r\nhello world") {
			t.Fatalf("1.0 response:\n%q", s)
		}
	})
	t.Run("1.1 client gets chunked unchanged", func(t *testing.T) {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		resp := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		if got := readBody(t, resp); got != "hello world" || resp.TransferEncoding == nil {
			t.Fatalf("body %q te %v", got, resp.TransferEncoding)
		}
	})
	t.Run("1.0 keep-alive", func(t *testing.T) {
		up2 := newHTTPUpstream(t, echoHandler)
		srv2 := startServer(t, testConfig(t, proxyTo(up2.addr)))
		c := dial(t, srv2)
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			resp := roundTrip(t, c, br, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET")
			readBody(t, resp)
			if v := resp.Header.Get("Connection"); !strings.EqualFold(v, "keep-alive") {
				t.Fatalf("Connection %q", v)
			}
		}
	})
}

func TestDirectAndLocalStatuses(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /healthz
    methods: [GET, HEAD]
    direct: {status: 200, body: "ok", headers: {Content-Type: text/plain}}
  - path: /api/*rest
    methods: [GET]
    upstream: app
    strip_prefix: /api
  - path: /users/:id
    upstream: app
    rewrite: /v2/people/:id
    host_rewrite: backend.internal
`, up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	tests := []struct {
		name, req, method string
		status            int
		body              string
		header, value     string
	}{
		{"direct", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200, "ok", "Content-Type", "text/plain"},
		{"direct head", "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", 200, "", "Content-Length", "2"},
		{"not found", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 404, "404 Not Found\n", "", ""},
		{"not found with body is drained", "POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde", "POST", 404, "404 Not Found\n", "", ""},
		{"method not allowed", "POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", "POST", 405, "405 Method Not Allowed\n", "Allow", "GET"},
		{"strip prefix", "GET /api/items/7?z=1 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200, "", "X-Seen-Path", "/items/7?z=1"},
		{"rewrite", "GET /users/42 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200, "", "X-Seen-Path", "/v2/people/42"},
		{"host rewrite", "GET /users/42 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", 200, "", "X-Seen-Host", "backend.internal"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := roundTrip(t, c, br, tc.req, tc.method)
			body := readBody(t, resp)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, tc.status, body)
			}
			if tc.body != "" && body != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if tc.header != "" && !strings.Contains(resp.Header.Get(tc.header), tc.value) {
				t.Errorf("%s: %q, want %q", tc.header, resp.Header.Get(tc.header), tc.value)
			}
		})
	}
}

func TestRoundRobinThroughProxy(t *testing.T) {
	var ups []*httpUpstream
	var addrs []string
	for i := 0; i < 3; i++ {
		u := newHTTPUpstream(t, echoHandler)
		ups = append(ups, u)
		addrs = append(addrs, u.addr)
	}
	cfg := testConfig(t, proxyTo(addrs...))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for i := 0; i < 30; i++ {
		readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	}
	for i, u := range ups {
		if n := u.reqs.Load(); n != 10 {
			t.Errorf("upstream %d got %d of 30 requests, want 10", i, n)
		}
	}
}

func TestSmugglingRefusedBeforeUpstream(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) { _, _ = io.Copy(io.Discard, r) })
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	tests := []struct {
		name   string
		req    string
		status int
	}{
		{"content-length and transfer-encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"duplicate content-length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", 400},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400},
		{"transfer-encoding not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400}, // RFC 9112 §6.3 rule 4
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv)
			br := bufio.NewReader(c)
			resp := roundTrip(t, c, br, tc.req, "POST")
			readBody(t, resp)
			if resp.StatusCode/100 != tc.status/100 {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if !resp.Close {
				t.Errorf("connection not closed after a framing error")
			}
		})
	}
	if got := up.received(); got != "" {
		t.Fatalf("upstream received %d bytes: %q", len(got), got)
	}
}

func TestUpstreamFaults(t *testing.T) {
	refused := testsupport.RefusingAddr(t)
	closeEarly := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) { _, _ = readRequestHead(r) })
	reset := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_ = c.(*net.TCPConn).SetLinger(0)
	})
	malformed := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_, _ = io.WriteString(c, "HTTP/1.1 2x0 Nope\r\n\r\n")
		_, _ = r.ReadByte()
	})
	truncated := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..")
	})
	heard := make(chan struct{}, 1)
	silent := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		select {
		case heard <- struct{}{}:
		default:
		}
		_, _ = r.ReadByte() // never answers
	})
	tests := []struct {
		name   string
		addr   string
		status int // 0: the client sees a truncated response
	}{
		{"refused", refused, 502},
		{"early close", closeEarly.addr, 502},
		{"reset", reset.addr, 502},
		{"malformed", malformed.addr, 502},
		{"response header timeout", silent.addr, 504},
		{"truncated body", truncated.addr, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, proxyTo(tc.addr))
			cfg.Timeouts.UpstreamHeader = 300 * time.Millisecond
			srv, clk := startServerLoopClock(t, cfg)
			c := dial(t, srv)
			br := bufio.NewReader(c)
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if tc.addr == silent.addr {
				waitHeard(t, heard)
				pumpClock(t, srv, clk, 100*time.Millisecond) // upstream_header runs out
			}
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if tc.status == 0 {
				if err == nil {
					t.Fatalf("truncated body read without error: %q", body)
				}
				return
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			// The gateway is still serving.
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err == nil {
				if resp, err := http.ReadResponse(br, nil); err == nil {
					readBody(t, resp)
				}
			}
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	addr := fullBacklogListener(t)
	cfg := testConfig(t, proxyTo(addr))
	cfg.Timeouts.Connect = 200 * time.Millisecond
	srv := startServer(t, cfg)
	c := dial(t, srv)
	resp := roundTrip(t, c, bufio.NewReader(c), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	readBody(t, resp)
	if resp.StatusCode != 504 {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
}

func TestClientTimeouts(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Timeouts.ClientHeader = 300 * time.Millisecond
	cfg.Timeouts.ClientBody = 300 * time.Millisecond
	cfg.Timeouts.ClientIdle = 300 * time.Millisecond
	srv, clk := startServerLoopClock(t, cfg)

	t.Run("slowloris head gets 408", func(t *testing.T) {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		head := []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
		if _, err := c.Write(head[:1]); err != nil {
			t.Fatal(err)
		}
		waitRead(t, srv, c) // the deadline runs from the accept; a 408 needs input
		// Trickle a byte every 50ms of loop time: the deadline is for the
		// whole head.
		done, trickled := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(trickled)
			for _, b := range head[1:] {
				select {
				case <-done:
					return
				default:
				}
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				clk.Advance(50 * time.Millisecond)
				srv.tickLoops(t)
			}
		}()
		resp, err := http.ReadResponse(br, nil)
		close(done)
		<-trickled
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != 408 {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
	})
	t.Run("stalled body gets 408", func(t *testing.T) {
		c := dial(t, srv)
		reqs := up.reqs.Load()
		if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() bool { return up.reqs.Load() > reqs }, "the request reached the upstream")
		stop := pumpClock(t, srv, clk, 100*time.Millisecond)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
		stop()
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != 408 {
			t.Fatalf("status %d, want 408", resp.StatusCode)
		}
	})
	t.Run("idle keep-alive closed", func(t *testing.T) {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
		stop := pumpClock(t, srv, clk, 100*time.Millisecond)
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("want EOF after keepalive timeout, got %v", err)
		}
		stop()
	})
}

func TestStalePooledConnectionRetried(t *testing.T) {
	// The first connection serves one request, then closes as soon as the
	// next request arrives, without answering: a keep-alive race.
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := readRequestHead(r); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
		if _, err := readRequestHead(r); err != nil {
			return
		}
		// closed without a response byte
	})
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	if got := readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")); got != "first" {
		t.Fatalf("first body %q", got)
	}
	resp := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if got := readBody(t, resp); resp.StatusCode != 200 || got != "first" {
		t.Fatalf("retried request: status %d body %q", resp.StatusCode, got)
	}
	if n := up.conns.Load(); n != 2 {
		t.Errorf("upstream saw %d connections, want 2 (one retry)", n)
	}
}

func TestPassiveEjectionAndRecovery(t *testing.T) {
	good := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "good") })
	var failing atomic.Bool
	failing.Store(true)
	flaky := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(503)
			return
		}
		_, _ = io.WriteString(w, "flaky")
	})
	cfg := testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}, {address: %s}]
    health:
      passive: {consecutive_failures: 2, base_ejection: 300ms, max_ejection: 1s}
routes:
  - path: /*p
    upstream: app
`, good.addr, flaky.addr))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	get := func() int {
		resp := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		readBody(t, resp)
		return resp.StatusCode
	}
	for i := 0; i < 4; i++ {
		get() // round robin: two of these reach flaky and fail: ejected
	}
	before := flaky.reqs.Load()
	for i := 0; i < 10; i++ {
		if s := get(); s != 200 {
			t.Fatalf("request %d after ejection got %d", i, s)
		}
	}
	if n := flaky.reqs.Load() - before; n != 0 {
		t.Fatalf("ejected endpoint got %d requests", n)
	}
	failing.Store(false)
	eventually(t, 5*time.Second, func() bool {
		get()
		return flaky.reqs.Load() > before
	}, "ejected endpoint never came back")
}

func TestGracefulDrain(t *testing.T) {
	release := make(chan struct{})
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	srv, clk := startServerLoopClock(t, testConfig(t, proxyTo(up.addr)))
	idle := dial(t, srv)
	idleBr := bufio.NewReader(idle)
	readBody(t, roundTrip(t, idle, idleBr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))

	busy := dial(t, srv)
	_, _ = io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	eventually(t, 2*time.Second, func() bool { return up.reqs.Load() == 2 }, "slow request never reached upstream")

	done := make(chan error, 1)
	go func() { done <- shutdown(t, srv, 5*time.Second) }()
	// The idle keep-alive connection is closed.
	if _, err := idleBr.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: want EOF, got %v", err)
	}
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "done" || !resp.Close {
		t.Fatalf("in-flight response: body %q close %v", body, resp.Close)
	}
	endLinger(t, srv, clk) // the last connection closes
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestReload(t *testing.T) {
	a := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "a") })
	b := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "b") })
	srv := startServer(t, testConfig(t, proxyTo(a.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	get := func() string { return readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")) }
	if got := get(); got != "a" {
		t.Fatalf("before reload: %q", got)
	}
	if err := srv.Reload(testConfig(t, proxyTo(b.addr))); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "b" {
		t.Fatalf("after reload: %q", got)
	}
	bad := testConfig(t, proxyTo(a.addr))
	bad.Routes = append(bad.Routes, bad.Routes[0]) // duplicate route: a trie conflict
	if err := srv.Reload(bad); err == nil {
		t.Fatal("conflicting routes were accepted")
	}
	if got := get(); got != "b" {
		t.Fatalf("after refused reload: %q", got)
	}
}

// TestSlowReaderBoundedMemory sends a large body from the upstream through
// the gateway to a client that reads slowly: the gateway's buffering stays
// bounded (pause-read) and every byte arrives intact.
func TestSlowReaderBoundedMemory(t *testing.T) {
	base := heapInUse()
	size := int64(256 << 20)
	if testing.Short() || raceEnabled {
		size = 64 << 20
	}
	const chunk = 1 << 16
	block := bytes.Repeat([]byte("hotpath-backpressure-"), chunk/21+1)[:chunk]
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for sent := int64(0); sent < size; sent += chunk {
			if _, err := w.Write(block); err != nil {
				return
			}
		}
	})
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Timeouts.UpstreamRead = 30 * time.Second
	cfg.Timeouts.ClientBody = 30 * time.Second
	srv := startServer(t, cfg)
	c := dial(t, srv)
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
	_, _ = io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.New()
	for sent := int64(0); sent < size; sent += chunk {
		want.Write(block)
	}
	got := sha256.New()
	buf := make([]byte, 256<<10)
	var n int64
	var peak uint64
	for {
		m, err := resp.Body.Read(buf)
		got.Write(buf[:m])
		n += int64(m)
		if n%(16<<20) < int64(m) {
			peak = max(peak, heapInUse())
			time.Sleep(20 * time.Millisecond) // a slow reader
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
	}
	if n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("received %d bytes, checksum match %v", n, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	// The test process holds client, gateway and upstream; the body is 64 or
	// 256 MiB. Without backpressure the gateway would buffer most of it.
	if limit := uint64(48 << 20); heapGrowth(peak, base) > limit {
		t.Fatalf("heap in use grew by %d MiB while streaming %d MiB", heapGrowth(peak, base)>>20, size>>20)
	}
	t.Logf("streamed %d MiB, peak heap in use %d MiB", size>>20, peak>>20)
}

// A reload keeps the idle keep-alive connections of the endpoints it keeps
// (same upstream, address, weight and health settings) and closes those of
// the endpoints it drops at the next tick, not after the idle timeout.
func TestReloadKeepsAndRetiresEndpoints(t *testing.T) {
	a := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "a") })
	b := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "b") })
	cfg := testConfig(t, proxyTo(a.addr, b.addr))
	cfg.Upstreams[0].Pool.IdleTimeout = time.Hour
	srv := startServer(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	get := func() string { return readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")) }
	for i := 0; i < 4; i++ {
		get()
	}
	if a.reqs.Load() == 0 || b.reqs.Load() == 0 {
		t.Fatalf("requests a=%d b=%d: want both endpoints used", a.reqs.Load(), b.reqs.Load())
	}
	aConns := a.conns.Load()

	next := testConfig(t, proxyTo(a.addr))
	next.Upstreams[0].Pool.IdleTimeout = time.Hour
	if err := srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return b.closed.Load() == b.conns.Load() },
		"the dropped endpoint's idle connection was not closed")
	for i := 0; i < 4; i++ {
		if got := get(); got != "a" {
			t.Fatalf("after reload: %q", got)
		}
	}
	if n := a.conns.Load(); n != aConns {
		t.Errorf("kept endpoint: %d upstream connections after the reload, want the %d from before (reused)", n, aConns)
	}
	if a.closed.Load() != 0 {
		t.Errorf("kept endpoint: %d connections closed", a.closed.Load())
	}
}
