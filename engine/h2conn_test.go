package engine

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotpath/hotpath/h2"
)

// h2cClient is Go's HTTP/2 client with prior knowledge (h2c).
func h2cClient(t *testing.T) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func startH2(t *testing.T, body string) *Server {
	t.Helper()
	cfg := testConfig(t, body)
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	return startServer(t, cfg)
}

// TestH2cThroughTheGateway: HTTP/2 clients with prior knowledge reach an
// HTTP/1.1 upstream through the same routes; every kind of body works both
// ways, under flow control.
func TestH2cThroughTheGateway(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: past every window
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Proto", r.Proto)
		w.Header().Set("X-Seen-Length", fmt.Sprint(len(body)))
		w.Header().Set("X-Seen-Cookie", r.Header.Get("Cookie"))
		switch r.URL.Path {
		case "/big":
			_, _ = io.WriteString(w, big)
		case "/echo":
			_, _ = w.Write(body)
		case "/chunked":
			w.(http.Flusher).Flush() // no Content-Length: chunked from the upstream
			_, _ = io.WriteString(w, "part1,")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part2")
		default:
			_, _ = io.WriteString(w, "hello")
		}
	})
	srv := startH2(t, proxyTo(up.addr))
	cl := h2cClient(t)
	base := "http://" + srv.Addr()

	resp, err := cl.Get(base + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.ProtoMajor != 2 || body != "hello" || resp.Header.Get("X-Seen-Proto") != "HTTP/1.1" {
		t.Fatalf("GET: %s %q seen %q", resp.Proto, body, resp.Header.Get("X-Seen-Proto"))
	}
	resp, err = cl.Get(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != big {
		t.Fatalf("big response: %d bytes, want %d", len(body), len(big))
	}
	resp, err = cl.Get(base + "/chunked")
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "part1,part2" {
		t.Fatalf("chunked upstream: %q", body)
	}
	// A body of known length, and one of unknown length (chunked upstream).
	resp, err = cl.Post(base+"/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != big {
		t.Fatalf("POST echo: %d bytes, want %d", len(body), len(big))
	}
	req, _ := http.NewRequest("POST", base+"/echo", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
	req.ContentLength = -1
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "abcdef" {
		t.Fatalf("POST of unknown length: %q", body)
	}
	req, _ = http.NewRequest("GET", base+"/x", nil)
	req.Header.Add("Cookie", "a=1")
	req.Header.Add("Cookie", "b=2")
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if c := resp.Header.Get("X-Seen-Cookie"); c != "a=1; b=2" {
		t.Fatalf("cookies joined as %q, want \"a=1; b=2\" (RFC 9113 §8.2.3)", c)
	}
	resp, err = cl.Head(base + "/x")
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
}

// TestH2cConcurrentStreams: many streams at once on one connection, each
// its own exchange.
func TestH2cConcurrentStreams(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path)
	})
	srv := startH2(t, proxyTo(up.addr))
	cl := h2cClient(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Go(func() {
			path := fmt.Sprintf("/s/%d", i)
			resp, err := cl.Get("http://" + srv.Addr() + path)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 || string(b) != path {
				errs <- fmt.Errorf("%s: %s %q", path, resp.Proto, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestH2cPoliciesPerStream: local answers, the router's 404 and 405, a
// cache hit and a rate limit are all just responses on a stream.
func TestH2cPoliciesPerStream(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = io.WriteString(w, "cached body")
	})
	srv := startH2(t, fmt.Sprintf(`
upstreams:
  - {name: app, endpoints: [{address: %s}]}
routes:
  - {path: /direct, direct: {status: 201, body: made here}}
  - {path: /only-get, methods: [GET], upstream: app}
  - {path: /cached/*rest, upstream: app, cache: {}}
  - {path: /limited, upstream: app, rate_limit: {rate: 1, per: 1h, burst: 1}}
`, up.addr))
	cl := h2cClient(t)
	base := "http://" + srv.Addr()
	for _, tc := range []struct {
		method, path string
		status       int
		body, xcache string
	}{
		{method: "GET", path: "/direct", status: 201, body: "made here"},
		{method: "GET", path: "/nowhere", status: 404},
		{method: "POST", path: "/only-get", status: 405},
		{method: "GET", path: "/cached/a", status: 200, body: "cached body", xcache: "MISS"},
		{method: "GET", path: "/cached/a", status: 200, body: "cached body", xcache: "HIT"},
		{method: "GET", path: "/limited", status: 200},
		{method: "GET", path: "/limited", status: 429},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, bytes.NewReader(nil))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		body := readBody(t, resp)
		if resp.StatusCode != tc.status || (tc.body != "" && body != tc.body) || resp.Header.Get("X-Cache") != tc.xcache {
			t.Fatalf("%s %s: %d %q X-Cache %q; want %d %q %q", tc.method, tc.path, resp.StatusCode, body,
				resp.Header.Get("X-Cache"), tc.status, tc.body, tc.xcache)
		}
	}
}

// TestH2cPrefaceRefusedWithoutH2c: a listener without h2c answers the
// preface with 400, as before.
func TestH2cPrefaceRefusedWithoutH2c(t *testing.T) {
	up := newHTTPUpstream(t, okHandler)
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	cl := h2cClient(t)
	if _, err := cl.Get("http://" + srv.Addr() + "/"); err == nil {
		t.Fatal("an HTTP/2 request to an http1-only listener succeeded")
	}
}

// TestH2specGateway runs h2spec (pinned in go.mod as a tool) against the
// gateway itself, an h2c listener proxying to an HTTP/1.1 upstream: the
// generic, http2 (strict cases included) and hpack groups.
func TestH2specGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: h2spec needs a build of the tool")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("h2spec: no go command on PATH to run `go tool h2spec`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, gobin, "tool", "-n", "h2spec").CombinedOutput(); err != nil {
		t.Skipf("h2spec cannot be built (`go tool -n h2spec`): %v\n%s", err, out)
	}
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "hello, h2spec\n")
	})
	// HTTP/2 only: a listener that also speaks HTTP/1.1 answers an
	// invalid preface as the malformed HTTP/1.1 request it is (400).
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"h2c"}
	srv := startServer(t, cfg)
	_, port, _ := net.SplitHostPort(srv.Addr())
	for _, group := range []string{"generic", "http2", "hpack"} {
		t.Run(group, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, gobin, "tool", "h2spec", group, "-S", "-h", "127.0.0.1", "-p", port, "-o", "3")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			summary := lines[len(lines)-1]
			if err != nil || !strings.Contains(summary, " 0 failed") {
				t.Errorf("h2spec %s: %v\n%s", group, err, out.Bytes())
				return
			}
			t.Logf("h2spec %s: %s", group, summary)
		})
	}
}

