package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestIdleConnsQuick runs idle_conns for real with 200 connections against
// hotpath alone, plus a second hotpath contender from the same binaries
// (-bin-b): it checks that the figure is produced, every connection held,
// and the heap profile saved, never the figure's value.
func TestIdleConnsQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and holds connections for seconds; skipped with -short")
	}
	bin := buildBinaries(t)
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "results")
	var log strings.Builder
	rep, err := Run(ctx, Options{
		Bin: bin, Out: out, Rounds: 1, IdleConns: 200,
		Scenarios: []string{"idle_conns"}, Contenders: []string{"hotpath"},
		BinB: bin, NameB: "hotpath-old",
		Log: &log,
	})
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
	}
	if len(rep.Scenarios) != 1 || !rep.Scenarios[0].Idle || len(rep.Scenarios[0].Contenders) != 2 {
		t.Fatalf("report shape: %+v", rep.Scenarios)
	}
	for _, c := range rep.Scenarios[0].Contenders {
		if c.Kind != "hotpath" || c.Failed != "" || c.Skipped != "" || len(c.Idle) != 1 || c.IdleSummary == nil {
			t.Fatalf("%s: %+v\nlog:\n%s", c.Name, c, log.String())
		}
		run := c.Idle[0]
		if run.Asked != 200 || run.Held != 200 || run.StillOpen != 200 || run.Failed != "" {
			t.Errorf("%s: asked %d, held %d, still open %d, failed %q", c.Name, run.Asked, run.Held, run.StillOpen, run.Failed)
		}
		if run.RSSBefore <= 0 || run.RSSAfter <= 0 || run.Processes != 1 || run.Go == nil || run.Go.After["HeapAlloc"] <= 0 {
			t.Errorf("%s: %+v", c.Name, run)
		}
		if _, err := os.Stat(filepath.Join(out, run.HeapProfile)); run.HeapProfile == "" || err != nil {
			t.Errorf("%s: heap profile %q: %v", c.Name, run.HeapProfile, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## idle_conns", "B per idle connection", "| hotpath | ", "| hotpath-old | ", "200 of 200"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	var back Report
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &back); err != nil || len(back.Scenarios) != 1 || len(back.Scenarios[0].Contenders[0].Idle) != 1 {
		t.Fatalf("results.json: %v", err)
	}
	if got, want := back.Scenarios[0].Contenders[0].Idle[0].BytesPerConn, rep.Scenarios[0].Contenders[0].Idle[0].BytesPerConn; got != want {
		t.Errorf("results.json figure %v, want %v", got, want)
	}
}

func TestParseMem(t *testing.T) {
	rss, anon := parseStatusMem([]byte("Name:\thotpath\nVmRSS:\t   31052 kB\nRssAnon:\t   12676 kB\nRssFile:\t   18376 kB\n"))
	if rss != 31052<<10 || anon != 12676<<10 {
		t.Errorf("parseStatusMem = %d, %d", rss, anon)
	}
	m := parseMemStats([]byte("heap profile: 1: 2 [3: 4] @ heap/1048576\n\n# runtime.MemStats\n# Alloc = 100\n# HeapAlloc = 100\n# Stack = 425984 / 425984\n# NumGC = 7\n# PauseNs = [1 2 3]\n"))
	if m["HeapAlloc"] != 100 || m["StackInuse"] != 425984 || m["StackSys"] != 425984 || m["NumGC"] != 7 {
		t.Errorf("parseMemStats = %v", m)
	}
	if _, ok := m["PauseNs"]; ok {
		t.Errorf("parseMemStats kept a list: %v", m)
	}
}

func TestOptionsBinB(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hotpath"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o, err := Options{BinB: dir}.withDefaults()
	if err != nil || o.NameB != "hotpath-b" {
		t.Fatalf("withDefaults: %v, name %q", err, o.NameB)
	}
	for _, bad := range []Options{
		{BinB: dir, Set: SetFeatures},
		{BinB: dir, NameB: "nginx"},
		{BinB: filepath.Join(dir, "nope")},
		{IdleConns: -1},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
