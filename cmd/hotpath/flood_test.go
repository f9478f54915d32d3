package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/proctest"
)

// TestSurvivesDescriptorFlood (issue 18): with a low open-file limit, a
// flood of connections must not stop the gateway. It stops accepting at its
// connection budget, keeps serving the connections it has, logs the burst
// once, and accepts again when the flood goes away.
func TestSurvivesDescriptorFlood(t *testing.T) {
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = up.Serve(ln) }()
	t.Cleanup(func() { _ = up.Close() })

	cfgPath := filepath.Join(t.TempDir(), "flood.yaml")
	cfg := fmt.Sprintf(`workers: 2
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
upstreams: [{name: app, endpoints: [{address: "%s"}]}]
routes: [{path: "/*rest", upstream: app}]
`, ln.Addr())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, "HOTPATH_TEST_MAIN", proctest.Options{OpenFiles: 128}, "-config", cfgPath) // stdout_test.go's TestMain
	p.WaitStderr(t, `msg="hotpath listening"`)
	m := regexp.MustCompile(`addrs=(\S+)`).FindStringSubmatch(p.Stderr())
	if m == nil {
		t.Fatalf("no address in the listening line:\n%s", p.Stderr())
	}
	addr := m[1]

	// A client connected before the flood keeps being served through it.
	kept, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	keptR := bufio.NewReader(kept)
	get := func() error {
		_ = kept.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(kept, "GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(keptR, nil)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatal(err)
	}

	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			_ = c.Close()
		}
	}()
	for range 300 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break // the listen backlog is full: enough
		}
		flood = append(flood, c)
		_, _ = io.WriteString(c, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	p.WaitStderr(t, "connection budget reached")
	for i := range 3 {
		if err := get(); err != nil {
			t.Fatalf("kept connection, request %d during the flood: %v; stderr:\n%s", i, err, p.Stderr())
		}
	}
	for _, c := range flood {
		_ = c.Close()
	}
	flood = nil
	// The backlog the flood left (closed connections, each with a request)
	// drains through the budget before the burst ends: on a failure, say
	// where the budget stood.
	for wait := time.Now().Add(30 * time.Second); !strings.Contains(p.Stderr(), "accepting resumed"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("no \"accepting resumed\" 30 s after the flood closed; budget metrics:\n%s\nstderr:\n%s", budgetMetrics(p.Stderr()), p.Stderr())
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for {
		if p.Exited() {
			t.Fatalf("hotpath exited; stderr:\n%s", p.Stderr())
		}
		resp, err := client.Get("http://" + addr + "/after")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no service after the flood: %v; stderr:\n%s", err, p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stderr := p.Stderr()
	if strings.Contains(stderr, "accept a new connection error") || strings.Contains(stderr, "too many open files") {
		t.Fatalf("accept failed:\n%s", stderr)
	}
	if n := strings.Count(stderr, "connection budget reached"); n != 1 {
		t.Errorf("the burst was logged %d times, want once:\n%s", n, stderr)
	}
	if code := p.Stop(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
	}
}

// budgetMetrics scrapes the child's admin listener (its address from the
// log) for the connection budget's figures.
func budgetMetrics(stderr string) string {
	m := regexp.MustCompile(`msg="admin listener started" addr=(\S+)`).FindStringSubmatch(stderr)
	if m == nil {
		return "(no admin address in the log)"
	}
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + m[1] + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var keep []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "hotpath_accept") || strings.HasPrefix(l, "hotpath_downstream_connections") || strings.HasPrefix(l, "hotpath_upstream_connections") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
