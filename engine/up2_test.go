package engine

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/hotpath/hotpath/internal/testpki"
)

// h2cUpstream is Go's net/http server speaking HTTP/2 with prior knowledge
// only, counting its connections.
type h2cUpstream struct {
	addr   string
	conns  atomic.Int64
	closed atomic.Int64
	reqs   atomic.Int64
	srv    *http.Server
	ln     net.Listener
}

func newH2CUpstream(t *testing.T, h http.HandlerFunc) *h2cUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &h2cUpstream{addr: ln.Addr().String(), ln: ln}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	u.srv = &http.Server{
		Protocols: &p,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u.reqs.Add(1)
			h(w, r)
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				u.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				u.closed.Add(1)
			}
		},
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = u.srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = u.srv.Close()
		<-done
	})
	return u
}

// h2cProxyTo is proxyTo with protocol h2c.
func h2cProxyTo(addrs ...string) string {
	return strings.Replace(proxyTo(addrs...), "  - name: app\n", "  - name: app\n    protocol: h2c\n", 1)
}

// TestH2UpstreamHTTP1Clients: HTTP/1.1 clients through an h2c upstream:
// methods, bodies of every framing both ways, past every window, unknown
// lengths (chunked toward the client), trailers.
func TestH2UpstreamHTTP1Clients(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Proto", r.Proto)
		w.Header().Set("X-Seen-Method", r.Method)
		w.Header().Set("X-Seen-Length", fmt.Sprint(len(body)))
		w.Header().Set("X-Seen-Host", r.Host)
		switch r.URL.Path {
		case "/big":
			_, _ = io.WriteString(w, big)
		case "/echo":
			_, _ = w.Write(body)
		case "/stream":
			w.Header().Set("Trailer", "X-Sum")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part1,")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part2")
			w.Header().Set("X-Sum", "42")
		case "/204":
			w.WriteHeader(204)
		default:
			_, _ = io.WriteString(w, "hello "+r.URL.RequestURI())
		}
	})
	srv := startServer(t, testConfig(t, h2cProxyTo(up.addr)))
	base := "http://" + srv.Addr()
	c := httpClient(t)

	resp, err := c.Get(base + "/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello /a?b=c" || resp.Header.Get("X-Seen-Proto") != "HTTP/2.0" {
		t.Fatalf("GET: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	resp, err = c.Get(base + "/big")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != big {
		t.Fatalf("big: %d bytes", len(body))
	}

	resp, err = c.Post(base+"/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != big || resp.Header.Get("X-Seen-Length") != fmt.Sprint(len(big)) {
		t.Fatalf("echo: %d bytes, seen %s", len(body), resp.Header.Get("X-Seen-Length"))
	}

	// Unknown length from the client: chunked in, DATA upstream.
	resp, err = c.Post(base+"/echo", "text/plain", io.MultiReader(strings.NewReader("abc"), strings.NewReader(big)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "abc"+big {
		t.Fatalf("chunked echo: %d bytes", len(body))
	}

	resp, err = c.Get(base + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "part1,part2" || resp.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("stream: %q trailers %v", body, resp.Trailer)
	}

	resp, err = c.Get(base + "/204")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("204: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("HEAD", base+"/big", nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	if n := up.conns.Load(); n > 2 {
		t.Fatalf("%d upstream connections for sequential requests over 2 loops", n)
	}
}

// TestH2UpstreamMultiplexes: concurrent requests from many HTTP/1.1
// clients share the loops' one HTTP/2 connection each (the upstream sees at
// most one connection per loop), and HTTP/2 clients' streams too.
func TestH2UpstreamMultiplexes(t *testing.T) {
	const n = 40
	var arrived atomic.Int64
	all := make(chan struct{})
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "%s:%d", r.URL.Path, len(body))
	})
	srv := startServer(t, testConfig(t, h2cProxyTo(up.addr)))
	base := "http://" + srv.Addr()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			body := strings.Repeat("x", i)
			fmt.Fprintf(c, "POST /r%d HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- err
				return
			}
			got, _ := io.ReadAll(resp.Body)
			if want := fmt.Sprintf("/r%d:%d", i, i); string(got) != want {
				errs <- fmt.Errorf("got %q, want %q", got, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c := up.conns.Load(); c < 1 || c > 2 {
		t.Fatalf("%d upstream connections for %d concurrent requests on 2 loops, want 1 or 2", c, n)
	}

	// HTTP/2 clients: their streams become upstream streams.
	arrived.Store(0)
	all = make(chan struct{})
	hc := h2cClient(t)
	_ = base
	h2srv := startH2(t, h2cProxyTo(up.addr))
	var wg2 sync.WaitGroup
	errs = make(chan error, n)
	for i := range n {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			resp, err := hc.Post("http://"+h2srv.Addr()+fmt.Sprintf("/s%d", i), "text/plain", strings.NewReader(strings.Repeat("y", 70000+i)))
			if err != nil {
				errs <- err
				return
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("/s%d:%d", i, 70000+i); string(got) != want || resp.ProtoMajor != 2 {
				errs <- fmt.Errorf("got %q %s, want %q", got, resp.Proto, want)
			}
		}()
	}
	wg2.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c := up.conns.Load(); c > 4 {
		t.Fatalf("%d upstream connections in all, want at most 2 per gateway", c)
	}
}

// TestH2UpstreamFailures: an upstream that dies before answering is a 502;
// one that dies mid-body cuts the client off; a client that goes away
// cancels the upstream's stream (the handler's context ends).
func TestH2UpstreamFailures(t *testing.T) {
	canceled := make(chan struct{}, 4)
	entered := make(chan struct{}, 4)
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			entered <- struct{}{}
			select {
			case <-r.Context().Done():
				canceled <- struct{}{}
			case <-time.After(10 * time.Second):
			}
		case "/half":
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
			entered <- struct{}{}
			<-r.Context().Done()
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	cfg := testConfig(t, h2cProxyTo(up.addr))
	cfg.Workers = 1
	srv := startServer(t, cfg)

	// Client goes away: the upstream request is canceled.
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /hang HTTP/1.1\r\nHost: t\r\n\r\n")
	<-entered
	c.Close()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream's request was not canceled when the client left")
	}

	// The connection still serves.
	resp, err := httpClient(t).Get("http://" + srv.Addr() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after cancel: %d", resp.StatusCode)
	}
	if up.conns.Load() != 1 {
		t.Fatalf("%d upstream connections: a canceled stream should not cost the connection", up.conns.Load())
	}

	// Upstream dies before answering one request and mid-body in another:
	// a 502 for the first, the second client cut off.
	hung := make(chan int, 1)
	go func() {
		resp, err := httpClient(t).Get("http://" + srv.Addr() + "/hang")
		if err != nil {
			hung <- 0
			return
		}
		resp.Body.Close()
		hung <- resp.StatusCode
	}()
	<-entered
	c2, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET /half HTTP/1.1\r\nHost: t\r\n\r\n")
	<-entered
	br := bufio.NewReader(c2)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = up.srv.Close() // every connection, mid-stream
	got, err := io.ReadAll(resp.Body)
	if err == nil || len(got) >= 100 {
		t.Fatalf("truncated body read whole: %d bytes, %v", len(got), err)
	}
	if st := <-hung; st != 502 {
		t.Fatalf("upstream died before the head: %d, want 502", st)
	}

	// Nobody listening any more: 502.
	resp, err = httpClient(t).Get("http://" + srv.Addr() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("upstream down: %d, want 502", resp.StatusCode)
	}
}

var _ = context.Background

// goAwayFirst serves h2c connections on ln: the first one answers its
// first request with GOAWAY (last stream 0: nothing processed) and is then
// held open; the others go to srv.
type goAwayFirst struct {
	net.Listener
	first atomic.Bool
	held  chan net.Conn
}

func (l *goAwayFirst) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil || !l.first.CompareAndSwap(false, true) {
			return c, err
		}
		go func() {
			br := bufio.NewReader(c)
			preface := make([]byte, len(http2.ClientPreface))
			if _, err := io.ReadFull(br, preface); err != nil {
				return
			}
			fr := http2.NewFramer(c, br)
			_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					return
				}
				if _, ok := f.(*http2.HeadersFrame); ok {
					_ = fr.WriteGoAway(0, http2.ErrCodeNo, nil)
					l.held <- c
					return
				}
			}
		}()
	}
}

