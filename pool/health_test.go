package pool

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/internal/testsupport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flipServer answers with the status in code; requests counts requests and
// host records the last Host header.
type flipServer struct {
	*httptest.Server
	code     atomic.Int32
	requests atomic.Int32
	host     atomic.Value
}

func newFlipServer(t *testing.T, code int) *flipServer {
	t.Helper()
	s := &flipServer{}
	s.code.Store(int32(code))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.host.Store(r.Host + r.URL.Path)
		w.WriteHeader(int(s.code.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *flipServer) addr() string { return s.Listener.Addr().String() }

// waitFor polls cond until it holds or a generous deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testsupport.Eventually(t, 10*time.Second, what, cond)
}

func fastCheck() HealthCheck {
	return HealthCheck{Path: "/healthz", Interval: 5 * time.Millisecond, Timeout: time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 2, Host: "backend.test"}
}

func TestHealthCheckDownThenUp(t *testing.T) {
	srv := newFlipServer(t, 500)
	e := NewEndpoint(srv.addr(), 1)
	if !e.Healthy() {
		t.Fatal("endpoint must start healthy")
	}
	stop := StartHealthChecks([]*Endpoint{e}, fastCheck())
	t.Cleanup(stop)

	waitFor(t, "down after 500s", func() bool { return !e.Healthy() })
	if passed, failed := e.HealthChecks(); passed != 0 || failed < 2 {
		t.Fatalf("HealthChecks = %d passed, %d failed; want 0 and >= 2", passed, failed)
	}
	if n := srv.requests.Load(); n < 2 {
		t.Fatalf("marked down after %d checks, want >= UnhealthyThreshold (2)", n)
	}
	if got := srv.host.Load(); got != "backend.test/healthz" {
		t.Fatalf("check went to %v, want backend.test/healthz", got)
	}
	srv.code.Store(204)
	before := srv.requests.Load()
	waitFor(t, "up after 2xx", e.Healthy)
	if passed, _ := e.HealthChecks(); passed < 2 {
		t.Fatalf("HealthChecks: %d passed after coming up, want >= 2", passed)
	}
	if n := srv.requests.Load() - before; n < 2 {
		t.Fatalf("marked up after %d checks, want >= HealthyThreshold (2)", n)
	}
}

func TestHealthCheckExpectStatus(t *testing.T) {
	srv := newFlipServer(t, 200)
	e := NewEndpoint(srv.addr(), 1)
	hc := fastCheck()
	hc.ExpectStatus = [2]int{204, 204}
	stop := StartHealthChecks([]*Endpoint{e}, hc)
	t.Cleanup(stop)
	waitFor(t, "down on 200 outside 204-204", func() bool { return !e.Healthy() })
}

func TestHealthCheckUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	up := newFlipServer(t, 200)
	dead, live := NewEndpoint(addr, 1), NewEndpoint(up.addr(), 1)
	stop := StartHealthChecks([]*Endpoint{dead, live}, fastCheck())
	t.Cleanup(stop)
	waitFor(t, "unreachable endpoint down", func() bool { return !dead.Healthy() })
	waitFor(t, "live endpoint checked", func() bool { return up.requests.Load() >= 3 })
	if !live.Healthy() {
		t.Fatal("live endpoint marked down")
	}
}

// A check stuck on a silent upstream does not delay stop, and stop leaves
// no goroutine behind.
func TestHealthCheckStopWaits(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // hold it open, never answer
		}
		close(accepted)
	}()
	e := NewEndpoint(ln.Addr().String(), 1)
	hc := fastCheck()
	hc.Timeout = time.Hour
	stop := StartHealthChecks([]*Endpoint{e}, hc)
	c := <-accepted
	if c == nil {
		t.Fatal("no check connected")
	}
	t.Cleanup(func() { c.Close() })
	stop()
	stop() // idempotent
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("testing.(*T).Run"))
	if !e.Healthy() {
		t.Fatal("a cancelled check counted as a failure")
	}
}

func TestStatusCode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
		ok   bool
	}{
		{"ok", "HTTP/1.1 200 OK\r\n", 200, true},
		{"http/1.0", "HTTP/1.0 503 Unavailable\r\n", 503, true},
		{"no reason", "HTTP/1.1 204\r\n", 204, true},
		{"http/2 text", "HTTP/2 200\r\n", 0, false},
		{"letters", "HTTP/1.1 2x0 OK\r\n", 0, false},
		{"garbage", "SSH-2.0-OpenSSH\r\n", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := statusCode([]byte(tc.in))
			if got != tc.want || (err == nil) != tc.ok {
				t.Fatalf("statusCode(%q) = %d, %v", tc.in, got, err)
			}
		})
	}
}
