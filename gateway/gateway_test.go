package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
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

// upstream is a net/http server answering /status/N with status N, and
// /hold by waiting until release is closed.
type upstream struct {
	addr    string
	release chan struct{}
	held    chan struct{}
	unblock func() // closes release, once
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{release: make(chan struct{}), held: make(chan struct{}, 16)}
	u.addr = testsupport.NewUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			u.held <- struct{}{}
			<-u.release
		}
		code := 200
		_, _ = fmt.Sscanf(r.URL.Path, "/status/%d", &code)
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "ok")
	})).Addr
	var once sync.Once
	u.unblock = func() { once.Do(func() { close(u.release) }) }
	t.Cleanup(u.unblock) // before the server closes: cleanups run last first
	return u
}

// writeConfig writes a config proxying /* to up, with the admin listener
// on a free port, and returns its path.
func writeConfig(t *testing.T, dir, up, extra string) string {
	t.Helper()
	p := filepath.Join(dir, "hotpath.yaml")
	y := fmt.Sprintf(`workers: 2
listeners:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - name: api
    path: /*path
    upstream: app
%s`, up, extra)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func start(t *testing.T, path string) *Gateway {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{ConfigPath: path, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = g.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return g
}

func do(t *testing.T, method, url string) (int, string) {
	t.Helper()
	code, _, body := testsupport.Do(t, method, url)
	return code, body
}

type series = testsupport.Series

func parseExposition(t *testing.T, text string) []series { return testsupport.ParseExposition(t, text) }

// sample returns the value of the series name with labels (pairs), or -1.
func sample(ss []series, name string, labels ...string) float64 {
	return testsupport.Sample(ss, name, labels...)
}

// scrapeUntil scrapes /metrics until every want (name, labels..., value as
// the last element) holds, or fails at the deadline.
func scrapeUntil(t *testing.T, g *Gateway, wants [][]any) []series {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := do(t, "GET", "http://"+g.AdminAddr()+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics = %d", code)
		}
		ss := parseExposition(t, body)
		var bad []string
		for _, w := range wants {
			var labels []string
			for _, l := range w[1 : len(w)-1] {
				labels = append(labels, l.(string))
			}
			want := float64(w[len(w)-1].(int))
			if got := sample(ss, w[0].(string), labels...); got != want {
				bad = append(bad, fmt.Sprintf("%s%v = %v, want %v", w[0], labels, got, want))
			}
		}
		if len(bad) == 0 {
			return ss
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics:\n%s", strings.Join(bad, "\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	up := newUpstream(t)
	g := start(t, writeConfig(t, t.TempDir(), up.addr, ""))
	base := "http://" + g.Engine().Addr()
	const n = 5
	for i := 0; i < n; i++ {
		for _, s := range []int{200, 201, 404, 500} {
			if code, _ := do(t, "GET", fmt.Sprintf("%s/status/%d", base, s)); code != s {
				t.Fatalf("status %d, want %d", code, s)
			}
		}
	}
	ss := scrapeUntil(t, g, [][]any{
		{"hotpath_requests_total", "route", "api", "code", "200", n},
		{"hotpath_requests_total", "route", "api", "code", "201", n},
		{"hotpath_requests_total", "route", "api", "code", "404", n},
		{"hotpath_requests_total", "route", "api", "code", "500", n},
		{"hotpath_request_duration_seconds_count", "route", "api", 4 * n},
		{"hotpath_upstream_requests_total", "upstream", "app", "code", "200", n},
		{"hotpath_upstream_requests_total", "upstream", "app", "code", "201", n},
		{"hotpath_upstream_request_duration_seconds_count", "upstream", "app", 4 * n},
		{"hotpath_upstream_errors_total", "upstream", "app", "kind", "timeout", 0},
		{"hotpath_downstream_connections_total", 1},
		{"hotpath_downstream_connections_open", 1},
		{"hotpath_config_reloads_total", "result", "success", 0},
		{"hotpath_accesslog_dropped_total", 0},
	})
	if v := sample(ss, "hotpath_request_duration_seconds_bucket", "route", "api", "le", "+Inf"); v != 4*n {
		t.Errorf("+Inf bucket = %v", v)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "hotpath_downstream_bytes_sent_total"} {
		if sample(ss, name) < 0 {
			t.Errorf("%s missing", name)
		}
	}
}

func TestPprof(t *testing.T) {
	up := newUpstream(t)
	g := start(t, writeConfig(t, t.TempDir(), up.addr, ""))
	base := "http://" + g.AdminAddr()
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/allocs?debug=1", "/debug/pprof/heap?debug=1",
		"/debug/pprof/mutex?debug=1", "/debug/pprof/block?debug=1", "/debug/pprof/goroutine?debug=1",
		"/debug/pprof/trace?seconds=0.1", "/debug/pprof/profile?seconds=1"} {
		if code, body := do(t, "GET", base+p); code != 200 || len(body) == 0 {
			t.Errorf("%s = %d (%d bytes)", p, code, len(body))
		}
	}
}

func TestPprofOff(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "hotpath.yaml")
	y := fmt.Sprintf("workers: 1\nlisteners: [{address: \"127.0.0.1:0\"}]\nadmin: {address: \"127.0.0.1:0\", pprof: false}\n"+
		"upstreams: [{name: app, endpoints: [{address: %s}]}]\nroutes: [{path: /*p, upstream: app}]\n", up.addr)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, p)
	if code, _ := do(t, "GET", "http://"+g.AdminAddr()+"/debug/pprof/heap"); code != 404 {
		t.Errorf("pprof off: /debug/pprof/heap = %d, want 404", code)
	}
	if code, _ := do(t, "GET", "http://"+g.AdminAddr()+"/metrics"); code != 200 {
		t.Errorf("/metrics = %d", code)
	}
}

