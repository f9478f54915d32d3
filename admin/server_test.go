package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/internal/testsupport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start runs a Server on 127.0.0.1:0 and stops it at cleanup.
func start(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	return s
}

func do(t *testing.T, method, url string) (int, http.Header, string) {
	t.Helper()
	return testsupport.Do(t, method, url)
}

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "hotpath_test_total", Help: "test"})
	c.Add(3)
	reg.MustRegister(c)

	var ready atomic.Bool
	var mu sync.Mutex // guards nextErr and reloads, used by the handler goroutine
	var nextErr error
	reloads := 0
	setErr := func(err error) { mu.Lock(); nextErr = err; mu.Unlock() }
	s := start(t, Options{
		Registry: reg,
		Ready:    ready.Load,
		Config:   func() ([]byte, string) { return []byte("listen: :8080\n"), "application/yaml" },
		Reload: func() error {
			mu.Lock()
			defer mu.Unlock()
			reloads++
			return nextErr
		},
	})
	base := "http://" + s.Addr()

	tests := []struct {
		name     string
		method   string
		path     string
		setup    func()
		wantCode int
		wantBody string // substring
	}{
		{"metrics has the collector", "GET", "/metrics", nil, 200, "hotpath_test_total 3"},
		{"metrics has the go runtime", "GET", "/metrics", nil, 200, "go_goroutines"},
		{"metrics has the process", "GET", "/metrics", nil, 200, "process_start_time_seconds"},
		{"pprof index", "GET", "/debug/pprof/", nil, 200, "goroutine"},
		{"pprof goroutine", "GET", "/debug/pprof/goroutine?debug=1", nil, 200, "goroutine profile"},
		{"pprof cmdline", "GET", "/debug/pprof/cmdline", nil, 200, ""},
		{"healthz", "GET", "/healthz", nil, 200, "ok"},
		{"readyz before the first config", "GET", "/readyz", nil, 503, "not ready"},
		{"readyz when ready", "GET", "/readyz", func() { ready.Store(true) }, 200, "ready"},
		{"readyz while draining", "GET", "/readyz", func() { ready.Store(false) }, 503, "not ready"},
		{"config", "GET", "/config", nil, 200, "listen: :8080"},
		{"config POST", "POST", "/config", nil, 405, ""},
		{"reload", "POST", "/reload", nil, 200, "reloaded"},
		{"reload GET", "GET", "/reload", nil, 405, "use POST"},
		{"reload PUT", "PUT", "/reload", nil, 405, "use POST"},
		{"reload invalid config", "POST", "/reload", func() {
			setErr(fmt.Errorf("%w: routes[0].path: must start with '/'", ErrBadRequest))
		}, 400, "routes[0].path"},
		{"reload internal failure", "POST", "/reload", func() {
			setErr(errors.New("cannot read /etc/hotpath.yaml"))
		}, 500, "cannot read"},
		{"unknown path", "GET", "/nope", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			code, _, body := do(t, tt.method, base+tt.path)
			if code != tt.wantCode {
				t.Fatalf("%s %s = %d, want %d: %s", tt.method, tt.path, code, tt.wantCode, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body %q does not contain %q", body, tt.wantBody)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if reloads != 3 {
		t.Errorf("Reload called %d times, want 3", reloads)
	}
	_, h, _ := do(t, "GET", base+"/config")
	if h.Get("Content-Type") != "application/yaml" {
		t.Errorf("config content type %q", h.Get("Content-Type"))
	}
}

func TestOptionalHooks(t *testing.T) {
	s := start(t, Options{})
	base := "http://" + s.Addr()
	for _, p := range []string{"/config", "/reload"} {
		if code, _, _ := do(t, "GET", base+p); code != 404 {
			t.Errorf("%s without hook = %d, want 404", p, code)
		}
	}
	if code, _, _ := do(t, "GET", base+"/readyz"); code != 200 {
		t.Errorf("readyz without hook = %d, want 200", code)
	}
}

func TestProfileRates(t *testing.T) {
	prevMutex := runtime.SetMutexProfileFraction(-1)
	t.Cleanup(func() {
		runtime.SetMutexProfileFraction(prevMutex)
		runtime.SetBlockProfileRate(0)
	})
	s := start(t, Options{MutexProfileFraction: 7, BlockProfileRate: 1000})
	base := "http://" + s.Addr()

	tests := []struct {
		name     string
		method   string
		query    string
		wantCode int
		wantBody string
	}{
		{"from options", "GET", "", 200, `{"mutex":7,"block":1000}`},
		{"set both", "POST", "?mutex=5&block=10000", 200, `{"mutex":5,"block":10000}`},
		{"set one", "POST", "?block=0", 200, `{"mutex":5,"block":0}`},
		{"negative", "POST", "?mutex=-1", 400, "non-negative"},
		{"not a number", "POST", "?block=x", 400, "block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := do(t, tt.method, base+"/debug/pprof/rates"+tt.query)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("= %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

// TestCPUProfileLongerThanTimeouts checks that a CPU profile of a few
// seconds is not cut off by a server timeout (profiles/ relies on it).
func TestCPUProfile(t *testing.T) {
	s := start(t, Options{})
	code, h, body := do(t, "GET", "http://"+s.Addr()+"/debug/pprof/profile?seconds=1")
	if code != 200 {
		t.Fatalf("profile = %d: %s", code, body)
	}
	if !strings.HasPrefix(body, "\x1f\x8b") {
		t.Errorf("profile is not gzip (Content-Type %s)", h.Get("Content-Type"))
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := New(Options{}); !errors.Is(err, ErrNoRegistry) {
		t.Errorf("New without registry = %v, want ErrNoRegistry", err)
	}
	s := start(t, Options{})
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Errorf("second Start = %v, want ErrStarted", err)
	}
	busy, err := New(Options{Addr: s.Addr(), Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.Start(); err == nil {
		t.Error("Start on a bound port succeeded")
	}
	if err := busy.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of an unstarted server = %v", err)
	}
}

func TestDefaultAddr(t *testing.T) {
	s, err := New(Options{Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != DefaultAddr {
		t.Errorf("Addr before Start = %q, want %q", s.Addr(), DefaultAddr)
	}
}

// purger records its calls.
type purger struct {
	mu    sync.Mutex
	calls []string
}

func (p *purger) PurgeCache(host, prefix string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, host+"|"+prefix)
	if host == "" && prefix != "" {
		return errors.New("a purge by path prefix needs a host")
	}
	return nil
}

func (p *purger) PurgeCacheURL(host, path, query string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "url:"+host+"|"+path+"|"+query)
	return nil
}

func TestCachePurge(t *testing.T) {
	p := &purger{}
	with := "http://" + start(t, Options{Purger: p}).Addr()
	without := "http://" + start(t, Options{}).Addr()
	tests := []struct {
		name     string
		base     string
		method   string
		query    string
		wantCode int
		wantBody string
	}{
		{"purge", with, "POST", "?host=a.example&prefix=/img/", 200, `{"purged":true}`},
		{"all", with, "POST", "", 200, `{"purged":true}`},
		{"url", with, "POST", "?host=a.example&path=/x&query=y=1", 200, `{"purged":true}`},
		{"refused by the gateway", with, "POST", "?prefix=/img/", 409, "needs a host"},
		{"relative prefix", with, "POST", "?prefix=img", 400, "prefix"},
		{"prefix and path", with, "POST", "?host=a&prefix=/a&path=/b", 400, "not both"},
		{"GET refused", with, "GET", "?host=a", 405, "POST"},
		{"no cache", without, "POST", "?host=a", 501, "no response cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := do(t, tt.method, tt.base+"/cache/purge"+tt.query)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("= %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if want := []string{"a.example|/img/", "|", "url:a.example|/x|y=1", "|/img/"}; fmt.Sprint(p.calls) != fmt.Sprint(want) {
		t.Errorf("PurgeCache calls %q, want %q", p.calls, want)
	}
}

func TestDisablePprof(t *testing.T) {
	off := "http://" + start(t, Options{DisablePprof: true}).Addr()
	on := "http://" + start(t, Options{}).Addr()
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/allocs", "/debug/pprof/heap?debug=1"} {
		if code, _, _ := do(t, "GET", off+p); code != 404 {
			t.Errorf("%s with pprof off = %d, want 404", p, code)
		}
	}
	for _, p := range []string{"/debug/pprof/allocs?debug=1", "/debug/pprof/mutex?debug=1", "/debug/pprof/block?debug=1", "/debug/pprof/goroutine?debug=1", "/debug/pprof/trace?seconds=0.1"} {
		if code, _, body := do(t, "GET", on+p); code != 200 {
			t.Errorf("%s = %d: %s", p, code, body)
		}
	}
}

// With a token, scrapers and probes stay open and everything else asks for
// the bearer token.
func TestToken(t *testing.T) {
	const token = "s3cret-admin-token-0123"
	s := start(t, Options{Token: token, Config: func() ([]byte, string) { return []byte("x: 1\n"), "application/yaml" }})
	base := "http://" + s.Addr()
	call := func(method, path, auth string) (int, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if code, _ := call("GET", path, ""); code != 200 {
			t.Errorf("%s without a token: %d, want 200", path, code)
		}
	}
	for _, tc := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/config", "", 401},
		{"GET", "/config", "Bearer wrong-token-0123456789", 401},
		{"GET", "/config", "Basic " + token, 401},
		{"GET", "/config", "Bearer " + token, 200},
		{"GET", "/debug/pprof/", "", 401},
		{"GET", "/debug/pprof/", "Bearer " + token, 200},
		{"POST", "/cache/purge", "", 401},
		{"GET", "/metrics/../config", "", 401}, // not the open /metrics
	} {
		code, h := call(tc.method, tc.path, tc.auth)
		if code != tc.want {
			t.Errorf("%s %s (%q): %d, want %d", tc.method, tc.path, tc.auth, code, tc.want)
		}
		if code == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s: 401 without WWW-Authenticate", tc.method, tc.path)
		}
	}
}
