package pool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is an injectable monotonic clock in ns.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() int64              { return c.ns.Load() }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newClockedEndpoint(t *testing.T, cfg PassiveConfig) (*Endpoint, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	clk.ns.Store(1_000_000_000)
	e := NewEndpoint("127.0.0.1:1", 1)
	e.state.clock = clk.now
	e.SetPassive(cfg)
	return e, clk
}

func TestNewEndpointIDsDense(t *testing.T) {
	a := NewEndpoint("a:1", 0)
	b := NewEndpoint("b:1", 3)
	if b.ID != a.ID+1 {
		t.Fatalf("IDs %d, %d: want consecutive", a.ID, b.ID)
	}
	if n := EndpointIDs(); n <= b.ID {
		t.Fatalf("EndpointIDs() = %d, want > %d", n, b.ID)
	}
	if a.Weight != 1 || b.Weight != 3 {
		t.Fatalf("weights %d, %d: want 1 (default), 3", a.Weight, b.Weight)
	}
	if !a.Healthy() {
		t.Fatal("a new endpoint must start healthy")
	}
}

func TestBeginEndInFlight(t *testing.T) {
	e := NewEndpoint("a:1", 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				e.Begin()
				e.End(time.Millisecond, false)
			}
		})
	}
	e.Begin()
	wg.Wait()
	if got := e.InFlight(); got != 1 {
		t.Fatalf("InFlight() = %d, want 1", got)
	}
}

func TestEWMAPeak(t *testing.T) {
	e, clk := newClockedEndpoint(t, PassiveConfig{})
	if e.EWMA() != 0 {
		t.Fatalf("EWMA before any sample = %v, want 0", e.EWMA())
	}
	e.Begin()
	e.End(10*time.Millisecond, false)
	if got := e.EWMA(); got != 10*time.Millisecond {
		t.Fatalf("first sample: EWMA = %v, want 10ms", got)
	}
	clk.advance(time.Millisecond)
	e.Begin()
	e.End(50*time.Millisecond, false)
	if got := e.EWMA(); got != 50*time.Millisecond {
		t.Fatalf("slower sample: EWMA = %v, want the peak 50ms", got)
	}
	// Faster samples pull it down gradually, not at once.
	for range 10 {
		clk.advance(100 * time.Millisecond)
		e.Begin()
		e.End(time.Millisecond, false)
	}
	if got := e.EWMA(); got <= time.Millisecond || got >= 50*time.Millisecond {
		t.Fatalf("after fast samples: EWMA = %v, want between 1ms and 50ms", got)
	}
	// No traffic: decays towards zero (so an avoided endpoint is retried).
	before := e.EWMA()
	clk.advance(30 * time.Second)
	if got := e.EWMA(); got >= before/10 {
		t.Fatalf("after 30s idle: EWMA = %v, want < %v", got, before/10)
	}
}

func TestEWMAFailureNotFaster(t *testing.T) {
	e, clk := newClockedEndpoint(t, PassiveConfig{})
	e.Begin()
	e.End(10*time.Millisecond, false)
	clk.advance(time.Millisecond)
	e.Begin()
	e.End(time.Microsecond, true) // a fast failure
	if got := e.EWMA(); got < 10*time.Millisecond {
		t.Fatalf("EWMA after a fast failure = %v, want >= 10ms", got)
	}
}

func fail(e *Endpoint, n int) {
	for range n {
		e.Begin()
		e.End(time.Millisecond, true)
	}
}

func TestPassiveEjection(t *testing.T) {
	cfg := PassiveConfig{ConsecutiveFailures: 3, BaseEjection: 10 * time.Second, MaxEjection: 35 * time.Second}
	e, clk := newClockedEndpoint(t, cfg)

	fail(e, 2)
	if !e.Healthy() {
		t.Fatal("ejected before reaching ConsecutiveFailures")
	}
	e.Begin()
	e.End(time.Millisecond, false) // success resets the streak
	fail(e, 2)
	if !e.Healthy() {
		t.Fatal("a success did not reset the failure count")
	}
	fail(e, 1)
	if e.Healthy() || !e.Ejected() {
		t.Fatal("not ejected after 3 consecutive failures")
	}

	// Each re-ejection doubles the time, capped at MaxEjection.
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 35 * time.Second, 35 * time.Second} {
		if i > 0 {
			fail(e, 3)
		}
		clk.advance(want - time.Nanosecond)
		if e.Healthy() {
			t.Fatalf("ejection %d: healthy before %v", i+1, want)
		}
		fail(e, 5) // failures of requests already in flight do not extend it
		clk.advance(time.Nanosecond)
		if !e.Healthy() {
			t.Fatalf("ejection %d: still ejected after %v", i+1, want)
		}
	}

	// Healthy for MaxEjection: the back-off starts over at BaseEjection.
	clk.advance(35 * time.Second)
	fail(e, 3)
	clk.advance(10 * time.Second)
	if !e.Healthy() {
		t.Fatal("back-off did not reset after a healthy period")
	}
}

func TestPassiveDisabled(t *testing.T) {
	e, _ := newClockedEndpoint(t, PassiveConfig{})
	fail(e, 100)
	if !e.Healthy() {
		t.Fatal("ejected with ConsecutiveFailures 0")
	}
}

func TestPassiveConcurrentSingleEjection(t *testing.T) {
	e, clk := newClockedEndpoint(t, PassiveConfig{ConsecutiveFailures: 2, BaseEjection: time.Second, MaxEjection: time.Hour})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { fail(e, 100) })
	}
	wg.Wait()
	if e.Healthy() {
		t.Fatal("not ejected")
	}
	// Failures during the ejection must not have advanced the back-off.
	clk.advance(time.Second)
	if !e.Healthy() {
		t.Fatalf("still ejected after BaseEjection: %d ejections counted", e.state.ejections.Load())
	}
}

func TestActiveAndPassiveSeparate(t *testing.T) {
	e, clk := newClockedEndpoint(t, PassiveConfig{ConsecutiveFailures: 1, BaseEjection: time.Second})
	e.SetActiveHealthy(false)
	fail(e, 1)
	clk.advance(2 * time.Second)
	if e.Healthy() || !e.ActiveDown() {
		t.Fatal("passive expiry must not clear active down")
	}
	e.SetActiveHealthy(true)
	if !e.Healthy() {
		t.Fatal("not healthy with both states clear")
	}
}

func TestEndpointAllocs(t *testing.T) {
	e := NewEndpoint("a:1", 1)
	e.SetPassive(PassiveConfig{ConsecutiveFailures: 3})
	n := testing.AllocsPerRun(1000, func() {
		e.Begin()
		e.End(time.Millisecond, false)
		e.Begin()
		e.End(time.Millisecond, true)
		_ = e.Healthy()
		_ = e.EWMA()
	})
	if n != 0 {
		t.Fatalf("Begin/End/Healthy/EWMA allocate %v times per run", n)
	}
}

func BenchmarkEndpointBeginEnd(b *testing.B) {
	e := NewEndpoint("a:1", 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Begin()
			e.End(time.Millisecond, false)
		}
	})
}