// TestH2UpstreamGoAwayRetry: requests on a connection the upstream sends
// GOAWAY on, above its last stream, are sent again on a new connection,
// even a POST (it was not processed).
func TestH2UpstreamGoAwayRetry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl := &goAwayFirst{Listener: ln, held: make(chan net.Conn, 1)}
	var reqs atomic.Int64
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	hs := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		_, _ = io.WriteString(w, "second "+r.Method)
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(gl) }()
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
		select {
		case c := <-gl.held:
			c.Close()
		default:
		}
	})
	cfg := testConfig(t, h2cProxyTo(ln.Addr().String()))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	resp, err := httpClient(t).Post("http://"+srv.Addr()+"/x", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "second POST" || reqs.Load() != 1 {
		t.Fatalf("after GOAWAY: %d %q, %d requests served", resp.StatusCode, body, reqs.Load())
	}
}

// TestH2UpstreamHealthChecks: active health checks speak HTTP/2 with prior
// knowledge to h2c upstreams (which refuse HTTP/1.1): the endpoint whose
// /healthz fails is taken out, the other keeps serving.
func TestH2UpstreamHealthChecks(t *testing.T) {
	mk := func(name string, health int) *h2cUpstream {
		return newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				w.WriteHeader(health)
				return
			}
			_, _ = io.WriteString(w, name)
		})
	}
	good, bad := mk("good", 200), mk("bad", 503)
	body := h2cProxyTo(good.addr, bad.addr)
	body = strings.Replace(body, "routes:", `    health:
      active: {path: /healthz, interval: 50ms, timeout: 40ms, healthy_threshold: 1, unhealthy_threshold: 1}
routes:`, 1)
	srv := startServer(t, testConfig(t, body))
	c := httpClient(t)
	get := func() string {
		resp, err := c.Get("http://" + srv.Addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	eventually(t, 5*time.Second, func() bool {
		for range 10 {
			if get() != "good" {
				return false
			}
		}
		return true
	}, "the endpoint failing its HTTP/2 health check still gets requests")
	if good.reqs.Load() < 2 {
		t.Fatalf("the healthy endpoint saw %d requests (its checks included)", good.reqs.Load())
	}
}

// TestH2UpstreamMetrics: HTTP/2 upstream connections show in
// hotpath_upstream_connections (idle: no stream open), and requests in the
// upstream counters as over HTTP/1.1.
func TestH2UpstreamMetrics(t *testing.T) {
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	cfg := testConfig(t, h2cProxyTo(up.addr))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	c := httpClient(t)
	for range 3 {
		resp, err := c.Get("http://" + srv.Addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	waitMetrics(t, srv, []metricWant{
		{"hotpath_upstream_connections", []string{"upstream", "app", "state", "idle"}, 1},
		{"hotpath_upstream_connections", []string{"upstream", "app", "state", "active"}, 0},
		{"hotpath_upstream_requests_total", []string{"upstream", "app", "code", "200"}, 3},
		{"hotpath_endpoint_connections", []string{"upstream", "app", "endpoint", up.addr, "state", "idle"}, 1},
	})
}

// TestH2UpstreamPingLiveness: an idle HTTP/2 upstream connection is
// checked with PING; one that does not answer is closed (and the next
// request dials a new one).
func TestH2UpstreamPingLiveness(t *testing.T) {
	var pinged atomic.Int64
	closed := make(chan struct{}, 4)
	addr, accepted := rawH2Upstream(t, nil, func(rc *rawH2Conn, f http2.Frame) {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			rc.ok(f.StreamID)
		case *http2.PingFrame:
			pinged.Add(1) // and never answered
		}
	}, func() { closed <- struct{}{} })
	cfg := testConfig(t, h2cProxyTo(addr))
	cfg.Workers = 1
	cfg.Timeouts.UpstreamHeader = 300 * time.Millisecond
	cfg.Upstreams[0].Pool.IdleTimeout = 2 * time.Second // PING after half (1 s), closed at 1.3 s: before the idle timeout
	srv, clk := startServerLoopClock(t, cfg)
	get := func() {
		resp, err := httpClient(t).Get("http://" + srv.Addr() + "/x")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("got %d %q", resp.StatusCode, b)
		}
	}
	get()
	stop := pumpClock(t, srv, clk, 100*time.Millisecond) // the connection idles on loop time
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection that did not answer its PING was not closed")
	}
	stop()
	if pinged.Load() == 0 {
		t.Fatal("no PING was sent on the idle connection")
	}
	get()
	if accepted.Load() != 2 {
		t.Fatalf("%d connections accepted, want 2 (a new one after the dead one)", accepted.Load())
	}
}

