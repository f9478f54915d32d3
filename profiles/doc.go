// Package profiles captures pprof profiles from a running server (hotpath's
// admin listener, or any net/http/pprof) during exactly the measured window
// of a load run, keeps named baselines, and diffs a run against one.
//
// A Capture is prepared before the load (New probes the endpoint, so a run
// can refuse to start when it does not answer), started when the measured
// window starts and finished when it has ended:
//
//	c, err := profiles.New(ctx, profiles.Options{
//		BaseURL: "http://127.0.0.1:9901", Dir: "runs", Name: "keepalive-64c",
//		Window: 30 * time.Second,
//	})
//	cfg.WindowStart = c.Start // loadgen.Config: called when the warm-up ends
//	res, err := loadgen.Run(ctx, cfg)
//	m, err := c.Finish(profiles.Run{Summary: ..., Files: map[string][]byte{"report.json": ...}})
//	base, err := profiles.SaveBaseline("runs", "main", c.Dir())
//	err = profiles.Diff(ctx, os.Stdout, base, otherRunDir, profiles.DiffOptions{})
//
// Start asks at once for the CPU profile (/debug/pprof/profile?seconds=N)
// and for the allocs, mutex and block profiles as deltas over the same N
// seconds (?seconds=N: the server subtracts the profile at the start from
// the one at the end), so they cover the window and nothing else; it also
// takes the live heap (heap-before.pprof) and, when asked, a short runtime
// trace. Finish takes the heap (after a GC) and goroutine snapshots at the
// end and writes everything under Dir/<run id>/ with a manifest.json
// (Manifest) that holds the run's command, the files and the headline
// figures, the server's CPU and allocations per request included.
//
// Mutex and block profiles have samples only when the server sets the
// rates (runtime.SetMutexProfileFraction, runtime.SetBlockProfileRate);
// hotpath's admin listener sets them at start (admin.Options
// MutexProfileFraction, BlockProfileRate) and on
// POST /debug/pprof/rates?mutex=N&block=N, and New warns when it reports
// them off.
//
// Diff prints the summary figures side by side and the top functions of
// each profile against the baseline's, with `go tool pprof -top
// -diff_base` when the go command is on PATH and in-process otherwise.
// See GUIDE.md for a tuning session.
package profiles