// TestReadyzDuringDrain holds a request in flight, starts the drain, and
// watches /readyz turn 503 while the admin listener still answers; the
// admin listener stops after the engine.
func TestReadyzDuringDrain(t *testing.T) {
	up := newUpstream(t)
	g := start(t, writeConfig(t, t.TempDir(), up.addr, ""))
	admin := "http://" + g.AdminAddr()
	if code, _ := do(t, "GET", admin+"/readyz"); code != 200 {
		t.Fatalf("readyz before drain = %d", code)
	}
	c, err := net.Dial("tcp", g.Engine().Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	<-up.held

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- g.Shutdown(ctx)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _ := do(t, "GET", admin+"/readyz")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d during drain", code)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, _ := do(t, "GET", admin+"/healthz"); code != 200 {
		t.Errorf("healthz during drain = %d", code)
	}
	http.DefaultClient.CloseIdleConnections() // let the admin listener stop without waiting for idle keep-alives
	up.unblock()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("in-flight request: %v", err)
	}
	_ = resp.Body.Close()
	_ = c.Close() // the drain lingers until the client closes
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("in-flight response %d close=%v", resp.StatusCode, resp.Close)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get(admin + "/readyz"); err == nil {
		t.Error("admin listener still answering after Shutdown")
	}
}

func TestReloadAndConfig(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, up.addr, "")
	g := start(t, path)
	admin := "http://" + g.AdminAddr()
	base := "http://" + g.Engine().Addr()

	orig, _ := os.ReadFile(path)
	if code, body := do(t, "GET", admin+"/config"); code != 200 || body != string(orig) {
		t.Fatalf("GET /config = %d:\n%s", code, body)
	}
	if code, _ := do(t, "GET", base+"/direct"); code != 200 { // proxied: upstream answers 200
		t.Fatalf("before reload: %d", code)
	}

	// A good reload: a direct route in front of the catch-all.
	good := writeConfig(t, dir, up.addr, "  - name: direct\n    path: /direct\n    direct: {status: 418, body: teapot}\n")
	if code, body := do(t, "POST", admin+"/reload"); code != 200 {
		t.Fatalf("POST /reload = %d: %s", code, body)
	}
	if code, _ := do(t, "GET", base+"/direct"); code != 418 {
		t.Fatalf("after reload: %d", code)
	}
	newText, _ := os.ReadFile(good)
	if _, body := do(t, "GET", admin+"/config"); body != string(newText) {
		t.Errorf("GET /config after reload:\n%s", body)
	}

	// A bad reload: refused with every problem, the old table keeps serving.
	if err := os.WriteFile(path, []byte("upstreams:\n  - name: app\n    endpoints: [{address: nowhere}]\nroutes:\n  - path: /x\n    upstream: api\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := do(t, "POST", admin+"/reload")
	if code != 400 || !strings.Contains(body, "hotpath.yaml:3: upstreams[0].endpoints[0].address") ||
		!strings.Contains(body, `hotpath.yaml:6: routes[0].upstream: unknown upstream "api"`) {
		t.Fatalf("bad reload = %d:\n%s", code, body)
	}
	if code, _ := do(t, "GET", base+"/direct"); code != 418 {
		t.Fatalf("after refused reload: %d", code)
	}
	if code, _ := do(t, "GET", admin+"/reload"); code != 405 {
		t.Errorf("GET /reload = %d, want 405", code)
	}
	_ = os.Remove(path)
	if code, _ := do(t, "POST", admin+"/reload"); code != 500 {
		t.Errorf("reload of a missing file = %d, want 500", code)
	}
	scrapeUntil(t, g, [][]any{
		{"hotpath_config_reloads_total", "result", "success", 1},
		{"hotpath_config_reloads_total", "result", "failure", 2},
	})
	// No route caches: the purge is refused with the reason.
	if code, body := do(t, "POST", admin+"/cache/purge?host=x&prefix=/"); code != 409 || !strings.Contains(body, "no route has a cache") {
		t.Errorf("purge without a cache = %d %q, want 409", code, body)
	}
}

func TestReloadAppliesLogLevel(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, up.addr, "log: {level: warn}\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	log, level := NewLogger(cfg.Log, io.Discard)
	g, err := New(cfg, Options{ConfigPath: path, Logger: log, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() }) // never started: Close is a no-op
	if level.Level() != slog.LevelWarn {
		t.Fatalf("level %v", level.Level())
	}
	writeConfig(t, dir, up.addr, "log: {level: debug, format: json}\n")
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("level after reload %v, want debug", level.Level())
	}
}