// TestH2UpstreamOverTLS: protocol h2 speaks HTTP/2 over TLS, negotiated
// with ALPN h2; an upstream that only offers HTTP/1.1 fails the connect
// (502), it is not spoken to in the wrong protocol.
func TestH2UpstreamOverTLS(t *testing.T) {
	p := testpki.New(t, 0)
	certFile, keyFile := p.Issue(testpki.Leaf{Name: "upstream", CN: "upstream", DNS: []string{"upstream.test"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "%s tls=%v", r.Proto, r.TLS != nil)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.ServeTLS(ln, certFile, keyFile) }()
	t.Cleanup(func() { _ = hs.Close(); <-done })
	h1only := tlsUpstream(t, p, nil) // ALPN: no h2

	for _, c := range []struct {
		name, addr, want string
		status           int
	}{
		{name: "h2", addr: ln.Addr().String(), want: "HTTP/2.0 tls=true", status: 200},
		{name: "http1-only", addr: h1only.addr, status: 502},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(t, fmt.Sprintf(`upstreams:
  - name: app
    protocol: h2
    endpoints: [{address: %s}]
    tls: {ca_file: %s}
routes:
  - {path: /*path, upstream: app, retry: {attempts: 1}}
`, c.addr, p.CAFile))
			// The connect timeout covers the TLS handshake, which a race
			// build on a machine running the whole suite took past the
			// harness's 1 s once (504).
			cfg.Timeouts.Connect = 10 * time.Second
			srv := startServer(t, cfg)
			resp, err := httpClient(t).Get("http://" + srv.Addr() + "/x")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || c.status == 200 && string(b) != c.want {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, c.status, c.want)
			}
		})
	}
}

