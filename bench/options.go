package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The sets of measurements a Run can make (Options.Set).
const (
	// SetScenarios: every scenario against every contender (the default).
	SetScenarios = ""
	// SetFeatures: hotpath's cost per feature, each feature interleaved
	// with the plain proxy, and the same delta for the peers where they
	// have the feature (features.go).
	SetFeatures = "features"
	// SetKnee: the highest rate each contender serves within an objective
	// (hotload ramp), interleaved (knee.go).
	SetKnee = "knee"
)

// Options configure a Run. The zero value of every field means its default.
type Options struct {
	// Set is what to measure: SetScenarios, SetFeatures or SetKnee.
	Set string
	// Bin is the directory holding hotpath, hotecho and hotload ("bin").
	Bin string
	// BinB, when set, is a directory holding a second hotpath binary: it
	// runs as one more contender, called NameB ("hotpath-b"), with the same
	// config as hotpath, interleaved with the others (an A/B of two builds
	// in one run; the scenarios only).
	BinB, NameB string
	// IdleConns is how many client connections the idle_conns scenario
	// holds open (10000).
	IdleConns int
	// Out is the results directory, created if missing
	// (bench/results/<date>_<time>).
	Out string
	// Duration is the length of each measured run (10 s).
	Duration time.Duration
	// Warmup is the length of the unmeasured run before each measured one
	// (2 s). Negative: none.
	Warmup time.Duration
	// Rounds is how many times every contender runs every scenario, in
	// interleaved order (3).
	Rounds int
	// Connections is hotload's -c (64).
	Connections int
	// Scenarios and Contenders select subsets by name (all when empty).
	Scenarios  []string
	Contenders []string
	// ServerCPU is the taskset CPU list of the server under test ("0");
	// ClientCPU that of hotload and hotecho ("1"). "none" in either turns
	// pinning off for it.
	ServerCPU, ClientCPU string
	// Nice, when not 0, runs the servers, hotecho and hotload under
	// `nice -n Nice`; a negative value (root only) keeps other work on a
	// shared machine from taking their cores, at that work's expense.
	Nice int
	// Install lets the harness apt-get install nginx and HAProxy when they
	// are missing and it runs as root.
	Install bool
	// Log receives progress lines (io.Discard when nil).
	Log io.Writer

	// Knee is the ramp of SetKnee.
	Knee KneeOptions

	quick bool // set by Quick: the reports say it was a smoke test
}

// Quick returns o set up for a smoke test: one round of 1 s runs with a
// short warm-up and 16 connections. Fields already set are kept. The
// reports of a quick run say so (Meta.Quick), so that its figures are not
// quoted as a measurement.
func (o Options) Quick() Options {
	o.quick = true
	if o.Duration == 0 {
		o.Duration = time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 250 * time.Millisecond
	}
	if o.Rounds == 0 {
		o.Rounds = 1
	}
	if o.Connections == 0 {
		o.Connections = 16
	}
	return o
}

// withDefaults fills the zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Bin == "" {
		o.Bin = "bin"
	}
	if o.Out == "" {
		o.Out = "bench/results/" + time.Now().Format("2006-01-02_150405")
	}
	if o.Duration == 0 {
		o.Duration = 10 * time.Second
	}
	if o.Warmup == 0 {
		o.Warmup = 2 * time.Second
	}
	if o.Rounds == 0 {
		o.Rounds = 3
	}
	if o.Connections == 0 {
		o.Connections = 64
	}
	if o.ServerCPU == "" {
		o.ServerCPU = "0"
	}
	if o.ClientCPU == "" {
		o.ClientCPU = "1"
	}
	if o.ServerCPU == "none" {
		o.ServerCPU = ""
	}
	if o.ClientCPU == "none" {
		o.ClientCPU = ""
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.IdleConns == 0 {
		o.IdleConns = 10000
	}
	if o.BinB != "" && o.NameB == "" {
		o.NameB = "hotpath-b"
	}
	if o.BinB != "" {
		if o.Set != SetScenarios {
			return o, fmt.Errorf("bench: -bin-b applies to the scenarios, not to -set %s", o.Set)
		}
		if slices.Contains(ContenderNames, o.NameB) {
			return o, fmt.Errorf("bench: the second hotpath's name %q is taken by a contender", o.NameB)
		}
		if _, err := os.Stat(filepath.Join(o.BinB, "hotpath")); err != nil {
			return o, fmt.Errorf("bench: -bin-b: %w", err)
		}
	}
	if o.IdleConns < 0 {
		return o, fmt.Errorf("bench: idle connections must be positive")
	}
	if o.Duration < 0 || o.Rounds < 0 || o.Connections < 0 {
		return o, fmt.Errorf("bench: duration, rounds and connections must be positive")
	}
	switch o.Set {
	case SetScenarios, SetFeatures:
	case SetKnee:
		o.Knee = o.Knee.withDefaults()
	default:
		return o, fmt.Errorf("bench: unknown set %q (want %s or %s, or none for the scenarios)", o.Set, SetFeatures, SetKnee)
	}
	return o, nil
}
