package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run the real command in a child process: with
// HOTPATH_TEST_MAIN=1 the test binary is hotpath.
func TestMain(m *testing.M) {
	if os.Getenv("HOTPATH_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestStdoutIsTheAccessLog: with access_log.path: stdout, stdout carries
// access-log JSON from its first line; what hotpath says at start goes to
// the process log on stderr. (jq reads the stream from line 1.)
func TestStdoutIsTheAccessLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hp.yaml")
	_ = os.WriteFile(path, []byte(`
workers: 1
listeners: [{address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
access_log: {path: stdout}
log: {format: json}
routes:
  - {name: hi, path: /hi, direct: {body: hi}}
`), 0o600)
	cmd := exec.Command(os.Args[0], "-config", path)
	cmd.Env = append(os.Environ(), "HOTPATH_TEST_MAIN=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// The listening line, from the JSON process log on stderr.
	errLines := make(chan string, 64)
	go func() {
		defer close(errLines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errLines <- sc.Text()
		}
	}()
	var addr string
	var said []string
	timeout := time.After(20 * time.Second)
	for addr == "" {
		select {
		case line, ok := <-errLines:
			if !ok {
				t.Fatalf("hotpath exited; stderr:\n%s", strings.Join(said, "\n"))
			}
			said = append(said, line)
			var rec struct{ Msg, Addrs string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "hotpath listening" {
				addr = rec.Addrs
			}
		case <-timeout:
			t.Fatalf("no listening line on stderr:\n%s", strings.Join(said, "\n"))
		}
	}
	resp, err := http.Get("http://" + addr + "/hi")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(stdout) // EOF when hotpath exits
	if err != nil {
		t.Fatal(err)
	}
	for range errLines { // drain, so Wait can return
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("hotpath exit: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout is not the one access-log line:\n%s", out)
	}
	var rec struct {
		Path   string
		Status int
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil || rec.Path != "/hi" || rec.Status != 200 {
		t.Fatalf("stdout line 1 is not the access log (%v): %s", err, lines[0])
	}
}
