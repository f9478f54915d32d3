package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
	"github.com/hotpath/hotpath/proctest"
)

func TestMain(m *testing.M) {
	proctest.RunIfChild("HOTECHO_TEST_CHILD", func(args []string) int {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
		return run(args, os.Stdout, os.Stderr, stop, nil)
	})
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

// TestSurvivesDescriptorFlood: more connections than the open-file limit
// allows make accept fail with EMFILE; hotecho waits for connections to
// close instead of exiting (it is make run's upstream), and serves again.
func TestSurvivesDescriptorFlood(t *testing.T) {
	p := proctest.Start(t, "HOTECHO_TEST_CHILD", proctest.Options{OpenFiles: 64}, "-addr", "127.0.0.1:0")
	line := p.WaitStdout(t, "hotecho listening on http://")
	addr := strings.Fields(strings.TrimPrefix(line, "hotecho listening on http://"))[0]

	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			_ = c.Close()
		}
	}()
	for range 120 {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			break // the backlog is full: enough
		}
		flood = append(flood, c)
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	p.WaitStderr(t, "waiting for connections to close")
	for _, c := range flood {
		_ = c.Close()
	}
	flood = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.Exited() {
			t.Fatalf("hotecho exited; stderr:\n%s", p.Stderr())
		}
		resp, err := (&http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get("http://" + addr + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("hotecho does not serve again after the flood: %v; stderr:\n%s", err, p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := p.Stop(t); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, p.Stderr())
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
