//go:build !race

package globallimit

import (
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/fleettest"
	"github.com/hotpath/hotpath/limiter"
)

// TestAllowNoAlloc checks that a decision on a global limit allocates
// nothing while its Syncer drains and adopts it in the background.
func TestAllowNoAlloc(t *testing.T) {
	r := fleettest.Redis(t)
	epoch := time.Now()
	clock := func() int64 { return int64(time.Since(epoch)) }
	in := newInstance(t, r.Addr, limiter.Config{Rate: 1000, Burst: 100, Slots: 1 << 10}, 0.5, 5*time.Millisecond, clock)
	waitUp(t, true, in)
	key := []byte("client")
	deadline := time.Now().Add(20 * time.Second)
	for start := in.s.Stats().Syncs; in.s.Stats().Syncs < start+3; {
		if time.Now().After(deadline) {
			t.Fatalf("no sync ran during the measurement: %+v", in.s.Stats())
		}
		if n := testing.AllocsPerRun(1000, func() { in.g.Allow(key, clock()) }); n != 0 {
			t.Fatalf("a global decision allocates %.2f times", n)
		}
	}
}
