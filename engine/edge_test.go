package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Edge protection (edge.go) against real listeners: connections from a
// second loopback address (127.0.0.2; Linux routes all of 127.0.0.0/8 to
// lo) play the other client.

// dialFrom opens a client connection to srv from the local address ip.
// It skips the test when ip cannot be bound.
func dialFrom(t *testing.T, srv *Server, ip string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", srv.Addr())
	if err != nil {
		if strings.Contains(err.Error(), "bind") {
			t.Skipf("cannot dial from %s: %v", ip, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// served sends a GET for path on c and reports whether a response came
// back (false: the gateway closed the connection without one). The
// response is read whole.
func served(t *testing.T, c net.Conn, br *bufio.Reader, path string, extra ...string) (*http.Response, bool) {
	t.Helper()
	raw := "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(extra, "") + "\r\n"
	if _, err := io.WriteString(c, raw); err != nil {
		return nil, false
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return nil, false
	}
	readBody(t, resp)
	return resp, true
}

// TestIPFilterAtAccept: the top-level deny list closes a connection from
// a denied peer when it is accepted, before the gateway holds anything
// for it; other peers are served.
func TestIPFilterAtAccept(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, "ip_filter: {deny: [127.0.0.2/32, \"2001:db8::/32\"]}\n"+proxyTo(up.addr)))
	c := dialFrom(t, srv, "127.0.0.2")
	if _, ok := served(t, c, bufio.NewReader(c), "/denied"); ok {
		t.Fatal("a denied peer was served")
	}
	c = dialFrom(t, srv, "127.0.0.1")
	if resp, ok := served(t, c, bufio.NewReader(c), "/allowed"); !ok || resp.StatusCode != 200 {
		t.Fatalf("an allowed peer: %v %v", resp, ok)
	}
	for _, r := range up.requests() {
		if r.Path == "/denied" {
			t.Fatal("the denied request reached the upstream")
		}
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_edge_connections_refused_total", []string{"reason", "ip_filter"}, 1},
		{"hotpath_edge_connections_refused_total", []string{"reason", "per_ip_connections"}, 0},
		{"hotpath_downstream_connections_total", nil, 1}, // the refused one was never opened
	})
}

// TestIPFilterBehindTrustedProxy: behind a trusted proxy the lists match
// the client address from X-Forwarded-For, per request: the top-level deny
// list, a route's allow list and a route's deny file of 10 000 CIDRs. A
// refused request gets 403 on a connection that stays open, and never
// reaches the upstream.
func TestIPFilterBehindTrustedProxy(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	var deny strings.Builder
	deny.WriteString("# generated: 10 000 /24s in 10.0.0.0/8, then one more\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&deny, "10.%d.%d.0/24\n", i/256, i%256)
	}
	deny.WriteString("192.0.2.0/24 # the test network\n")
	denyFile := filepath.Join(t.TempDir(), "deny.txt")
	if err := os.WriteFile(denyFile, []byte(deny.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
trusted_proxies: [127.0.0.1]
ip_filter: {deny: [203.0.113.0/24]}
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /admin/*rest
    upstream: app
    ip_filter: {allow: [198.51.100.0/24, "2001:db8::/32"]}
  - path: /blocklist/*rest
    upstream: app
    ip_filter: {deny_file: %s}
  - path: /*rest
    upstream: app
`, up.addr, denyFile)))
	if n := srv.tbl.Load().tree; n == nil {
		t.Fatal("no table")
	}
	c := dial(t, srv)
	br := bufio.NewReader(c)
	cases := []struct {
		name, path, xff string
		status          int
	}{
		{name: "global-deny", path: "/denied", xff: "203.0.113.9", status: 403},
		{name: "global-deny-forged-lines", path: "/denied-too", xff: "198.51.100.7\r\nX-Forwarded-For: 203.0.113.9", status: 403},
		{name: "allowed-anywhere", path: "/x", xff: "198.51.100.7", status: 200},
		{name: "route-allow", path: "/admin/a", xff: "198.51.100.7", status: 200},
		{name: "route-allow-v6", path: "/admin/a", xff: "2001:db8::7", status: 200},
		{name: "route-not-allowed", path: "/admin/b", xff: "192.0.2.1", status: 403},
		{name: "route-not-allowed-proxy-itself", path: "/admin/c", status: 403},
		{name: "deny-file-first", path: "/blocklist/a", xff: "10.0.0.1", status: 403},
		{name: "deny-file-last", path: "/blocklist/b", xff: "10.39.15.200", status: 403},
		{name: "deny-file-extra", path: "/blocklist/c", xff: "192.0.2.9", status: 403},
		{name: "deny-file-outside", path: "/blocklist/ok", xff: "10.39.16.1", status: 200},
	}
	denied := 0
	for _, tc := range cases {
		var extra []string
		if tc.xff != "" {
			extra = append(extra, "X-Forwarded-For: "+tc.xff+"\r\n")
		}
		resp, ok := served(t, c, br, tc.path, extra...)
		if !ok || resp.StatusCode != tc.status {
			t.Fatalf("%s: %v %v, want %d on the same connection", tc.name, resp, ok, tc.status)
		}
		if tc.status == 403 {
			denied++
		}
	}
	for _, r := range up.requests() {
		for _, tc := range cases {
			if tc.status == 403 && r.Path == tc.path {
				t.Errorf("%s reached the upstream", tc.name)
			}
		}
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_edge_requests_refused_total", []string{"reason", "ip_filter"}, float64(denied)},
		{"hotpath_edge_connections_refused_total", []string{"reason", "ip_filter"}, 0}, // the peer is a trusted proxy
	})
}

// TestIPFilterFileErrors: list files are read at start and on reload; an
// unreadable or malformed one, or an empty allow file, is a config error
// naming the field.
func TestIPFilterFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.txt")
	empty := filepath.Join(dir, "empty.txt")
	_ = os.WriteFile(bad, []byte("10.0.0.0/8\nexample.com\n"), 0o600)
	_ = os.WriteFile(empty, []byte("# nothing yet\n"), 0o600)
	cfg := testConfig(t, fmt.Sprintf(`
ip_filter: {deny_file: %s, allow_file: %s}
routes:
  - path: /a
    direct: {body: a}
    ip_filter: {deny_file: %s}
`, bad, empty, filepath.Join(dir, "missing.txt")))
	err := Check(cfg)
	for _, want := range []string{
		"ip_filter.deny_file: " + bad + `: line 2: iplist: want a CIDR`,
		"ip_filter.allow_file: " + empty + " has no entries",
		"routes[0].ip_filter.deny_file: cannot read",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

// TestPerIPMaxConnections: an address at limits.per_ip.max_connections
// gets its next connection closed at once; another address is served; a
// closed connection frees its place; a trusted proxy is exempt.
func TestPerIPMaxConnections(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	srv := startServer(t, testConfig(t, "limits: {per_ip: {max_connections: 3}}\n"+proxyTo(up.addr)))
	var held []net.Conn
	for i := 0; i < 3; i++ {
		c := dialFrom(t, srv, "127.0.0.2")
		if resp, ok := served(t, c, bufio.NewReader(c), "/held"); !ok || resp.StatusCode != 200 {
			t.Fatalf("connection %d: %v %v", i+1, resp, ok)
		}
		held = append(held, c)
	}
	c := dialFrom(t, srv, "127.0.0.2")
	if _, ok := served(t, c, bufio.NewReader(c), "/over"); ok {
		t.Fatal("a fourth connection from one address was served")
	}
	for i := 0; i < 3; i++ {
		c := dialFrom(t, srv, "127.0.0.1")
		if _, ok := served(t, c, bufio.NewReader(c), "/other"); !ok {
			t.Fatalf("another address's connection %d refused", i+1)
		}
	}
	waitMetrics(t, srv, []metricWant{{"hotpath_edge_connections_refused_total", []string{"reason", "per_ip_connections"}, 1}})
	_ = held[0].Close()
	eventually(t, 5*time.Second, func() bool {
		c := dialFrom(t, srv, "127.0.0.2")
		_, ok := served(t, c, bufio.NewReader(c), "/again")
		return ok
	}, "a closed connection's place was not given back")
	for _, r := range up.requests() {
		if r.Path == "/over" {
			t.Fatal("the refused connection's request reached the upstream")
		}
	}

	trusted := startServer(t, testConfig(t, "trusted_proxies: [127.0.0.2]\nlimits: {per_ip: {max_connections: 1}}\n"+proxyTo(up.addr)))
	for i := 0; i < 3; i++ {
		c := dialFrom(t, trusted, "127.0.0.2")
		if _, ok := served(t, c, bufio.NewReader(c), "/proxy"); !ok {
			t.Fatalf("a trusted proxy's connection %d refused", i+1)
		}
	}
}

// TestPerIPNewConnections: limits.per_ip.new_connections admits a burst
// of connections per address, then refuses until the bucket refills (an
// hour here: the test never sees it refill); closing connections does not
// help; other addresses are not affected. The refusals are logged once:
// when they start, and when none came for a second.
func TestPerIPNewConnections(t *testing.T) {
	up := newRecordingUpstream(t, "app")
	var logs syncBuffer
	srv, clk := startServerLoopClock(t, testConfig(t, "limits: {per_ip: {new_connections: {rate: 1, per: 1h, burst: 3}}}\n"+proxyTo(up.addr)),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	for i := 0; i < 3; i++ {
		c := dialFrom(t, srv, "127.0.0.2")
		if _, ok := served(t, c, bufio.NewReader(c), "/burst"); !ok {
			t.Fatalf("connection %d of the burst refused", i+1)
		}
		_ = c.Close()
	}
	for i := 0; i < 2; i++ {
		c := dialFrom(t, srv, "127.0.0.2")
		if _, ok := served(t, c, bufio.NewReader(c), "/over"); ok {
			t.Fatalf("connection %d past the burst served", i+4)
		}
	}
	c := dialFrom(t, srv, "127.0.0.1")
	if _, ok := served(t, c, bufio.NewReader(c), "/other"); !ok {
		t.Fatal("another address refused")
	}
	waitMetrics(t, srv, []metricWant{{"hotpath_edge_connections_refused_total", []string{"reason", "per_ip_rate"}, 2}})
	expire(t, srv, clk, time.Duration(burstQuiet)) // no refusal since: the burst ends
	eventually(t, 5*time.Second, func() bool { return strings.Contains(logs.String(), "connection refusals ended") }, "the burst's end was not logged")
	if n := strings.Count(logs.String(), "refusing client connections"); n != 1 || !strings.Contains(logs.String(), "refused=2") ||
		!strings.Contains(logs.String(), "first_client=127.0.0.2 reason=per_ip_rate") {
		t.Fatalf("want one warning naming the first client and one end line counting 2 refusals:\n%s", logs.String())
	}

	// A reload that keeps the setting keeps the buckets.
	if err := srv.Reload(testConfig(t, "limits: {per_ip: {new_connections: {rate: 1, per: 1h, burst: 3}}}\n"+proxyTo(up.addr))); err != nil {
		t.Fatal(err)
	}
	c = dialFrom(t, srv, "127.0.0.2")
	if _, ok := served(t, c, bufio.NewReader(c), "/after-reload"); ok {
		t.Fatal("a reload refilled the bucket")
	}
}

// TestPerIPTunnelKeepsItsPlace: a connection upgraded to a tunnel still
// counts against limits.per_ip.max_connections until the tunnel closes.
func TestPerIPTunnelKeepsItsPlace(t *testing.T) {
	up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) { _, _ = io.Copy(c, r) })
	srv := startServer(t, testConfig(t, "limits: {per_ip: {max_connections: 1}}\n"+proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	resp := roundTrip(t, c, br, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET")
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	eventually(t, 5*time.Second, func() bool { return tunnels(srv) == 1 }, "no tunnel")
	second := dial(t, srv)
	if _, ok := served(t, second, bufio.NewReader(second), "/second"); ok {
		t.Fatal("a second connection served while the tunnel holds the address's only place")
	}
	_ = c.Close()
	eventually(t, 5*time.Second, func() bool { return tunnels(srv) == 0 }, "tunnel not closed")
	eventually(t, 5*time.Second, func() bool {
		c := dial(t, srv)
		resp, ok := served(t, c, bufio.NewReader(c), "/third")
		return ok && resp.StatusCode == 426 // the upstream's answer to a plain GET
	}, "the tunnel's place was not given back")
}

// bodyUpstream records each request's raw bytes, answering every request
// with 200 once its head is read, as soon as respondEarly, else after its
// chunked body.
func bodyUpstream(t *testing.T, respondEarly bool) *rawUpstream {
	return newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			if respondEarly {
				// The response starts before the body is read: a chunk
				// now, the rest after the body.
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nearly\r\n")
			}
			switch {
			case strings.Contains(head, "Transfer-Encoding: chunked"):
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					var n int
					_, _ = fmt.Sscanf(line, "%x", &n)
					if _, err := io.CopyN(io.Discard, r, int64(n)+2); err != nil {
						return
					}
					if n == 0 {
						break
					}
				}
			case strings.Contains(head, "Content-Length: "):
				var n int64
				i := strings.Index(head, "Content-Length: ")
				_, _ = fmt.Sscanf(head[i:], "Content-Length: %d", &n)
				if _, err := io.CopyN(io.Discard, r, n); err != nil {
					return
				}
			}
			if respondEarly {
				_, _ = io.WriteString(c, "0\r\n\r\n")
			} else {
				_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
}

// TestMaxBody: a body over max_body (the route's, else limits.max_body)
// gets 413: at once from Content-Length, with nothing sent upstream; while
// a chunked body streams, with nothing past the limit forwarded; and once
// the response has started, the connection is closed.
func TestMaxBody(t *testing.T) {
	up := bodyUpstream(t, false)
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
limits: {max_body_bytes: 1k}
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /small
    upstream: app
    max_body_bytes: 100
  - path: /big
    upstream: app
    max_body_bytes: 1MiB
  - path: /*rest
    upstream: app
`, up.addr)))
	post := func(path string, n int) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", path, n, strings.Repeat("b", n))
	}
	cases := []struct {
		name, req string
		status    int
		closed    bool
	}{
		{name: "route-at-limit", req: post("/small", 100), status: 200},
		{name: "route-over", req: post("/small", 101), status: 413, closed: true},
		{name: "route-raises-global", req: post("/big", 2000), status: 200},
		{name: "global-over", req: post("/other", 1025), status: 413, closed: true},
		{name: "global-at-limit", req: post("/other", 1024), status: 200},
		{name: "expect-100", req: "POST /small HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n", status: 413, closed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := up.received()
			c := dial(t, srv)
			br := bufio.NewReader(c)
			resp := roundTrip(t, c, br, tc.req, "POST")
			readBody(t, resp)
			if resp.StatusCode != tc.status || resp.Close != tc.closed {
				t.Fatalf("%d (close %v), want %d (close %v)", resp.StatusCode, resp.Close, tc.status, tc.closed)
			}
			if tc.status == 413 && up.received() != before {
				t.Fatalf("the upstream received %q", strings.TrimPrefix(up.received(), before))
			}
		})
	}

	t.Run("chunked-over", func(t *testing.T) {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n"+strings.Repeat("a", 60)+"\r\n"); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, func() bool { return strings.Contains(up.received(), strings.Repeat("a", 60)) }, "the first chunk was not forwarded")
		if _, err := io.WriteString(c, "3c\r\n"+strings.Repeat("z", 60)+"\r\n0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, resp)
		if resp.StatusCode != 413 || !resp.Close {
			t.Fatalf("%d (close %v), want 413 and close", resp.StatusCode, resp.Close)
		}
		if strings.Contains(up.received(), "z") {
			t.Fatal("bytes past the limit reached the upstream")
		}
	})
	t.Run("chunked-within", func(t *testing.T) {
		c := dial(t, srv)
		resp := roundTrip(t, c, bufio.NewReader(c), "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n32\r\n"+strings.Repeat("c", 50)+"\r\n32\r\n"+strings.Repeat("c", 50)+"\r\n0\r\n\r\n", "POST")
		if readBody(t, resp); resp.StatusCode != 200 {
			t.Fatalf("100 bytes in two chunks: %d", resp.StatusCode)
		}
	})

	early := bodyUpstream(t, true)
	srv2 := startServer(t, testConfig(t, "limits: {max_body_bytes: 100}\n"+proxyTo(early.addr)))
	t.Run("response-started", func(t *testing.T) {
		c := dial(t, srv2)
		br := bufio.NewReader(c)
		if _, err := io.WriteString(c, "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n"+strings.Repeat("a", 60)+"\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("response head: %v %v", resp, err)
		}
		first := make([]byte, 5)
		if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "early" {
			t.Fatalf("first chunk %q %v", first, err)
		}
		if _, err := io.WriteString(c, "3c\r\n"+strings.Repeat("z", 60)+"\r\n0\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(resp.Body); err == nil {
			t.Fatal("the response ended normally: want the connection cut off")
		}
		if strings.Contains(early.received(), "z") {
			t.Fatal("bytes past the limit reached the upstream")
		}
	})
	waitMetrics(t, srv, []metricWant{{"hotpath_edge_requests_refused_total", []string{"reason", "body_too_large"}, 4}})
	waitMetrics(t, srv2, []metricWant{{"hotpath_edge_requests_refused_total", []string{"reason", "body_too_large"}, 1}})
}
