package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/fleettest"
	"github.com/hotpath/hotpath/remoteconfig"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(good, []byte(`
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - path: /*p
    upstream: app
`), 0o600)
	_ = os.WriteFile(bad, []byte(`
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - path: /*p
    upstream: api
  - path: /x
    upstream: app
    colour: blue
`), 0o600)

	// Shape errors come from config validation; errors only the libraries
	// can find (key parts, content types, rate windows) from compile.
	shape := filepath.Join(dir, "shape.yaml")
	_ = os.WriteFile(shape, []byte(`
trusted_proxies: [10.0.0.0/8, "10.1.2.3/40"]
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - path: /*p
    upstream: app
    rate_limit: {rate: 0}
    compression: {encodings: [gzip, brotli]}
`), 0o600)
	compiled := filepath.Join(dir, "compiled.yaml")
	_ = os.WriteFile(compiled, []byte(`
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - path: /*p
    upstream: app
    rate_limit:
      rate: 1
      per: 1000h
      burst: 1000
      key: [client_ip, "cookie:session"]
    compression:
      types: [text/*, "json"]
`), 0o600)

	shortToken := filepath.Join(dir, "short.token")
	_ = os.WriteFile(shortToken, []byte("short\n"), 0o600)
	tokened := filepath.Join(dir, "tokened.yaml")
	_ = os.WriteFile(tokened, []byte(`
admin: {address: "127.0.0.1:9901", token_file: `+shortToken+`}
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - {path: /*p, upstream: app}
`), 0o600)

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string
		stderrs []string
	}{
		{"short admin token", []string{"-check", tokened}, 1, "", []string{"admin.token_file", "at least 16 bytes"}},
		{"good file", []string{"-check", good}, 0, "config OK", nil},
		{"bad file lists every problem", []string{"-check", bad}, 1, "", []string{
			"bad.yaml:7: routes[0].upstream: unknown upstream \"api\"",
			"bad.yaml:10: routes[1].colour: unknown field",
			"2 problem(s)",
		}},
		{"bad policy sections", []string{"-check", shape}, 1, "", []string{
			`shape.yaml:2: trusted_proxies[1]: want a CIDR`,
			`shape.yaml:9: routes[0].rate_limit.rate: must be 1 or more`,
			`shape.yaml:10: routes[0].compression.encodings[1]: unknown encoding "brotli"`,
			"3 problem(s)",
		}},
		{"policy errors found by compile", []string{"-check", compiled}, 1, "", []string{
			`compiled.yaml:11: routes[0].rate_limit.burst: limiter: burst/rate (the time to refill a full bucket) must be at most 30 days`,
			`compiled.yaml:12: routes[0].rate_limit.key[1]: want client_ip, route, host, path, header:<name> or query:<name>, got`,
			`compiled.yaml:14: routes[0].compression.types[1]: compression: bad content type pattern`,
			"3 problem(s)",
		}},
		{"missing file", []string{"-check", filepath.Join(dir, "nope.yaml")}, 1, "", []string{"no such file"}},
		{"version", []string{"-version"}, 0, "hotpath", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q, want %q", out.String(), tc.stdout)
			}
			for _, s := range tc.stderrs {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for run's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunSignals runs the gateway with its admin listener, reloads it with
// SIGHUP and drains it with SIGTERM.
func TestRunSignals(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hp.yaml")
	_ = os.WriteFile(path, []byte(`
workers: 1
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
log: {format: json}
routes:
  - {path: /hi, direct: {body: hi}}
`), 0o600)
	var out, errb syncBuffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"-config", path}, &out, &errb) }()

	var admin string
	deadline := time.Now().Add(10 * time.Second)
	for admin == "" {
		if _, a, ok := strings.Cut(errb.String(), `"msg":"admin API","url":"http://`); ok {
			admin, _, _ = strings.Cut(a, "/")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no admin address; stdout %q stderr %q", out.String(), errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	get := func(p string) string {
		resp, err := http.Get("http://" + admin + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get("/readyz"); !strings.Contains(got, "ready") {
		t.Fatalf("readyz %q", got)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(get("/metrics"), `hotpath_config_reloads_total{result="success"} 1`+"\n") {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not reload; stderr %s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	http.DefaultClient.CloseIdleConnections()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d; stderr %s", c, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("SIGTERM did not stop run")
	}
	if !strings.Contains(errb.String(), `"msg":"config reloaded"`) {
		t.Errorf("stderr is not the JSON log with the reload: %s", errb.String())
	}
}

// TestRunFromEtcd checks configurations in etcd (-check etcd://...) and
// refuses an etcd URL without a key (-config); serving from etcd is tested
// in package gateway (TestConfigFromEtcd).
func TestRunFromEtcd(t *testing.T) {
	e := fleettest.Etcd(t)
	c, err := remoteconfig.NewClient([]string{e.Addr}, 5*time.Second, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	url := "etcd://" + e.Addr + "/hotpath/config"
	if _, err := c.Put(context.Background(), "/hotpath/config", "routes:\n  - {path: nope, direct: {}}\n"); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-check", url}, &out, &errb); code != 1 || !strings.Contains(errb.String(), url+":2: routes[0].path") {
		t.Fatalf("-check on a bad document: exit %d, stderr %q", code, errb.String())
	}
	if _, err := c.Put(context.Background(), "/hotpath/config", "workers: 1\nlisteners: [{address: 127.0.0.1:0}]\nroutes:\n  - {path: /, direct: {body: from-etcd}}\n"); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-check", url}, &out, &errb); code != 0 {
		t.Fatalf("-check: exit %d, stderr %q", code, errb.String())
	}
	if code := run([]string{"-config", "etcd://" + e.Addr}, &out, &errb); code != 1 {
		t.Fatalf("-config without a key: exit %d", code)
	}
}
