package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/echoserver"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

func startEcho(t *testing.T, cfg echoserver.Config) string {
	t.Helper()
	srv, err := echoserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String() + "/"
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
		{name: "tls-flags-on-http", args: []string{"--insecure", "http://127.0.0.1:1/"}, code: 2, msg: "TLS options for an http:// target"},
		{name: "bad header", args: []string{"-H", "nocolon", "http://127.0.0.1:1/"}, code: 2, msg: "bad header"},
		{name: "zero connections", args: []string{"-c", "0", "http://127.0.0.1:1/"}, code: 2, msg: "must be >= 1"},
		{name: "bad fail-if", args: []string{"--fail-if", "p99>>1", "http://127.0.0.1:1/"}, code: 2, msg: "bad --fail-if"},
		{name: "missing targets file", args: []string{"--targets", "/nonexistent/t.jsonl"}, code: 2, msg: "no such file"},
		{name: "pipelining without keepalive", args: []string{"-p", "4", "--no-keepalive", "http://127.0.0.1:1/"}, code: 2, msg: "pipelining needs keep-alive"},
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
	hgrm, err := os.ReadFile(h)
	if err != nil || !strings.Contains(string(hgrm), "#[Buckets =") {
		t.Fatalf("hgrm %v %q", err, hgrm)
	}
	code, out, _ = hotload("compare", a, b)
	if code != 0 || !strings.Contains(out, "B/A") || !strings.Contains(out, "requests/s") {
		t.Fatalf("compare exit %d:\n%s", code, out)
	}
	code, out, _ = hotload("merge", a, b, "--json", m)
	if code != 0 || !strings.Contains(out, "2 runs merged") {
		t.Fatalf("merge exit %d:\n%s", code, out)
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

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if line := strings.TrimSuffix(out.String(), "\n"); !buildinfo.Pattern.MatchString(line) || !strings.HasPrefix(line, "hotload ") {
		t.Errorf("--version printed %q", out.String())
	}
}