// TestH2UpstreamSlowClient: a client that does not read closes its
// stream's window at the upstream (the upstream's writes block) instead of
// the gateway buffering the body; once it reads, all of it arrives.
func TestH2UpstreamSlowClient(t *testing.T) {
	const size = 64 << 20
	var written atomic.Int64
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for written.Load() < size {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
		}
	})
	cfg := testConfig(t, h2cProxyTo(up.addr))
	cfg.Timeouts.UpstreamRead = 20 * time.Second // the client's pause is not the upstream's fault
	srv := startServer(t, cfg)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /huge HTTP/1.1\r\nHost: t\r\n\r\n")
	// Wait until the upstream stops making progress: its window is shut.
	last, still := int64(-1), 0
	eventually(t, 10*time.Second, func() bool {
		n := written.Load()
		if n == last && n > 0 {
			still++
		} else {
			last, still = n, 0
		}
		return still >= 40 // unchanged for 40 polls
	}, "the upstream never stopped writing to a client that reads nothing")
	t.Logf("the upstream stopped after %d KiB for a client reading nothing", written.Load()>>10)
	if n := written.Load(); n >= size/2 {
		t.Fatalf("the upstream wrote %d MiB to a client that read nothing", n>>20)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
}

// TestH2UpstreamRequestTrailers: a request's trailers reach an HTTP/2
// upstream as the HEADERS that end its stream, after all the body, from an
// HTTP/2 client's trailing HEADERS and from an HTTP/1.1 client's chunked
// trailer section, small bodies and bodies past the upstream's windows
// (the trailers then wait for the DATA before them); fields that frame or
// authenticate a message stay out, as toward HTTP/1.1 upstreams.
func TestH2UpstreamRequestTrailers(t *testing.T) {
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Len", fmt.Sprint(len(body)))
		w.Header().Set("X-Seen-Sum", r.Trailer.Get("X-Sum"))
		w.Header().Set("X-Seen-Auth", r.Trailer.Get("Authorization"))
	})
	srv := startH2(t, h2cProxyTo(up.addr))
	// seen checks what the upstream said it received.
	seen := func(t *testing.T, resp *http.Response, size int) {
		t.Helper()
		readBody(t, resp)
		if got := resp.Header.Get("X-Seen-Len"); got != fmt.Sprint(size) {
			t.Fatalf("the upstream got %s body bytes, want %d", got, size)
		}
		if got := resp.Header.Get("X-Seen-Sum"); got != "sum-ok" {
			t.Fatalf("the upstream saw request trailer X-Sum %q", got)
		}
		if got := resp.Header.Get("X-Seen-Auth"); got != "" {
			t.Fatalf("Authorization taken from a trailer: %q", got)
		}
	}
	for _, size := range []int{7, 3 << 20} {
		body := strings.Repeat("x", size)
		t.Run(fmt.Sprintf("h2 client %d bytes", size), func(t *testing.T) {
			req, _ := http.NewRequest("POST", "http://"+srv.Addr()+"/t", io.MultiReader(strings.NewReader(body[:1]), strings.NewReader(body[1:])))
			req.ContentLength = -1
			req.Trailer = http.Header{"X-Sum": {"sum-ok"}, "Authorization": {"Bearer forged"}}
			resp, err := h2cClient(t).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			seen(t, resp, size)
		})
		t.Run(fmt.Sprintf("http1 client %d bytes", size), func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() {
				fmt.Fprintf(c, "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, Authorization\r\n\r\n%x\r\n%s\r\n0\r\nX-Sum: sum-ok\r\nAuthorization: Bearer forged\r\n\r\n", size, body)
			}()
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			seen(t, resp, size)
		})
	}
}

