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

// TestSetsQuick runs the feature and knee sets for real, briefly, on
// hotpath alone: two features, and a ramp whose first step fails an
// objective nothing meets. It checks the plumbing and the reports, never
// the figures.
func TestSetsQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs load for seconds; skipped with -short")
	}
	bin := buildBinaries(t)
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := Options{Bin: bin, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Rounds: 1, Connections: 4, Contenders: []string{"hotpath"}}

	t.Run("features", func(t *testing.T) {
		o := base
		o.Set, o.Out, o.Scenarios = SetFeatures, filepath.Join(t.TempDir(), "results"), []string{"header_rule", "cache_miss", "routes_10k"}
		var log strings.Builder
		o.Log = &log
		rep, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
		}
		fr := rep.Features
		if fr == nil || len(fr.Features) != 3 || len(fr.Baselines) != 1 {
			t.Fatalf("report %+v\nlog:\n%s", fr, log.String())
		}
		for _, f := range fr.Features {
			d := f.contender("hotpath")
			if d == nil || len(d.Runs) != 1 || d.Failed != "" || d.Runs[0].Feature.Requests == 0 || d.Runs[0].Base.Requests == 0 || d.Errors != 0 {
				t.Fatalf("%s: %+v\nlog:\n%s", f.Name, d, log.String())
			}
		}
		md, err := os.ReadFile(filepath.Join(o.Out, "results.md"))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"## Cost per feature", "| `header_rule` | baseline | +", "| `cache_miss` |", "| baseline | hotpath | 3 |"} {
			if !strings.Contains(string(md), want) && !strings.Contains(string(md), strings.Replace(want, "| +", "| −", 1)) {
				t.Errorf("results.md lacks %q:\n%s", want, md)
			}
		}
		var back Report
		b, _ := os.ReadFile(filepath.Join(o.Out, "results.json"))
		if err := json.Unmarshal(b, &back); err != nil || back.Features == nil || len(back.Features.Features[1].Contenders[0].Runs) != 1 {
			t.Fatalf("results.json: %v", err)
		}
	})

	t.Run("knee", func(t *testing.T) {
		o := base
		o.Set, o.Out = SetKnee, filepath.Join(t.TempDir(), "results")
		o.Knee = KneeOptions{SLO: "p99<1us", From: 500, NoSearch: true}
		var log strings.Builder
		o.Log = &log
		rep, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
		}
		kr := rep.Knee
		if kr == nil || len(kr.Contenders) != 1 || len(kr.Contenders[0].Runs) != 1 {
			t.Fatalf("report %+v\nlog:\n%s", kr, log.String())
		}
		run := kr.Contenders[0].Runs[0]
		if run.KneeRPS != 0 || len(run.Steps) != 1 || run.Steps[0].Pass || run.Steps[0].AchievedRPS == 0 {
			t.Fatalf("run %+v\nlog:\n%s", run, log.String())
		}
		md, err := os.ReadFile(filepath.Join(o.Out, "results.md"))
		if err != nil || !strings.Contains(string(md), "## Knee: the highest rate within p99<1us (passthrough_small)") {
			t.Fatalf("results.md: %v\n%s", err, md)
		}
		for _, f := range []string{"latency.html", run.Raw, strings.TrimSuffix(run.Raw, ".json") + ".html"} {
			if _, err := os.Stat(filepath.Join(o.Out, f)); err != nil {
				t.Error(err)
			}
		}
	})
}

func TestCPUSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := &cpuSamples{
		at:  []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)},
		cpu: []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond},
	}
	if got := c.busy(t0.Add(500*time.Millisecond), t0.Add(1500*time.Millisecond)); got < 0.749 || got > 0.751 {
		t.Errorf("busy = %v, want 0.75", got)
	}
	if got := c.busy(t0.Add(-time.Second), t0.Add(time.Second)); got != 0 {
		t.Errorf("busy before the samples = %v, want 0", got)
	}
}

func TestKneeFirstFail(t *testing.T) {
	run := KneeRun{KneeStep: 6, Steps: []KneeStep{ // 2812, step 6, is the highest passing rate
		{AskedRPS: 10000}, {AskedRPS: 5000}, {AskedRPS: 2500, Pass: true}, {AskedRPS: 3750}, {AskedRPS: 3125, ServerBusy: 0.9}, {AskedRPS: 2812, Pass: true},
	}}
	if f := run.firstFail(); f == nil || f.AskedRPS != 3125 {
		t.Fatalf("first failing step above the knee: %+v", f)
	}
	none := KneeRun{Steps: []KneeStep{{AskedRPS: 10000, ServerBusy: 1}, {AskedRPS: 5000}}}
	if f := none.firstFail(); f == nil || f.AskedRPS != 10000 {
		t.Fatalf("without a knee, the first step: %+v", f)
	}
}

// TestInWorkTree: the report describes hotpath by this tree's revision only
// when its binary was built here.
func TestInWorkTree(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if err := exec.Command("git", "rev-parse", "--show-toplevel").Run(); err != nil {
		t.Skip("not in a git work tree")
	}
	if !inWorkTree("../bin") {
		t.Error("../bin is not in the work tree")
	}
	if inWorkTree(t.TempDir()) {
		t.Error("a temporary directory is in the work tree")
	}
}
