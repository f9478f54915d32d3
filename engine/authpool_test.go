package engine

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hotpath/hotpath/auth"
	"github.com/hotpath/hotpath/config"
)

// verifyHook replaces the Basic verifier of a test server's pool: it
// counts checks and, when blocking, holds each worker until the test
// releases it, so that "the loop served others while a bcrypt ran" is
// shown by order of events, not by timing.
type verifyHook struct {
	block   bool
	calls   atomic.Int64
	entered chan string   // the credential of each check that started
	release chan struct{} // one receive per held check; closed by releaseAll
	once    sync.Once
}

func newVerifyHook(block bool) *verifyHook {
	return &verifyHook{block: block, entered: make(chan string, 64), release: make(chan struct{})}
}

func (h *verifyHook) verify(b *auth.Basic, cred []byte) bool {
	h.calls.Add(1)
	if h.block {
		h.entered <- string(cred)
		<-h.release
	}
	return b.Verify(cred)
}

func (h *verifyHook) releaseAll() { h.once.Do(func() { close(h.release) }) }

// waitEntered waits until a worker has started checking cred.
func (h *verifyHook) waitEntered(t *testing.T, cred string) {
	t.Helper()
	select {
	case got := <-h.entered:
		if got != cred {
			t.Fatalf("worker checks %q, want %q", got, cred)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no worker started checking %q", cred)
	}
}

// releaseOne lets one held check finish.
func (h *verifyHook) releaseOne(t *testing.T) {
	t.Helper()
	select {
	case h.release <- struct{}{}:
	case <-time.After(10 * time.Second):
		t.Fatal("no check held")
	}
}

// basicTest is a one-loop server with /private/* behind basic auth
// (alice:s3cret, proxied to an upstream that echoes the body and the
// X-User it saw) and an /open direct route, on the same loop.
type basicTest struct {
	srv  *Server
	hook *verifyHook
	file string
	up   string
}

// startBasic starts a basicTest with the given pool size and queue;
// tune adjusts the config, opts the Server before it starts.
func startBasic(t *testing.T, block bool, workers, queue int, tune func(*config.Config), opts ...func(*Server)) *basicTest {
	t.Helper()
	bt := &basicTest{hook: newVerifyHook(block)}
	bt.file = writeHtpasswd(t, "alice", "s3cret")
	bt.up = newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-User", r.Header.Get("X-User"))
		_, _ = w.Write(body)
	}).addr
	cfg := testConfig(t, bt.config(bt.file))
	cfg.Workers = 1
	if tune != nil {
		tune(cfg)
	}
	srv, err := New(cfg, WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	srv.auth.workers, srv.auth.queue, srv.auth.verify = workers, queue, bt.hook.verify
	for _, o := range opts {
		o(srv)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	t.Cleanup(bt.hook.releaseAll) // before Close: the workers must not stay held
	bt.srv = srv
	return bt
}

func (bt *basicTest) config(htpasswd string) string {
	return fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /open
    direct: {status: 200, body: open}
  - path: /private/*rest
    upstream: app
    auth:
      basic: {realm: staff, htpasswd_file: %s, user_header: X-User}
`, bt.up, htpasswd)
}

func writeHtpasswd(t *testing.T, user, pass string) string {
	t.Helper()
	hash, _ := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func basicField(userPass string) string {
	return "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// send writes a GET for path with extra fields without reading the answer.
func (cl *rawClient) send(path string, hdrs ...string) {
	cl.t.Helper()
	raw := "GET " + path + " HTTP/1.1\r\nHost: example.com\r\n"
	for _, h := range hdrs {
		raw += h + "\r\n"
	}
	if _, err := io.WriteString(cl.c, raw+"\r\n"); err != nil {
		cl.t.Fatal(err)
	}
}

// read reads one response to a GET and its body.
func (cl *rawClient) read() (*http.Response, string) {
	cl.t.Helper()
	resp, err := http.ReadResponse(cl.br, &http.Request{Method: "GET"})
	if err != nil {
		cl.t.Fatalf("read response: %v", err)
	}
	return resp, readBody(cl.t, resp)
}

// expect reads one response and checks its status and, when not empty,
// its body.
func (cl *rawClient) expect(status int, body string) *http.Response {
	cl.t.Helper()
	resp, got := cl.read()
	if resp.StatusCode != status || (body != "" && got != body) {
		cl.t.Fatalf("got %d %q, want %d %q", resp.StatusCode, got, status, body)
	}
	return resp
}

// unanswered checks that nothing has arrived on cl yet. Its worker is held
// by the test, so no answer can be on its way: the short read deadline
// only bounds how long the check takes, it does not decide the outcome.
func (cl *rawClient) unanswered() {
	cl.t.Helper()
	_ = cl.c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err := cl.br.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		cl.t.Fatalf("answered while its check is held: %v", err)
	}
	_ = cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
}

func expect401(t *testing.T, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="staff", charset="UTF-8"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

// TestAuthBasicOffLoop: while a worker runs the bcrypt of one
// connection's wrong password, another connection on the same (only)
// loop is served: an open route and a cached credential.
func TestAuthBasicOffLoop(t *testing.T) {
	bt := startBasic(t, true, 1, 4, nil)
	good, bad := basicField("alice:s3cret"), basicField("alice:wrong")
	b := newClient(t, bt.srv)
	b.send("/private/x", good)
	bt.hook.waitEntered(t, "alice:s3cret")
	bt.hook.releaseOne(t)
	if resp := b.expect(200, ""); resp.Header.Get("X-Seen-User") != "alice" {
		t.Fatalf("upstream saw X-User %q", resp.Header.Get("X-Seen-User"))
	}

	a := newClient(t, bt.srv)
	a.send("/private/x", bad)
	bt.hook.waitEntered(t, "alice:wrong") // held: the bcrypt "runs" until released
	b.send("/open")
	b.expect(200, "open")
	b.send("/private/y", good)
	if resp := b.expect(200, ""); resp.Header.Get("X-Seen-User") != "alice" {
		t.Fatalf("cached credential: upstream saw X-User %q", resp.Header.Get("X-Seen-User"))
	}
	a.unanswered()
	bt.hook.releaseOne(t)
	expect401(t, a.expect(401, ""))
	if n := bt.hook.calls.Load(); n != 2 {
		t.Errorf("%d checks, want 2 (the cached credential needs none)", n)
	}
}

// TestAuthBasicPoolFull: with the worker held and the queue full, a
// further unverified credential is answered 503 with Retry-After at once
// and counted as "busy"; the parked ones are answered when released.
func TestAuthBasicPoolFull(t *testing.T) {
	bt := startBasic(t, true, 1, 1, nil)
	a, b, c := newClient(t, bt.srv), newClient(t, bt.srv), newClient(t, bt.srv)
	a.send("/private/x", basicField("alice:a"))
	bt.hook.waitEntered(t, "alice:a")
	b.send("/private/x", basicField("alice:b"))
	eventually(t, 5*time.Second, func() bool { return len(bt.srv.auth.jobs) == 1 }, "second check not queued")
	c.send("/private/x", basicField("alice:c"))
	resp := c.expect(503, "")
	if resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", resp.Header.Get("Retry-After"))
	}
	// A cached or open answer does not need the pool.
	c.send("/open")
	c.expect(200, "open")
	bt.hook.releaseOne(t)
	a.expect(401, "")
	bt.hook.waitEntered(t, "alice:b")
	bt.hook.releaseOne(t)
	b.expect(401, "")
	waitMetrics(t, bt.srv, []metricWant{
		{"hotpath_auth_rejections_total", []string{"route", "/private/*rest", "reason", "busy"}, 1},
		{"hotpath_auth_rejections_total", []string{"route", "/private/*rest", "reason", "invalid"}, 2},
	})
}

// TestAuthBasicParkDeadline: a request parked longer than
// timeouts.pending is answered 503; the late result is ignored and the
// connection keeps working.
func TestAuthBasicParkDeadline(t *testing.T) {
	clk := newLoopClock()
	bt := startBasic(t, true, 1, 4, func(c *config.Config) { c.Timeouts.Pending = 100 * time.Millisecond },
		func(s *Server) { s.monoClock = clk.now })
	a := newClient(t, bt.srv)
	a.send("/private/x", basicField("alice:s3cret"))
	bt.hook.waitEntered(t, "alice:s3cret") // parked: its deadline is armed
	expire(t, bt.srv, clk, 100*time.Millisecond)
	if resp := a.expect(503, ""); resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	bt.hook.releaseOne(t)
	a.send("/open")
	a.expect(200, "open")
	// The abandoned check's success was not cached: this one checks again.
	// timeouts.pending goes back to its default first, so that a slow
	// (race-instrumented, CPU-starved) run cannot hit the deadline again.
	cfg := testConfig(t, bt.config(bt.file))
	cfg.Workers = 1
	if err := bt.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	a.send("/private/x", basicField("alice:s3cret"))
	bt.hook.waitEntered(t, "alice:s3cret")
	bt.hook.releaseOne(t)
	a.expect(200, "")
}

// TestAuthBasicCloseWhileParked: a client that closes while its check
// runs or waits in the queue leaves nothing behind: the queued check is
// skipped, the running one's result is dropped, the loop serves on.
func TestAuthBasicCloseWhileParked(t *testing.T) {
	bt := startBasic(t, true, 1, 4, nil)
	a, b := newClient(t, bt.srv), newClient(t, bt.srv)
	a.send("/private/x", basicField("alice:a"))
	bt.hook.waitEntered(t, "alice:a")
	b.send("/private/x", basicField("alice:b"))
	eventually(t, 5*time.Second, func() bool { return len(bt.srv.auth.jobs) == 1 }, "second check not queued")
	_ = a.c.Close()
	_ = b.c.Close()
	eventually(t, 5*time.Second, func() bool { return bt.srv.active.Load() == 0 }, "connections not closed")
	syncLoops(t, bt.srv)  // their OnClose (which cancels the jobs) has returned
	bt.hook.releaseOne(t) // a's result reaches a closed connection

	c := newClient(t, bt.srv)
	c.send("/private/x", basicField("alice:s3cret"))
	// The single worker took b's cancelled job before c's: it skipped it.
	bt.hook.waitEntered(t, "alice:s3cret")
	if n := bt.hook.calls.Load(); n != 2 {
		t.Errorf("%d checks, want 2 (a's and c's; b's skipped)", n)
	}
	bt.hook.releaseOne(t)
	c.expect(200, "")
}

// TestAuthBasicDrainWhileParked: Shutdown lets a parked request finish
// (with Connection: close); when the drain deadline passes first, the
// loops stop, the result is dropped and Shutdown returns.
func TestAuthBasicDrainWhileParked(t *testing.T) {
	t.Run("finishes", func(t *testing.T) {
		clk := newLoopClock()
		bt := startBasic(t, true, 1, 4, nil, func(s *Server) { s.monoClock = clk.now })
		a := newClient(t, bt.srv)
		a.send("/private/x", basicField("alice:s3cret"))
		bt.hook.waitEntered(t, "alice:s3cret")
		done := make(chan error, 1)
		go func() { done <- shutdown(t, bt.srv, 10*time.Second) }()
		eventually(t, 5*time.Second, bt.srv.draining.Load, "not draining")
		a.unanswered()
		bt.hook.releaseOne(t)
		resp := a.expect(200, "")
		if !resp.Close || resp.Header.Get("X-Seen-User") != "alice" {
			t.Errorf("during drain: close %v, X-Seen-User %q", resp.Close, resp.Header.Get("X-Seen-User"))
		}
		endLinger(t, bt.srv, clk) // the last connection closes
		if err := <-done; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		bt := startBasic(t, true, 1, 4, nil)
		a := newClient(t, bt.srv)
		a.send("/private/x", basicField("alice:s3cret"))
		bt.hook.waitEntered(t, "alice:s3cret")
		go func() { <-bt.srv.Done(); bt.hook.releaseAll() }() // the check ends after the loops
		if err := shutdown(t, bt.srv, 100*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want the deadline", err)
		}
		if _, err := a.br.Peek(1); err == nil {
			t.Fatal("answered after the loops stopped")
		}
	})
}

// TestAuthBasicFailureCache: a repeated wrong credential costs one check
// per auth.FailTTL; unknown users go through the pool like known ones.
func TestAuthBasicFailureCache(t *testing.T) {
	clk := newTestClock()
	bt := startBasic(t, false, 1, 4, nil, func(s *Server) { s.clock = clk.Now })
	cl := newClient(t, bt.srv)
	for _, tc := range []struct {
		name  string
		cred  string
		after time.Duration
		calls int64
	}{
		{"wrong", "alice:wrong", 0, 1},
		{"wrong again", "alice:wrong", 0, 1},
		{"and again", "alice:wrong", time.Duration(auth.FailTTL) - time.Millisecond, 1},
		{"after FailTTL", "alice:wrong", time.Millisecond, 2},
		{"another wrong", "alice:wrong2", 0, 3},
		{"unknown user", "bob:s3cret", 0, 4},
		{"unknown again", "bob:s3cret", 0, 4},
	} {
		clk.Advance(tc.after)
		cl.send("/private/x", basicField(tc.cred))
		expect401(t, cl.expect(401, ""))
		if n := bt.hook.calls.Load(); n != tc.calls {
			t.Fatalf("%s: %d checks, want %d", tc.name, n, tc.calls)
		}
	}
	for i := 0; i < 2; i++ {
		cl.send("/private/x", basicField("alice:s3cret"))
		cl.expect(200, "")
	}
	if n := bt.hook.calls.Load(); n != 5 {
		t.Fatalf("%d checks, want 5", n)
	}
}

// TestAuthBasicPipelined: requests pipelined behind a parked one wait in
// order, including the parked request's body; a second unverified
// credential parks again.
func TestAuthBasicPipelined(t *testing.T) {
	bt := startBasic(t, true, 1, 4, nil)
	cl := newClient(t, bt.srv)
	raw := "POST /private/echo HTTP/1.1\r\nHost: example.com\r\n" + basicField("alice:s3cret") + "\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /open HTTP/1.1\r\nHost: example.com\r\n\r\n" +
		"GET /private/x HTTP/1.1\r\nHost: example.com\r\n" + basicField("alice:wrong") + "\r\n\r\n" +
		"GET /open HTTP/1.1\r\nHost: example.com\r\n\r\n"
	if _, err := io.WriteString(cl.c, raw); err != nil {
		t.Fatal(err)
	}
	bt.hook.waitEntered(t, "alice:s3cret")
	cl.unanswered() // the /open behind it waits too
	bt.hook.releaseOne(t)
	resp, err := http.ReadResponse(cl.br, &http.Request{Method: "POST"})
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "hello" || resp.Header.Get("X-Seen-User") != "alice" {
		t.Fatalf("parked POST: %d %q, X-Seen-User %q", resp.StatusCode, body, resp.Header.Get("X-Seen-User"))
	}
	cl.expect(200, "open")
	bt.hook.waitEntered(t, "alice:wrong")
	cl.unanswered()
	bt.hook.releaseOne(t)
	cl.expect(401, "")
	cl.expect(200, "open")
}

// TestAuthBasicReloadWhileParked: a request parked across a reload is
// verified against the htpasswd it started with; the next one uses the
// new file.
func TestAuthBasicReloadWhileParked(t *testing.T) {
	bt := startBasic(t, true, 1, 4, nil)
	a := newClient(t, bt.srv)
	a.send("/private/x", basicField("alice:s3cret"))
	bt.hook.waitEntered(t, "alice:s3cret")
	cfg := testConfig(t, bt.config(writeHtpasswd(t, "alice", "n3w")))
	cfg.Workers = 1
	if err := bt.srv.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	bt.hook.releaseOne(t)
	a.expect(200, "")
	a.send("/private/x", basicField("alice:s3cret")) // cached for the old file only
	bt.hook.waitEntered(t, "alice:s3cret")
	bt.hook.releaseOne(t)
	a.expect(401, "")
	a.send("/private/x", basicField("alice:n3w"))
	bt.hook.waitEntered(t, "alice:n3w")
	bt.hook.releaseOne(t)
	a.expect(200, "")
}

// syncLoops waits until every loop has run a task queued now, so that
// whatever a loop was doing when it was called has finished.
func syncLoops(t *testing.T, srv *Server) {
	t.Helper()
	srv.loopsMap.Range(func(_, v any) bool {
		done := make(chan struct{})
		if err := v.(*loop).el.Execute(context.Background(), runnable(func() { close(done) })); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("loop did not run a task")
		}
		return true
	})
}
