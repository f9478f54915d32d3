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

	"github.com/hotpath/hotpath/loadgen"
)

// TestTLSSetsQuick runs a TLS scenario in the scenario set and in the knee
// set, briefly, on HAProxy (hotpath refuses tls: sections until the engine
// serves TLS, and is reported skipped): hotload speaks https to it in both
// a plain run and a ramp. It checks the plumbing, never the figures.
func TestTLSSetsQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs load for seconds; skipped with -short")
	}
	if _, ok := lookPeer("haproxy"); !ok {
		t.Skip("haproxy is not installed (.ci/run installs it)")
	}
	bin := buildBinaries(t)
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := Options{Bin: bin, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Rounds: 1, Connections: 4,
		Contenders: []string{"hotpath", "haproxy"}}

	t.Run("scenarios", func(t *testing.T) {
		o := base
		o.Out, o.Scenarios = filepath.Join(t.TempDir(), "results"), []string{"tls_handshake"}
		var log strings.Builder
		o.Log = &log
		rep, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
		}
		sr := rep.Scenarios[0]
		if hp := sr.contender("hotpath"); hp == nil || !strings.Contains(hp.Skipped, "tls") {
			t.Errorf("hotpath: %+v", hp)
		}
		hx := sr.contender("haproxy")
		if hx == nil || hx.Failed != "" || len(hx.Runs) != 1 || hx.Runs[0].Requests == 0 || hx.Runs[0].Errors != 0 {
			t.Fatalf("haproxy: %+v\nlog:\n%s", hx, log.String())
		}
	})

	t.Run("knee", func(t *testing.T) {
		o := base
		// The warm-up leaves time for the connections' handshakes on a
		// busy machine: the one step is recorded after it.
		o.Set, o.Out, o.Warmup = SetKnee, filepath.Join(t.TempDir(), "results"), time.Second
		o.Knee = KneeOptions{Scenario: "tls_keepalive", SLO: "p99<1us", From: 200, NoSearch: true}
		var log strings.Builder
		o.Log = &log
		rep, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
		}
		kr := rep.Knee
		if hp := kr.contender("hotpath"); hp == nil || !strings.Contains(hp.Skipped, "tls") {
			t.Errorf("hotpath: %+v", hp)
		}
		hx := kr.contender("haproxy")
		if hx == nil || hx.Failed != "" || len(hx.Runs) != 1 || len(hx.Runs[0].Steps) != 1 || hx.Runs[0].Steps[0].AchievedRPS == 0 {
			var ramp []byte
			if hx != nil && len(hx.Runs) == 1 {
				ramp, _ = os.ReadFile(filepath.Join(o.Out, strings.TrimSuffix(hx.Runs[0].Raw, ".json")+".txt"))
			}
			t.Fatalf("haproxy: %+v\nlog:\n%s\nramp:\n%s", hx, log.String(), ramp)
		}
		var rr loadgen.RampReport
		b, err := os.ReadFile(filepath.Join(o.Out, hx.Runs[0].Raw))
		if err != nil || json.Unmarshal(b, &rr) != nil || len(rr.Steps) != 1 || rr.Steps[0].Report.TLS == nil || rr.Steps[0].Report.TLS.Handshakes == 0 {
			t.Fatalf("ramp JSON: %v\n%s", err, b)
		}
	})
}
