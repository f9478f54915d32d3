package engine

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/testsupport"
)

// TestAccessLogReasons: every response the gateway generates itself, and
// every failed upstream exchange, carries a reason in the access log; the
// client behind a trusted proxy is logged beside the peer; upstream
// failures write a rate-limited line to the process log.
func TestAccessLogReasons(t *testing.T) {
	refused := testsupport.RefusingAddr(t)
	heard := make(chan struct{}, 1)
	silent := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		select {
		case heard <- struct{}{}:
		default:
		}
		_, _ = r.ReadByte() // never answers
	})
	malformed := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_, _ = io.WriteString(c, "HTTP/1.1 2x0 Nope\r\n\r\n")
		_, _ = r.ReadByte()
	})
	reset := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_ = c.Close() // closed before any response
	})
	gated := newGatedUpstream(t)
	ok := newHTTPUpstream(t, statusHandler)
	cfg := testConfig(t, fmt.Sprintf(`
trusted_proxies: [127.0.0.1]
upstreams:
  - {name: refused, endpoints: [{address: %[1]s}]}
  - {name: silent, endpoints: [{address: %[2]s}]}
  - {name: malformed, endpoints: [{address: %[3]s}]}
  - {name: reset, endpoints: [{address: %[4]s}], health: {passive: {consecutive_failures: 0}}}
  - {name: gated, endpoints: [{address: %[5]s}], pool: {max_conns: 1, max_pending: 0}}
  - {name: ok, endpoints: [{address: %[6]s}]}
  - name: down
    endpoints: [{address: %[1]s}]
    health: {active: {path: /, interval: 10ms, timeout: 10ms, healthy_threshold: 1, unhealthy_threshold: 1}}
routes:
  - {path: /refused, upstream: refused}
  - {path: /silent, upstream: silent}
  - {path: /malformed, upstream: malformed}
  - {path: /reset, upstream: reset, retry: {attempts: 0}}
  - {path: /gated/*p, upstream: gated}
  - {path: /down, upstream: down}
  - {path: /limited, upstream: ok, rate_limit: {rate: 1, per: 1h}}
  - {path: /auth, upstream: ok, auth: {api_key: {keys: [{name: k1, key: secret-key-1}]}}}
  - {path: /small, upstream: ok, max_body_bytes: 10B}
  - {path: /get, upstream: ok, methods: [GET]}
  - {path: /status/:code, upstream: ok}
`, refused, silent.addr, malformed.addr, reset.addr, gated.addr, ok.addr))
	cfg.Workers = 1 // the gated pool's max_conns is per loop
	cfg.Timeouts.UpstreamHeader = 300 * time.Millisecond
	cfg.Timeouts.ClientHeader = 300 * time.Millisecond
	var alog, plog syncBuffer
	srv, clk := startServerLoopClock(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&plog, nil))), WithAccessLogOutput(&alog))
	eventually(t, 10*time.Second, func() bool {
		return metricValue(scrape(t, srv), "hotpath_endpoint_healthy", "upstream", "down") == 0
	}, "the down upstream's endpoint not marked down")

	// sendUntil sends raw and, once until has returned (nil: at once),
	// runs the loop clock while it waits for the response.
	sendUntil := func(raw string, until func()) int {
		t.Helper()
		c := dial(t, srv)
		defer c.Close()
		if _, err := io.WriteString(c, raw); err != nil {
			t.Fatal(err)
		}
		stop := func() {}
		if until != nil {
			until()
			stop = pumpClock(t, srv, clk, 100*time.Millisecond)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "GET"})
		stop()
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		readBody(t, resp)
		return resp.StatusCode
	}
	send := func(raw string) int { t.Helper(); return sendUntil(raw, nil) }
	get := func(path string, extra ...string) int {
		return send("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(extra, "") + "\r\n")
	}
	began := clk.now()
	want := map[string]struct {
		status int
		reason string
	}{}
	check := func(path string, status int, reason string, got int) {
		t.Helper()
		if got != status {
			t.Fatalf("%s: status %d, want %d", path, got, status)
		}
		want[path] = struct {
			status int
			reason string
		}{status, reason}
	}
	check("/refused", 502, "connect_failure", get("/refused"))
	check("/silent", 504, "upstream_header_timeout", sendUntil("GET /silent HTTP/1.1\r\nHost: x\r\n\r\n", func() { waitHeard(t, heard) }))
	check("/malformed", 502, "upstream_bad_response", get("/malformed"))
	check("/reset", 502, "upstream_reset", get("/reset"))
	check("/down", 503, "no_healthy_endpoint", get("/down"))
	check("/limited", 200, "", get("/limited"))
	out := make(chan clientResult, 1)
	sendAsync(t, srv, "gated/a", out)
	eventually(t, 10*time.Second, func() bool { return len(gated.seen()) == 1 }, "gated request not proxied")
	check("/gated/b", 503, "pool_exhausted", get("/gated/b"))
	gated.release <- struct{}{}
	<-out
	check("/auth", 401, "auth_missing", get("/auth"))
	check("/nowhere", 404, "no_route", get("/nowhere"))
	check("/get", 405, "method_not_allowed", send("POST /get HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"))
	check("/small", 413, "max_body", send("GET /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890"))
	check("/framing", 400, "ambiguous_framing", send("GET /framing HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	check("/big-head", 431, "headers_too_large", get("/big-head", "X: "+strings.Repeat("a", 40<<10)+"\r\n"))
	check("/status/200", 200, "", get("/status/200", "X-Forwarded-For: 203.0.113.9\r\n"))
	// A head that never completes: 408, refused by the client_header deadline.
	c := dial(t, srv)
	_, _ = io.WriteString(c, "GET /partial HTTP/1.1\r\nHo")
	waitRead(t, srv, c)
	stop := pumpClock(t, srv, clk, 100*time.Millisecond)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	stop()
	if err != nil || resp.StatusCode != 408 {
		t.Fatalf("partial head: %v %v", resp, err)
	}
	readBody(t, resp)
	_ = c.Close()
	check("/limited#2", 429, "rate_limited", get("/limited"))
	_ = srv.Close()                             // flushes the log
	elapsed := time.Duration(clk.now() - began) // the failure log's clock is the loop's

	lines := alog.lines(t)
	seen := map[string]bool{}
	for _, l := range lines {
		path, _ := l["path"].(string)
		status := int(l["status"].(float64))
		reason, _ := l["reason"].(string)
		key := path
		if path == "/limited" && status == 429 {
			key = "/limited#2"
		}
		if path == "" && status == 408 {
			if reason != "client_timeout" {
				t.Errorf("408 for a partial head: reason %q, want client_timeout", reason)
			}
			continue
		}
		if path == "/gated/a" {
			continue
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("unexpected line %v", l)
			continue
		}
		seen[key] = true
		if status != w.status || reason != w.reason {
			t.Errorf("%s: status %d reason %q, want %d %q (%v)", key, status, reason, w.status, w.reason, l)
		}
		if key == "/status/200" && l["client_ip"] != "203.0.113.9" {
			t.Errorf("client_ip %v behind a trusted proxy, want 203.0.113.9 (%v)", l["client_ip"], l)
		}
		if key == "/nowhere" && l["client_ip"] != "127.0.0.1" {
			t.Errorf("client_ip %v without X-Forwarded-For, want the peer's 127.0.0.1", l["client_ip"])
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("no access-log line for %s", k)
		}
	}

	// The process log: upstream failures, at most one line a second.
	var failures []string
	for _, l := range strings.Split(plog.String(), "\n") {
		if strings.Contains(l, `msg="upstream failure"`) {
			failures = append(failures, l)
		}
	}
	if len(failures) == 0 || !strings.Contains(failures[0], "reason=connect_failure") ||
		!strings.Contains(failures[0], "status=502") || !strings.Contains(failures[0], "upstream=refused") {
		t.Fatalf("process log has no upstream-failure line for the 502:\n%s", plog.String())
	}
	if max := 1 + int(elapsed/time.Second); len(failures) > max {
		t.Errorf("%d upstream-failure lines in %v, want at most %d (one a second):\n%s", len(failures), elapsed, max, strings.Join(failures, "\n"))
	}
}
