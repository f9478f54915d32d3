package bench

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// buildBinaries builds hotpath, hotecho and hotload into a temporary
// directory, or skips the test when they cannot be built (no toolchain, or
// another package of the tree mid-change).
func buildBinaries(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binaries with")
	}
	dir := t.TempDir()
	cmd := exec.Command(goBin, "build", "-o", dir+string(os.PathSeparator), "./cmd/hotpath", "./cmd/hotecho", "./cmd/hotload")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build the binaries: %v\n%s", err, out)
	}
	return dir
}

// TestRunQuick runs the whole harness for real, briefly: hotpath only (no
// peers needed), one scenario, one short round. It checks that the run
// happened and the reports were written, never how fast anything was.
func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs load for a second; skipped with -short")
	}
	bin := buildBinaries(t)
	defer goleak.VerifyNone(t)
	out := filepath.Join(t.TempDir(), "results")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := Run(ctx, Options{
		Bin: bin, Out: out,
		Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond,
		Rounds: 1, Connections: 4,
		Scenarios: []string{"passthrough_small"}, Contenders: []string{"hotpath"},
		Log: &log,
	})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 1 || len(rep.Scenarios[0].Contenders) != 1 {
		t.Fatalf("report shape: %+v", rep.Scenarios)
	}
	c := rep.Scenarios[0].Contenders[0]
	if c.Name != "hotpath" || c.Skipped != "" || c.Failed != "" {
		t.Fatalf("hotpath: skipped %q failed %q\nlog:\n%s", c.Skipped, c.Failed, log.String())
	}
	if len(c.Runs) != 1 || c.Summary == nil {
		t.Fatalf("want 1 run and a summary, got %d runs, summary %v", len(c.Runs), c.Summary)
	}
	run := c.Runs[0]
	if run.Requests <= 0 || run.Errors != 0 || run.Status[200] != run.Requests {
		t.Errorf("run: %d requests, %d errors, statuses %v", run.Requests, run.Errors, run.Status)
	}
	if run.Processes != 1 {
		t.Errorf("hotpath counted as %d processes, want 1", run.Processes)
	}
	if _, err := os.Stat(filepath.Join(out, run.Raw)); err != nil {
		t.Errorf("raw hotload report: %v", err)
	}

	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## passthrough_small", "| hotpath | ", "req/s median"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	var back Report
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if got := back.Scenarios[0].Contenders[0].Runs[0].Requests; got != run.Requests {
		t.Errorf("results.json requests %d, want %d", got, run.Requests)
	}
	html, err := os.ReadFile(filepath.Join(out, "latency.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "<polyline", "hotpath"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("latency.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "<script") || strings.Contains(string(html), "http://cdn") {
		t.Error("latency.html must be self-contained")
	}
}
