package gateway

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hotpath/hotpath/config"
)

// TestAccessLogRedactsQueryCredentials: credentials in the query reach
// the access log as <redacted>: the built-in names, a route's auth query
// parameter, and access_log.redact_query once a reload adds it.
func TestAccessLogRedactsQueryCredentials(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	routes := `  - name: partners
    path: /p/*rest
    upstream: app
    auth:
      api_key:
        query: pk
        keys: [{name: partner, key: hunter2-partner-key}]
`
	// One event loop: a request's line is appended after its response is
	// written, in the same callback, so a later request answered by the
	// same loop proves the earlier lines were appended (see sync below).
	oneLoop := func(path string) string {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(text), "workers: 2\n", "workers: 1\n", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := oneLoop(writeConfig(t, dir, up.addr, routes+fmt.Sprintf("access_log: {path: %s}\n", logPath)))
	g := start(t, path)
	base := "http://" + g.Engine().Addr()
	for _, target := range []string{
		"/x?access_token=hunter2-token&page=1",
		"/x?API_KEY=hunter2-apikey",
		"/p/x?pk=hunter2-partner-key&page=2",
		"/x?mine=visible-before-reload",
	} {
		if code, _ := do(t, "GET", base+target); code != 200 {
			t.Fatalf("GET %s = %d", target, code)
		}
	}
	// The lines above were appended before the reload: the client saw each
	// response before the loop appended its line (the test failed 1 run in
	// 10 on a starved CPU when the reload came in between).
	if code, _ := do(t, "GET", base+"/x?sync=1"); code != 200 {
		t.Fatal("sync request")
	}
	oneLoop(writeConfig(t, dir, up.addr, routes+fmt.Sprintf("access_log: {path: %s, redact_query: [Mine]}\n", logPath)))
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := do(t, "GET", base+"/x?mine=hunter2-after-reload"); code != 200 {
		t.Fatal("after reload")
	}
	_ = g.Close() // flushes the access log
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if strings.Contains(text, "hunter2") {
		t.Errorf("a credential is in the access log:\n%s", text)
	}
	for _, want := range []string{
		`"query":"access_token=<redacted>&page=1"`,
		`"query":"API_KEY=<redacted>"`,
		`"query":"pk=<redacted>&page=2"`,
		`"query":"mine=visible-before-reload"`,
		`"query":"mine=<redacted>"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in:\n%s", want, text)
		}
	}
}

// admin.allowed_hosts reaches the admin listener's Host check.
func TestAdminAllowedHosts(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	path := writeConfig(t, dir, up.addr, "")
	text, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(text), "  address: 127.0.0.1:0\n", "  address: 127.0.0.1:0\n  allowed_hosts: [admin.test]\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, path)
	for host, want := range map[string]int{"admin.test": 200, "attacker.test": 403} {
		req, _ := http.NewRequest("GET", "http://"+g.AdminAddr()+"/config", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /config with Host %s = %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// Config warnings are logged at start and on reload.
func TestConfigWarningsLogged(t *testing.T) {
	up := newUpstream(t)
	path := writeConfig(t, t.TempDir(), up.addr, "    headers: {request: {add: {X-Client: \"${client_ip}\"}}}\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	log, level := NewLogger(cfg.Log, &logs)
	g, err := New(cfg, Options{ConfigPath: path, Logger: log, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	if err := g.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), `msg="config warning"`); n != 2 || !strings.Contains(logs.String(), `field=routes[0].headers.request.add.X-Client`) {
		t.Errorf("want the warning at New and at Reload:\n%s", logs.String())
	}
}

// syncBuf is a strings.Builder safe for the gateway's goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An old spelling's deprecation warning is logged at start, as -check
// prints it.
func TestDeprecationLogged(t *testing.T) {
	up := newUpstream(t)
	path := writeConfig(t, t.TempDir(), up.addr, "    max_body: 1k\n")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	log, level := NewLogger(cfg.Log, &logs)
	g, err := New(cfg, Options{ConfigPath: path, Logger: log, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	if !strings.Contains(logs.String(), `field=routes[0].max_body warning="deprecated: write max_body_bytes instead`) {
		t.Errorf("want the deprecation logged at start:\n%s", logs.String())
	}
}
