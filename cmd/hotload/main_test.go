package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/echoserver"
	"github.com/hotpath/hotpath/internal/testsupport"
	"github.com/hotpath/hotpath/loadgen"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testsupport.FasthttpLeaks()...)
}

func startEcho(t *testing.T, cfg echoserver.Config) string {
	t.Helper()
	url, _ := testsupport.StartEcho(t, cfg)
	return url
}

func hotload(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{name: "unknown flag", args: []string{"--nope", "http://127.0.0.1:1/"}, code: 2, msg: "flag provided but not defined: -nope"},
		{name: "bad duration", args: []string{"-d", "ten", "http://127.0.0.1:1/"}, code: 2, msg: "invalid value"},
		{name: "no url", args: []string{"-c", "2"}, code: 2, msg: "want exactly one URL"},
		{name: "two urls", args: []string{"http://a/", "http://b/"}, code: 2, msg: "want exactly one URL"},
		{name: "bad url", args: []string{"127.0.0.1:8080"}, code: 2, msg: "bad target URL"},
		{name: "tls-flags-on-http", args: []string{"--insecure", "http://127.0.0.1:1/"}, code: 2, msg: "--insecure true: want no TLS options for an http:// target"},
		{name: "bad tls version", args: []string{"--tls-version", "1.1", "https://127.0.0.1:1/"}, code: 2, msg: "--tls-version 1.1: want 1.2 or 1.3"},
		{name: "bad tls curve", args: []string{"--tls-curves", "x25519,p999", "https://127.0.0.1:1/"}, code: 2, msg: "--tls-curves p999: want x25519, p256"},
		{name: "empty alpn", args: []string{"--alpn", "http/1.1,", "https://127.0.0.1:1/"}, code: 2, msg: `--alpn "": want protocol names of 1 to 255 bytes`},
		{name: "missing cacert", args: []string{"--cacert", "/nonexistent/ca.pem", "https://127.0.0.1:1/"}, code: 2, msg: "--cacert /nonexistent/ca.pem: want a readable PEM file of CA certificates (no such file or directory)"},
		{name: "h2 over https", args: []string{"--h2", "https://127.0.0.1:1/"}, code: 2, msg: "--h2 true: want false: hotload speaks HTTP/2 over cleartext only"},
		{name: "bad header", args: []string{"-H", "nocolon", "http://127.0.0.1:1/"}, code: 2, msg: "bad header"},
		{name: "zero connections", args: []string{"-c", "0", "http://127.0.0.1:1/"}, code: 2, msg: "-c 0: want at least 1"},
		{name: "zero threads", args: []string{"-t", "0", "http://127.0.0.1:1/"}, code: 2, msg: "-t 0: want at least 1"},
		{name: "zero pipeline", args: []string{"-p", "0", "http://127.0.0.1:1/"}, code: 2, msg: "-p 0: want 1..1024"},
		{name: "duration without unit", args: []string{"-d", "5", "http://127.0.0.1:1/"}, code: 2, msg: `invalid value "5" for flag -d: missing a unit`},
		{name: "zero duration", args: []string{"-d", "0s", "http://127.0.0.1:1/"}, code: 2, msg: "-d 0s: want a positive duration"},
		{name: "zero timeout", args: []string{"--timeout", "0s", "http://127.0.0.1:1/"}, code: 2, msg: "--timeout 0s: want a positive duration"},
		{name: "negative warmup", args: []string{"--warmup", "-1s", "http://127.0.0.1:1/"}, code: 2, msg: "--warmup -1s: want 0 or a positive duration"},
		{name: "negative rate", args: []string{"-R", "-5", "http://127.0.0.1:1/"}, code: 2, msg: "-R -5: want 0 (closed loop) or a positive rate"},
		{name: "more connections than files", args: []string{"-c", strconv.FormatUint(hardFileLimit(t)+1, 10), "http://127.0.0.1:1/"}, code: 2, msg: "want at most"},
		{name: "bad fail-if", args: []string{"--fail-if", "p99>>1", "http://127.0.0.1:1/"}, code: 2, msg: "bad --fail-if"},
		{name: "missing targets file", args: []string{"--targets", "/nonexistent/t.jsonl"}, code: 2, msg: "no such file"},
		{name: "pipelining without keepalive", args: []string{"-p", "4", "--no-keepalive", "http://127.0.0.1:1/"}, code: 2, msg: "-p 4: want 1: pipelining needs keep-alive"},
		{name: "h2 without keep-alive", args: []string{"--h2", "--no-keepalive", "http://127.0.0.1:1/"}, code: 2, msg: "--no-keepalive true: want false: HTTP/2 needs keep-alive"},
		{name: "compare arity", args: []string{"compare", "a.json"}, code: 2, msg: "usage: hotload compare"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := hotload(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, errOut)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.msg) || out != "" {
				t.Fatalf("stderr %q (want one line with %q), stdout %q", errOut, tc.msg, out)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	code, out, errOut := hotload("-d", "1s", "http://"+closedPort(t)+"/")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "unreachable") || out != "" {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errOut, out)
	}
}

