package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/echoserver"
)

// Check takes fields as given and names the first one out of range; Run
// fills zero fields with defaults first, so the two agree on everything
// but zero.
func TestCheck(t *testing.T) {
	tg := target(t, "GET", "http://127.0.0.1:1/")
	https := target(t, "GET", "https://127.0.0.1:1/")
	ok := Config{Targets: tg, Connections: 1, Threads: 1, Pipeline: 1, Duration: time.Second, Timeout: time.Second}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
		value string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "zero connections", edit: func(c *Config) { c.Connections = 0 }, field: "Connections", value: "0"},
		{name: "zero threads", edit: func(c *Config) { c.Threads = 0 }, field: "Threads", value: "0"},
		{name: "zero duration", edit: func(c *Config) { c.Duration = 0 }, field: "Duration", value: "0s"},
		{name: "negative warmup", edit: func(c *Config) { c.Warmup = -time.Second }, field: "Warmup", value: "-1s"},
		{name: "zero timeout", edit: func(c *Config) { c.Timeout = 0 }, field: "Timeout", value: "0s"},
		{name: "negative rate", edit: func(c *Config) { c.Rate = -1 }, field: "Rate", value: "-1"},
		{name: "infinite rate", edit: func(c *Config) { c.Rate = math.Inf(1) }, field: "Rate", value: "+Inf"},
		{name: "deep pipeline", edit: func(c *Config) { c.Pipeline = 2000 }, field: "Pipeline", value: "2000"},
		{name: "pipeline without keep-alive", edit: func(c *Config) { c.Pipeline, c.NoKeepAlive = 2, true }, field: "Pipeline", value: "2"},
		{name: "https", edit: func(c *Config) {
			c.Targets, c.TLS = https, &TLS{Version: "1.3", Curves: []string{"X25519", "p256"}, ALPN: []string{"http/1.1"}, Resume: true}
		}},
		{name: "https defaults", edit: func(c *Config) { c.Targets = https }},
		{name: "tls options for http", edit: func(c *Config) { c.TLS = &TLS{ServerName: "a.example"} }, field: "TLS.ServerName", value: "a.example"},
		{name: "empty tls for http", edit: func(c *Config) { c.TLS = &TLS{} }, field: "TLS", value: "{}"},
		{name: "tls version", edit: func(c *Config) { c.Targets, c.TLS = https, &TLS{Version: "1.1"} }, field: "TLS.Version", value: "1.1"},
		{name: "tls curve", edit: func(c *Config) { c.Targets, c.TLS = https, &TLS{Curves: []string{"x25519", "p999"}} }, field: "TLS.Curves", value: "p999"},
		{name: "empty alpn", edit: func(c *Config) { c.Targets, c.TLS = https, &TLS{ALPN: []string{"http/1.1", ""}} }, field: "TLS.ALPN", value: `""`},
		{name: "missing ca file", edit: func(c *Config) { c.Targets, c.TLS = https, &TLS{CAFile: "/nonexistent/ca.pem"} }, field: "TLS.CAFile", value: "/nonexistent/ca.pem"},
		{name: "h2 over https", edit: func(c *Config) { c.Targets, c.HTTP2 = https, true }, field: "HTTP2", value: "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Check()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || !errors.Is(err, ErrBadConfig) || fe.Field != tc.field || fe.Value != tc.value {
				t.Fatalf("Check = %v, want a FieldError on %s %s", err, tc.field, tc.value)
			}
		})
	}
	// http:// and https:// on one host:port are two targets.
	mixed := Config{Targets: append(target(t, "GET", "http://127.0.0.1:1/"), https...), Connections: 1, Threads: 1, Pipeline: 1, Duration: time.Second, Timeout: time.Second}
	if err := mixed.Check(); !errors.Is(err, ErrMixedHosts) {
		t.Fatalf("mixed schemes: %v", err)
	}
	// Zero means the default to Run, which checks after filling it.
	if _, err := (Config{Targets: tg}).withDefaults(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

// More connections than the hard open-file limit allows are refused
// before any socket is opened, naming Connections.
func TestCheckFileLimit(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Max == unix.RLIM_INFINITY || lim.Max > 1<<30 {
		t.Skipf("no usable finite open-file limit (%v, %d)", err, lim.Max)
	}
	c := Config{Targets: target(t, "GET", "http://127.0.0.1:1/"), Connections: int(lim.Max), Threads: 1, Pipeline: 1, Duration: time.Second, Timeout: time.Second}
	var fe *FieldError
	if err := c.Check(); !errors.As(err, &fe) || fe.Field != "Connections" || !strings.Contains(fe.Want, "open-file limit") {
		t.Fatalf("Check = %v", err)
	}
	c.Connections = 10
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
}

// Connect failures are counted by errno; a run without a response says so.
func TestRunCauses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept() // the probe
		if err == nil {
			c.Close()
		}
		ln.Close()
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	res := mustRun(t, Config{Targets: target(t, "GET", "http://"+ln.Addr().String()+"/"), Connections: 2, Duration: 200 * time.Millisecond})
	if res.Requests != 0 || res.Causes["connect ECONNREFUSED"] == 0 {
		t.Fatalf("requests %d, causes %v", res.Requests, res.Causes)
	}
	err = res.NoResponse()
	if !errors.Is(err, ErrNoResponse) || !strings.Contains(err.Error(), "(ECONNREFUSED ") {
		t.Fatalf("NoResponse = %v", err)
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&b)
	if err != nil || back.Causes["connect ECONNREFUSED"] != res.Causes["connect ECONNREFUSED"] {
		t.Fatalf("causes after the JSON round trip: %v, %v", back.Causes, err)
	}
}

