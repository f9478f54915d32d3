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
// set, briefly, on hotpath (and HAProxy where it is installed): hotload
// speaks https to them in a plain run and in a ramp. It checks the
// plumbing, never the figures.
func TestTLSSetsQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs load for seconds; skipped with -short")
	}
	contenders := []string{"hotpath"}
	if _, ok := lookPeer("haproxy"); ok {
		contenders = append(contenders, "haproxy")
	}
	bin := buildBinaries(t)
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := Options{Bin: bin, Duration: 300 * time.Millisecond, Warmup: 100 * time.Millisecond, Rounds: 1, Connections: 4,
		Contenders: contenders}

	t.Run("scenarios", func(t *testing.T) {
		o := base
		o.Out, o.Scenarios = filepath.Join(t.TempDir(), "results"), []string{"tls_handshake"}
		var log strings.Builder
		o.Log = &log
		rep, err := Run(ctx, o)
		if err != nil {
			t.Fatalf("Run: %v\nlog:\n%s", err, log.String())
		}
		for _, name := range contenders {
			c := rep.Scenarios[0].contender(name)
			if c == nil || c.Skipped != "" || c.Failed != "" || len(c.Runs) != 1 || c.Runs[0].Requests == 0 || c.Runs[0].Errors != 0 {
				t.Fatalf("%s: %+v\nlog:\n%s", name, c, log.String())
			}
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
		for _, name := range contenders {
			c := rep.Knee.contender(name)
			if c == nil || c.Skipped != "" || c.Failed != "" || len(c.Runs) != 1 || len(c.Runs[0].Steps) != 1 || c.Runs[0].Steps[0].AchievedRPS == 0 {
				var ramp []byte
				if c != nil && len(c.Runs) == 1 {
					ramp, _ = os.ReadFile(filepath.Join(o.Out, strings.TrimSuffix(c.Runs[0].Raw, ".json")+".txt"))
				}
				t.Fatalf("%s: %+v\nlog:\n%s\nramp:\n%s", name, c, log.String(), ramp)
			}
			var rr loadgen.RampReport
			b, err := os.ReadFile(filepath.Join(o.Out, c.Runs[0].Raw))
			if err != nil || json.Unmarshal(b, &rr) != nil || len(rr.Steps) != 1 || rr.Steps[0].Report.TLS == nil || rr.Steps[0].Report.TLS.Handshakes == 0 {
				t.Fatalf("%s: ramp JSON: %v\n%s", name, err, b)
			}
		}
	})
}