// TestH2UpstreamTrailersWaitForData: with the upstream's stream window at
// 16 bytes, a chunked request's trailer section arrives while most of its
// body still waits for window; the trailers go out only after the last
// DATA, as the HEADERS that end the stream.
func TestH2UpstreamTrailersWaitForData(t *testing.T) {
	type frame struct {
		kind string // "data" or "trailers"
		n    int
		end  bool
		sum  string
	}
	frames := make(chan frame, 64)
	started := map[uint32]bool{}
	addr, _ := rawH2Upstream(t, []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: 16}}, func(rc *rawH2Conn, f http2.Frame) {
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if !started[f.StreamID] && !f.StreamEnded() {
				started[f.StreamID] = true
				return // the POST's head; its body waits for window
			}
			if started[f.StreamID] {
				frames <- frame{kind: "trailers", end: f.StreamEnded(), sum: metaField(f, "x-sum")}
			}
			rc.ok(f.StreamID)
		case *http2.DataFrame:
			frames <- frame{kind: "data", n: len(f.Data()), end: f.StreamEnded()}
			if n := len(f.Data()); n > 0 {
				_ = rc.fr.WriteWindowUpdate(0, uint32(n))
				_ = rc.fr.WriteWindowUpdate(f.StreamID, uint32(n)) // 16 more bytes at a time
			}
		}
	}, sync.OnceFunc(func() { close(frames) }))
	srv := startServer(t, testConfig(t, h2cProxyTo(addr)))
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A first request opens the upstream connection, so that its SETTINGS
	// (the 16-byte window) are known before the POST's body goes out.
	fmt.Fprintf(c, "GET /warm HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	warm, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, warm)
	body := strings.Repeat("y", 100)
	fmt.Fprintf(c, "POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n%x\r\n%s\r\n0\r\nX-Sum: sum-ok\r\n\r\n", len(body), body)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := readBody(t, resp); b != "ok" {
		t.Fatalf("got %d %q", resp.StatusCode, b)
	}
	got := 0
	for f := range frames {
		switch f.kind {
		case "data":
			if f.end {
				t.Fatal("END_STREAM on DATA: the trailers were lost")
			}
			if f.n > 16 {
				t.Fatalf("a DATA frame of %d bytes past a 16-byte window", f.n)
			}
			got += f.n
		case "trailers":
			if got != len(body) {
				t.Fatalf("the trailers went out after %d of the %d body bytes", got, len(body))
			}
			if !f.end || f.sum != "sum-ok" {
				t.Fatalf("trailers: END_STREAM %v, x-sum %q", f.end, f.sum)
			}
			return
		}
	}
	t.Fatal("the upstream got no trailers")
}