// TestCachePurgeThroughAdmin: a cached response is served without the
// upstream until POST /cache/purge invalidates it.
func TestCachePurgeThroughAdmin(t *testing.T) {
	var hits atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		_, _ = io.WriteString(w, "cached")
	})}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })

	g := start(t, writeConfig(t, t.TempDir(), ln.Addr().String(), "    cache: {}\n"))
	admin := "http://" + g.AdminAddr()
	base := "http://" + g.Engine().Addr()
	get := func() {
		t.Helper()
		if code, body := do(t, "GET", base+"/a/b"); code != 200 || body != "cached" {
			t.Fatalf("GET = %d %q", code, body)
		}
	}
	// The store is asynchronous (ristretto's buffers): poll until a GET
	// stops reaching the upstream.
	deadline := time.Now().Add(10 * time.Second)
	for {
		before := hits.Load()
		get()
		if hits.Load() == before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the response was never served from the cache")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := hits.Load()
	if code, body := do(t, "POST", admin+"/cache/purge"); code != 200 || !strings.Contains(body, `"purged":true`) {
		t.Fatalf("purge = %d %q", code, body)
	}
	get()
	if hits.Load() != before+1 {
		t.Fatalf("after the purge the upstream saw %d requests, want 1", hits.Load()-before)
	}
}

// GET /config never shows a credential written in the config.
func TestConfigRedactsSecrets(t *testing.T) {
	up := newUpstream(t)
	path := writeConfig(t, t.TempDir(), up.addr, `  - name: keyed
    path: /keyed/*p
    upstream: app
    auth:
      api_key:
        keys: [{name: partner, key: the-clear-api-key}]
  - name: tokens
    path: /tokens/*p
    upstream: app
    auth:
      jwt:
        keys: [{kid: k1, alg: HS256, secret: "an-hmac-secret-of-32-bytes-or-more!"}]
`)
	g := start(t, path)
	code, body := do(t, "GET", "http://"+g.AdminAddr()+"/config")
	if code != 200 || strings.Contains(body, "the-clear-api-key") || strings.Contains(body, "an-hmac-secret") ||
		strings.Count(body, config.Redacted) != 2 || !strings.Contains(body, "name: partner") {
		t.Fatalf("GET /config = %d:\n%s", code, body)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9901": true, "127.1.2.3:1": true, "[::1]:9901": true, "localhost:9901": true,
		"0.0.0.0:9901": false, ":9901": false, "[::]:9901": false, "10.0.0.5:9901": false, "example.com:9901": false,
	} {
		if got := loopback(addr); got != want {
			t.Errorf("loopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestAdminToken(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "admin.token")
	if err := os.WriteFile(tokenFile, []byte("  the-admin-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "hotpath.yaml")
	y := fmt.Sprintf(`listeners:
  - address: 127.0.0.1:0
admin:
  address: 127.0.0.1:0
  token_file: %s
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - {name: api, path: /*path, upstream: app}
`, tokenFile, up.addr)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, path)
	admin := "http://" + g.AdminAddr()
	if code, _ := do(t, "GET", admin+"/config"); code != 401 {
		t.Fatalf("GET /config without the token: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", admin+"/config", nil)
	req.Header.Set("Authorization", "Bearer the-admin-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /config with the token: %d", resp.StatusCode)
	}
	if code, _ := do(t, "GET", admin+"/metrics"); code != 200 {
		t.Fatalf("GET /metrics: %d, want 200 without a token", code)
	}

	for content, want := range map[string]string{
		"short\n":                           "at least 16 bytes",
		"two words in the admin token file": "one word",
	} {
		if err := os.WriteFile(tokenFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readAdminToken(tokenFile); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("token %q: %v, want an error with %q", content, err, want)
		}
	}
	if _, err := readAdminToken(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "admin.token_file") {
		t.Errorf("missing file: %v", err)
	}
}
