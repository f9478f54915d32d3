package gateway

import (
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/hotpath/hotpath/config"
)

// TestBuildInfo: hotpath_build_info is 1 with the build's version, commit
// and date (as cmd/hotpath stamps them) and the Go version, on /metrics.
func TestBuildInfo(t *testing.T) {
	up := newUpstream(t)
	cfg, err := config.Load(writeConfig(t, t.TempDir(), up.addr, ""))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, Options{Logger: slog.New(slog.DiscardHandler),
		Build: Build{Version: "v1.2.3", Commit: "0123abc", Date: "2026-12-02T00:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close(); http.DefaultClient.CloseIdleConnections() })
	scrapeUntil(t, g, [][]any{
		{"hotpath_build_info", "version", "v1.2.3", "commit", "0123abc", "date", "2026-12-02T00:00:00Z", "goversion", runtime.Version(), 1},
	})

	// No hotpath family of the whole registry collides with another under
	// OpenMetrics, where a counter foo_total is family foo. (The Go
	// collector's go_memstats_alloc_bytes and _total do: not ours.)
	mfs, err := g.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for n := range names {
		if base, ok := strings.CutSuffix(n, "_total"); ok && names[base] && strings.HasPrefix(n, "hotpath_") {
			t.Errorf("%s and %s collide under OpenMetrics", base, n)
		}
	}
}