func TestRunJSONCompareMerge(t *testing.T) {
	url := startEcho(t, echoserver.Config{})
	dir := t.TempDir()
	a, b, m, h := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json"), filepath.Join(dir, "m.json"), filepath.Join(dir, "a.hgrm")
	// Flags after the URL are accepted, as wrk accepts them.
	code, out, errOut := hotload("-c", "2", url, "-d", "200ms", "-H", "X-A: 1", "--json", a, "--hgrm", h)
	if code != 0 || !strings.Contains(out, "Requests/sec:") || errOut != "" {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut = hotload("-c", "2", "-d", "200ms", "-R", "200", "--json", b, url); code != 0 {
		t.Fatalf("rate run exit %d: %s", code, errOut)
	}
	// The JSON: no zero rate in the uncorrected figures, an empty list
	// of warnings rather than null, not interrupted.
	var rep struct {
		Interrupted *bool `json:"interrupted"`
		Uncorrected struct {
			ElapsedSec float64 `json:"elapsed_s"`
			RPS        float64 `json:"rps"`
		} `json:"uncorrected"`
		Warnings []string `json:"warnings"`
	}
	raw, err := os.ReadFile(b)
	if err != nil || json.Unmarshal(raw, &rep) != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if rep.Uncorrected.ElapsedSec <= 0 || rep.Uncorrected.RPS <= 0 || rep.Warnings == nil || rep.Interrupted == nil || *rep.Interrupted {
		t.Errorf("report: %+v\n%s", rep, raw)
	}
	hgrm, err := os.ReadFile(h)
	if err != nil || !strings.Contains(string(hgrm), "#[Buckets =") {
		t.Fatalf("hgrm %v %q", err, hgrm)
	}
	// A closed-loop run beside a constant-rate one: compared and merged,
	// with a warning that they differ in rate.
	code, out, errOut = hotload("compare", a, b)
	if code != 0 || !strings.Contains(out, "B/A") || !strings.Contains(out, "requests/s") {
		t.Fatalf("compare exit %d:\n%s", code, out)
	}
	if want := "warning: " + a + " and " + b + " differ in rate: closed loop vs 200 req/s"; !strings.Contains(errOut, want) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("compare stderr %q, want one line with %q", errOut, want)
	}
	code, out, errOut = hotload("merge", a, b, "--json", m)
	if code != 0 || !strings.Contains(out, "2 runs merged") {
		t.Fatalf("merge exit %d:\n%s", code, out)
	}
	if !strings.Contains(errOut, "differ in rate") {
		t.Errorf("merge stderr %q", errOut)
	}
	if code, _, errOut = hotload("compare", a, a); code != 0 || errOut != "" {
		t.Errorf("compare of a run with itself: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(m); err != nil {
		t.Fatal(err)
	}
}

func TestFailIfExit(t *testing.T) {
	url := startEcho(t, echoserver.Config{StatusMix: []echoserver.StatusWeight{{Status: 503, Weight: 1}}})
	code, out, errOut := hotload("-c", "1", "-d", "100ms", "--fail-if", "non2xx>0,rps<1e12", url)
	if code != 3 || !strings.Contains(out, "Requests/sec:") {
		t.Fatalf("exit %d, want 3\n%s", code, out)
	}
	if !strings.Contains(errOut, "fail-if non2xx>0: non2xx is") || !strings.Contains(errOut, "fail-if rps<1e12: rps is") {
		t.Fatalf("stderr %q", errOut)
	}
	if code, _, _ := hotload("-c", "1", "-d", "100ms", "--fail-if", "errors>0", url); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
}

func TestTargetsFile(t *testing.T) {
	url := startEcho(t, echoserver.Config{Echo: true})
	f := filepath.Join(t.TempDir(), "t.jsonl")
	body := `{"url":"` + url + `a"}` + "\n" + `{"method":"POST","url":"` + url + `b","body":"x"}` + "\n"
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := hotload("--targets", f, "-c", "2", "-d", "100ms", "--fail-if", "errors>0")
	if code != 0 || !strings.Contains(out, "Status: 200:") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

// hardFileLimit is the process's hard RLIMIT_NOFILE.
func hardFileLimit(t *testing.T) uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Max == unix.RLIM_INFINITY {
		t.Skipf("no finite open-file limit (%v)", err)
	}
	return lim.Max
}

// A run in which no request got a response exits 1 and says why: here
// every connection is closed by the target before it answers, then refused
// once the target stops listening.
func TestNoResponseExit(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			if i == 3 { // the probe and a few load connections
				ln.Close()
			}
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	dir := t.TempDir()
	code, out, errOut := hotload("-c", "2", "-d", "300ms", "--json", filepath.Join(dir, "r.json"), "http://"+ln.Addr().String()+"/")
	if code != exitRun || !strings.Contains(errOut, "no request got a response: ") || !strings.Contains(errOut, "(ECONNREFUSED ") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out, "Errors: ") || !strings.Contains(out, "(ECONNREFUSED ") {
		t.Errorf("stdout lacks the errors by cause:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.json")); err != nil { // still written
		t.Error(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two
// goroutines.
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

// Cancelling a run (Ctrl-C) keeps what was recorded and marks the text
// report and the JSON as interrupted, with the real duration; the header
// is on stdout before the first request is sent.
func TestInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	var served atomic.Int64
	var headerFirst atomic.Bool
	url := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) == 1 {
			headerFirst.Store(strings.HasPrefix(stdout.String(), "Running 1m0s test @ "))
		}
		if served.Load() == 20 {
			cancel()
		}
		fmt.Fprint(w, "ok")
	}))
	jsonOut := filepath.Join(t.TempDir(), "r.json")
	code := run(ctx, []string{"-c", "1", "-d", "1m", "--json", jsonOut, url + "/"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !headerFirst.Load() {
		t.Errorf("the header was not printed before the first request")
	}
	out := stdout.String()
	if strings.Count(out, "Running 1m0s test @ ") != 1 || !strings.Contains(out, "INTERRUPTED: ") || !strings.Contains(out, "s of the 1m0s asked were recorded") {
		t.Errorf("stdout:\n%s", out)
	}
	var rep struct {
		Interrupted bool `json:"interrupted"`
		Figures     struct {
			Requests   int64   `json:"requests"`
			ElapsedSec float64 `json:"elapsed_s"`
		} `json:"figures"`
	}
	raw, err := os.ReadFile(jsonOut)
	if err != nil || json.Unmarshal(raw, &rep) != nil {
		t.Fatalf("%s: %v", jsonOut, err)
	}
	if !rep.Interrupted || rep.Figures.ElapsedSec <= 0 || rep.Figures.ElapsedSec >= 60 || rep.Figures.Requests == 0 {
		t.Errorf("report %+v", rep)
	}
}

// Without a terminal the progress is a line every progressEvery, not a
// line rewritten every second.
func TestProgressLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgressPrinter(&b, 12*time.Second)
	for s := range 13 {
		p.print(loadgen.Progress{Elapsed: time.Duration(s) * time.Second, Requests: int64(s) * 100})
	}
	p.end()
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "hotload: [  5.0s/12s]") || !strings.HasPrefix(lines[1], "hotload: [ 10.0s/12s]") ||
		!strings.Contains(lines[1], " 100 req/s") || strings.Contains(b.String(), "\r") {
		t.Fatalf("progress:\n%s", b.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if line := strings.TrimSuffix(out.String(), "\n"); !buildinfo.Pattern.MatchString(line) || !strings.HasPrefix(line, "hotload ") {
		t.Errorf("--version printed %q", out.String())
	}
}