func metaField(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.RegularFields() {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// TestH2UpstreamUpgradeSentPlain: HTTP/2 has no Upgrade (RFC 9113 §8.6), so
// a WebSocket handshake routed to an HTTP/2 upstream goes up as the plain
// request it also is, without Upgrade or Connection, and the client gets
// the upstream's answer (here 426) on a connection that stays usable.
func TestH2UpstreamUpgradeSentPlain(t *testing.T) {
	up := newH2CUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Upgrade", r.Header.Get("Upgrade")+"|"+r.Header.Get("Connection"))
		w.Header().Set("X-Seen-Key", r.Header.Get("Sec-WebSocket-Key"))
		w.WriteHeader(http.StatusUpgradeRequired)
	})
	srv := startServer(t, testConfig(t, h2cProxyTo(up.addr)))
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("status %d, want the upstream's 426", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Seen-Upgrade"); got != "|" {
		t.Fatalf("the upstream saw Upgrade|Connection %q", got)
	}
	if got := resp.Header.Get("X-Seen-Key"); got == "" {
		t.Fatal("the end-to-end fields of the handshake did not go up")
	}
	fmt.Fprintf(c, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
	again, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the connection did not stay usable: %v", err)
	}
	readBody(t, again)
}

// rawH2Upstream listens on a kernel-chosen port and, for every connection,
// reads the client preface, sends SETTINGS (settings), answers the
// client's SETTINGS and hands every other frame to onFrame; a read error
// (the connection closed) ends the connection after onEnd. Hand-written
// upstreams see exactly the frames the gateway sends. conns counts the
// connections accepted.
func rawH2Upstream(t *testing.T, settings []http2.Setting, onFrame func(rc *rawH2Conn, f http2.Frame), onEnd func()) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := io.ReadFull(br, make([]byte, len(http2.ClientPreface))); err != nil {
					return
				}
				rc := &rawH2Conn{fr: http2.NewFramer(c, br)}
				rc.enc = hpack.NewEncoder(&rc.hb)
				rc.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
				_ = rc.fr.WriteSettings(settings...)
				for {
					f, err := rc.fr.ReadFrame()
					if err != nil {
						onEnd()
						return
					}
					if sf, ok := f.(*http2.SettingsFrame); ok {
						if !sf.IsAck() {
							_ = rc.fr.WriteSettingsAck()
						}
						continue
					}
					onFrame(rc, f)
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

// rawH2Conn is one connection of a rawH2Upstream (its own HPACK state).
type rawH2Conn struct {
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

// ok answers stream id 200 with the body "ok".
func (rc *rawH2Conn) ok(id uint32) {
	rc.hb.Reset()
	_ = rc.enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	_ = rc.enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "2"})
	_ = rc.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: rc.hb.Bytes(), EndHeaders: true})
	_ = rc.fr.WriteData(id, true, []byte("ok"))
}
