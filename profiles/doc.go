// Package profiles captures pprof profiles from a running hotpath through
// its admin listener during exactly the measured window of a load run, keeps
// named baselines, and diffs a run against one.
//
// A capture is started when the measured window starts and finished when
// it ends:
//
//	c, err := profiles.Start(ctx, profiles.Options{
//		BaseURL: "http://127.0.0.1:9901", Dir: "profiles", Name: "keepalive-64c",
//		Duration: 30 * time.Second,
//	})
//	// ... run the load for 30 s ...
//	dir, err := c.Finish(resultsJSON)
//	base, err := profiles.SaveBaseline(dir, "main")
//	out, err := profiles.Diff(base, otherDir, profiles.CPU)
//
// Start asks for /debug/pprof/profile?seconds=N (and /debug/pprof/trace)
// at once, so the CPU profile covers the window; Finish takes the heap,
// allocs, mutex, block and goroutine profiles at the end of the window,
// waits for the CPU profile and writes everything under
// Dir/<UTC timestamp>-<Name>/. Diff runs `go tool pprof -top -diff_base`.
// See GUIDE.md for a tuning session.
package profiles