// A cancelled run is marked interrupted, with the recorded time it had.
func TestRunInterrupted(t *testing.T) {
	url, _ := startEcho(t, echoserver.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Targets: target(t, "GET", url), Connections: 1, Duration: time.Minute,
		Live: func(p Progress) {
			if p.Requests > 0 {
				cancel()
			}
		}}
	res, err := Run(ctx, cfg)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Elapsed <= 0 || res.Elapsed >= time.Minute || res.Requests == 0 {
		t.Fatalf("interrupted %v, elapsed %v, requests %d", res.Interrupted, res.Elapsed, res.Requests)
	}
	if res := mustRun(t, Config{Targets: target(t, "GET", url), Connections: 1, Duration: 50 * time.Millisecond}); res.Interrupted {
		t.Fatal("a run that ended on time is marked interrupted")
	}
}

func TestMismatch(t *testing.T) {
	a := &Result{Config: Config{URL: "http://a/", Duration: time.Second}}
	b := &Result{Config: Config{URL: "http://b/", Duration: 2 * time.Second, Rate: 500}}
	got := Mismatch([]string{"a.json", "b.json", "c.json"}, []*Result{a, b, a})
	want := []string{
		"a.json and b.json differ in URL: http://a/ vs http://b/",
		"a.json and b.json differ in duration: 1s vs 2s",
		"a.json and b.json differ in rate: closed loop vs 500 req/s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Mismatch:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// With Drain the responses to every request sent in the window are
// awaited and recorded; without it those still in flight at the end (the
// slowest) are dropped.
func TestRunDrain(t *testing.T) {
	url, _ := startEcho(t, echoserver.Config{Delay: 100 * time.Millisecond})
	cfg := Config{Targets: target(t, "GET", url), Connections: 20, Rate: 100, Duration: 300 * time.Millisecond}
	res := mustRun(t, cfg)
	if res.Requests >= res.Sent || res.Sent == 0 {
		t.Fatalf("without a drain: %d answered of %d sent", res.Requests, res.Sent)
	}
	cfg.Drain = 5 * time.Second
	res = mustRun(t, cfg)
	if res.Requests != res.Sent || res.Sent == 0 || res.ErrorCount() != 0 || res.Elapsed != cfg.Duration {
		t.Fatalf("with a drain: %d answered of %d sent, errors %v, elapsed %v", res.Requests, res.Sent, res.Errors, res.Elapsed)
	}
}

// Connections start their round robin spread over the targets.
func TestFirstTarget(t *testing.T) {
	var got []int
	for g := range 4 {
		got = append(got, firstTarget(g, 100, 4))
	}
	if fmt.Sprint(got) != "[0 25 50 75]" || firstTarget(3, 1, 4) != 0 || firstTarget(1, 3, 2) != 1 {
		t.Fatalf("starts %v", got)
	}
}