// h2Loop sends n requests one at a time on an HTTP/2 connection through
// the gateway with h2.ClientConn (which allocates nothing per request).
func h2Loop(tb testing.TB, c net.Conn, cc *h2.ClientConn, buf []byte, n int) {
	for i := 0; i < n; i++ {
		if !cc.CanOpen(0) {
			tb.Fatal("cannot open a stream")
		}
		cc.Open(0, uint32(i))
		if _, err := c.Write(cc.Output()); err != nil {
			tb.Fatal(err)
		}
		cc.ClearOutput()
		for done := false; !done; {
			m, err := c.Read(buf)
			if err != nil {
				tb.Fatalf("request %d: %v", i, err)
			}
			for off := 0; off < m; {
				k, ev := cc.Feed(buf[off:m])
				off += k
				switch ev.Kind {
				case h2.ClientDone:
					if ev.Status != 200 {
						tb.Fatalf("request %d: status %d", i, ev.Status)
					}
					done = true
				case h2.ClientReset, h2.ClientGoAway, h2.ClientClose:
					tb.Fatalf("request %d: event %d", i, ev.Kind)
				}
				if k == 0 && ev.Kind == h2.ClientNone {
					break
				}
			}
			if out := cc.Output(); len(out) > 0 { // SETTINGS acks, window updates
				if _, err := c.Write(out); err != nil {
					tb.Fatal(err)
				}
				cc.ClearOutput()
			}
		}
	}
}

// TestH2Allocations: an HTTP/2 request through the gateway to an HTTP/1.1
// upstream, in steady state, allocates less than once (issue 12's bar).
func TestH2Allocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	up := allocFreeUpstream(t)
	cfg := testConfig(t, proxyTo(up))
	cfg.Workers = 1
	cfg.Listeners[0].Protocols = []string{"h2c"}
	cfg.Timeouts.ClientIdle = time.Minute
	srv := startServer(t, cfg)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	var cc h2.ClientConn
	cc.Init([]*h2.RequestTemplate{h2.NewRequestTemplate("GET", "http", "bench", "/bench",
		[][2]string{{"user-agent", "hotpath-bench"}, {"accept", "*/*"}}, nil)})
	buf := make([]byte, 64<<10)
	h2Loop(t, c, &cc, buf, 1000) // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 20000
	h2Loop(t, c, &cc, buf, n)
	runtime.ReadMemStats(&after)
	got := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%.4f mallocs per HTTP/2 request over %d requests", got, n)
	if got > 1 {
		t.Errorf("%.3f mallocs per HTTP/2 request, want < 1", got)
	}
}

// TestH2cTrailersBothWays: an HTTP/2 client's request trailers reach an
// HTTP/1.1 upstream in the last chunk (a body of unknown length goes up
// chunked), fields that frame or authenticate a message excepted, and a
// chunked upstream response's trailers reach the client as the HEADERS
// that end the stream.
func TestH2cTrailersBothWays(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Resp-Sum")
		w.Header().Set("X-Seen-Sum", r.Trailer.Get("X-Sum"))
		w.Header().Set("X-Seen-Auth", r.Trailer.Get("Authorization"))
		w.Header().Set("X-Seen-TE", strings.Join(r.TransferEncoding, ","))
		_, _ = w.Write(body)
		w.Header().Set("X-Resp-Sum", fmt.Sprintf("len=%d", len(body)))
	})
	srv := startH2(t, proxyTo(up.addr))
	req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/t", io.MultiReader(strings.NewReader("abc"), strings.NewReader("defg")))
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Sum": {"abcdefg-ok"}, "Authorization": {"Bearer forged"}}
	resp, err := h2cClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "abcdefg" {
		t.Fatalf("body %q", body)
	}
	if got := resp.Header.Get("X-Seen-Sum"); got != "abcdefg-ok" {
		t.Fatalf("the upstream saw request trailer X-Sum %q (chunked: %q)", got, resp.Header.Get("X-Seen-TE"))
	}
	if got := resp.Header.Get("X-Seen-Auth"); got != "" {
		t.Fatalf("Authorization taken from a trailer: %q", got)
	}
	if got := resp.Trailer.Get("X-Resp-Sum"); got != "len=7" {
		t.Fatalf("response trailer X-Resp-Sum %q, trailers %v", got, resp.Trailer)
	}
}
