package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	)
}

func TestServeAndStop(t *testing.T) {
	stop := make(chan os.Signal, 1)
	ready := make(chan string, 1)
	var out, errOut bytes.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"-addr", "127.0.0.1:0", "--size", "20", "--status-mix", "201:1"}, &out, &errOut, stop, ready)
	}()
	addr := <-ready
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	if resp.StatusCode != 201 || len(body) != 20 {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	stop <- syscall.SIGTERM
	if c := <-code; c != 0 {
		t.Fatalf("exit %d: %s", c, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "hotecho listening on http://"+addr) || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("start line %q", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"bad mix", []string{"--status-mix", "200"}, "status mix"},
		{"bad stall", []string{"--stall", "5s/1s"}, "stall"},
		{"bad dist", []string{"--jitter-dist", "gauss"}, "distribution"},
		{"negative size", []string{"--size", "-1"}, "size"},
		{"extra arg", []string{"x"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tc.args, &out, &errOut, nil, nil); code != 2 {
				t.Fatalf("exit %d, want 2", code)
			}
			if !strings.Contains(errOut.String(), tc.msg) || strings.Count(errOut.String(), "\n") != 1 {
				t.Fatalf("stderr %q", errOut.String())
			}
		})
	}
}

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-version"}, &out, &errb, nil, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if line := strings.TrimSuffix(out.String(), "\n"); !buildinfo.Pattern.MatchString(line) || !strings.HasPrefix(line, "hotecho ") {
		t.Errorf("-version printed %q", out.String())
	}
}
