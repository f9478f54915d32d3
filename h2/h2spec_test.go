package h2

import (
	"bytes"
	"context"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestH2spec runs h2spec (github.com/summerwind/h2spec, pinned in go.mod as
// a tool) against the test server: every case of its generic and http2
// groups must pass. The hpack group tests a server's encoder against
// h2spec's expectations of a dynamic table we do not use for responses, so
// it runs too but is checked the same way.
func TestH2spec(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: h2spec needs a build of the tool")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("h2spec: no go command on PATH to run `go tool h2spec`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Built first, apart, so that a tool that cannot be built skips the
	// test with its reason instead of failing it.
	build := exec.CommandContext(ctx, gobin, "tool", "-n", "h2spec")
	if out, err := build.CombinedOutput(); err != nil {
		t.Skipf("h2spec cannot be built (`go tool -n h2spec`): %v\n%s", err, out)
	}
	s := startServer(t, Limits{}, "hello, h2spec\n")
	for _, group := range []string{"generic", "http2", "hpack"} {
		t.Run(group, func(t *testing.T) {
			cmd := exec.CommandContext(ctx, gobin, "tool", "h2spec", group,
				"-S", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port()), "-o", "3")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			summary := lastLine(out.Bytes())
			if err != nil || !bytes.Contains(summary, []byte(" 0 failed")) {
				t.Errorf("h2spec %s: %v\n%s", group, err, out.Bytes())
				return
			}
			t.Logf("h2spec %s: %s", group, summary)
		})
	}
}

// lastLine is the last non-empty line of b (h2spec's summary:
// "N tests, N passed, N skipped, N failed").
func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, "\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}
