package limiter

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
)

func TestUnmixInvertsMix(t *testing.T) {
	for range 10000 {
		x := rand.Uint64()
		if got := unmix(mix(x)); got != x {
			t.Fatalf("unmix(mix(%#x)) = %#x", x, got)
		}
	}
}

// drained returns the Pending for key in g's drain, failing when absent.
func drained(t *testing.T, ps []Pending, key uint64) Pending {
	t.Helper()
	for _, p := range ps {
		if p.Key == key {
			return p
		}
	}
	t.Fatalf("key %#x not drained (got %d keys)", key, len(ps))
	return Pending{}
}

func TestDrainReportsFleetKeys(t *testing.T) {
	g := mustNew(t, Config{Rate: 10, Burst: 3, Slots: 64, Track: true})
	a, b := []byte("10.0.0.1"), []byte("10.0.0.2")
	for range 5 {
		g.Allow(a, 0) // 3 admitted, 2 refused
	}
	g.Allow(b, 0)
	ps := g.Drain(nil)
	if len(ps) != 2 {
		t.Fatalf("drained %d keys, want 2", len(ps))
	}
	// The fleet key is the unseeded xxhash: the same in every process.
	if p := drained(t, ps, xxhash.Sum64(a)); p.Admitted != 3 {
		t.Errorf("a: admitted %d, want 3", p.Admitted)
	}
	if p := drained(t, ps, xxhash.Sum64(b)); p.Admitted != 1 {
		t.Errorf("b: admitted %d, want 1", p.Admitted)
	}
	if ps := g.Drain(nil); len(ps) != 0 {
		t.Fatalf("second drain: %d keys, want none", len(ps))
	}
	// A refusal alone reports the key with nothing admitted.
	g.Allow(a, 0)
	ps = g.Drain(nil)
	if p := drained(t, ps, xxhash.Sum64(a)); p.Admitted != 0 {
		t.Errorf("refused a: admitted %d, want 0", p.Admitted)
	}
	if d := mustNew(t, Config{Rate: 10, Burst: 3, Slots: 64}).Drain(nil); d != nil {
		t.Errorf("untracked drain = %v, want nil", d)
	}
}

func TestAdoptTakesTheFleetState(t *testing.T) {
	const sec = int64(time.Second)
	g := mustNew(t, Config{Rate: 10, Burst: 4, Slots: 64, Track: true}) // T = 100ms, depth 400ms
	key := []byte("k")
	g.Allow(key, 0)
	p := g.Drain(nil)[0]
	// The fleet says the bucket is empty (depth ahead); this process admitted
	// nothing since the drain: everything is refused until one T passes.
	g.Adopt(p, 400*time.Millisecond, 0)
	if d := g.Allow(key, 0); d.Allowed {
		t.Fatal("allowed on a bucket the fleet emptied")
	}
	if d := g.Allow(key, sec/10); !d.Allowed {
		t.Fatal("refused after one emission interval")
	}
	// Admissions since the drain are added on top of the fleet's state.
	g.Drain(nil)
	g.Allow(key, 2*sec) // full bucket again: admitted, pending 1
	p = drained(t, g.Drain(nil), xxhash.Sum64(key))
	g.Allow(key, 2*sec) // pending 1 after this drain
	g.Adopt(p, 200*time.Millisecond, 2*sec)
	// 200ms from the fleet + 100ms from the admission since: one more fits.
	if d := g.Allow(key, 2*sec); !d.Allowed {
		t.Fatal("refused with room for one")
	}
	if d := g.Allow(key, 2*sec); d.Allowed {
		t.Fatal("allowed past the fleet state")
	}
	// A fleet far past its limit reads as empty, never as idle.
	g.Adopt(p, time.Hour, 2*sec)
	if d := g.Allow(key, 2*sec); d.Allowed {
		t.Fatal("allowed after the fleet went far over its limit")
	}
	// A fleet bucket that is full gives the process its burst back.
	g.Drain(nil)
	g.Adopt(p, -time.Second, 2*sec)
	for i := range 4 {
		if d := g.Allow(key, 2*sec); !d.Allowed {
			t.Fatalf("request %d refused on a full fleet bucket", i)
		}
	}
}

func TestAdoptSkipsAReusedSlot(t *testing.T) {
	g := mustNew(t, Config{Rate: 10, Burst: 1, Slots: 8, Track: true}) // one set
	g.Allow([]byte("old"), 0)
	p := g.Drain(nil)[0]
	// "old" goes idle; other keys take every word of the set.
	for i := range 20 {
		g.Allow([]byte{byte(i)}, int64(time.Hour))
	}
	g.Adopt(p, time.Second, int64(time.Hour))
	for _, q := range g.Drain(nil) {
		if q.Key == p.Key {
			t.Fatal("old key still tracked")
		}
	}
	// No other key was charged with old's fleet state: a fresh key is admitted.
	if d := g.Allow([]byte{0}, int64(time.Hour)+int64(time.Second)); !d.Allowed {
		t.Fatal("a reused slot took the old key's fleet state")
	}
}

func TestSetShare(t *testing.T) {
	g := mustNew(t, Config{Rate: 100, Burst: 10, Slots: 64, Track: true})
	key := []byte("k")
	count := func(now int64) (n int) {
		for range 100 {
			if g.Allow(key, now).Allowed {
				n++
			}
		}
		return n
	}
	g.SetShare(0.5)
	if n := count(0); n != 5 {
		t.Errorf("share 1/2: admitted %d of a burst of 10, want 5", n)
	}
	g.SetShare(0)
	if n := count(0); n != 100 {
		t.Errorf("share 0 (fail open): admitted %d of 100", n)
	}
	g.SetShare(1)
	if n := count(int64(time.Hour)); n != 10 {
		t.Errorf("share 1: admitted %d, want the burst of 10", n)
	}
}

func TestTrackedAllowNoAlloc(t *testing.T) {
	g := mustNew(t, Config{Rate: 100, Burst: 10, Slots: 1 << 10, Track: true})
	keys := make([][]byte, 4096)
	for i := range keys {
		keys[i] = []byte("10.0.0." + strconv.Itoa(i))
	}
	i := 0
	n := testing.AllocsPerRun(1000, func() {
		g.Allow(keys[i%len(keys)], int64(i)*1000)
		i++
	})
	if n != 0 {
		t.Fatalf("a tracked Allow allocates %.1f times per call", n)
	}
}
