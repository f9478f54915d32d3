package pool

import (
	"testing"
	"time"
)

func pickerOf(t *testing.T, slow time.Duration, eps ...*Endpoint) *Picker {
	t.Helper()
	b, err := NewBalancer(BalancerConfig{Kind: KindRoundRobin}, eps)
	if err != nil {
		t.Fatal(err)
	}
	return &Picker{Balancer: b, Endpoints: eps, SlowStart: slow}
}

func TestPickerSkipsTried(t *testing.T) {
	a, b, c := NewEndpoint("a:1", 1), NewEndpoint("b:1", 1), NewEndpoint("c:1", 1)
	p := pickerOf(t, 0, a, b, c)
	var tried Tried
	tried.Add(a)
	tried.Add(b)
	for range 20 {
		if e := p.Pick(0, &tried); e != c {
			t.Fatalf("Pick = %v, want c, the one endpoint not tried", e)
		}
	}
	tried.Add(c)
	if e := p.Pick(0, &tried); e != nil {
		t.Fatalf("Pick = %v with every endpoint tried, want nil", e.Addr)
	}
}

// TestPickerPanicMode: passive ejection that takes out every endpoint is
// ignored; active health and retirement are not.
func TestPickerPanicMode(t *testing.T) {
	a, b := NewEndpoint("a:1", 1), NewEndpoint("b:1", 1)
	for _, e := range []*Endpoint{a, b} {
		e.SetPassive(PassiveConfig{ConsecutiveFailures: 1})
		e.End(0, true)
		if !e.Ejected() {
			t.Fatal("not ejected")
		}
	}
	p := pickerOf(t, 0, a, b)
	if e := p.Pick(0, nil); e == nil {
		t.Fatal("every endpoint passively ejected: Pick = nil, want panic mode to use them")
	}
	a.SetActiveHealthy(false)
	for range 10 {
		if e := p.Pick(0, nil); e != b {
			t.Fatalf("Pick = %v, want b (a is down by active checks)", e)
		}
	}
	b.Retire()
	if e := p.Pick(0, nil); e != nil {
		t.Fatalf("Pick = %v, want nil", e.Addr)
	}
}

// TestSlowStart: an endpoint back from an ejection takes a share that grows
// over the window.
func TestSlowStart(t *testing.T) {
	var now int64 = 1
	clock := func() int64 { return now }
	a, b := NewEndpoint("a:1", 1), NewEndpoint("b:1", 1)
	a.state.clock, b.state.clock = clock, clock
	a.SetPassive(PassiveConfig{ConsecutiveFailures: 1, BaseEjection: time.Second})
	a.End(0, true)
	now += int64(time.Second) // the ejection ends; the next Healthy notices
	if !a.Healthy() {
		t.Fatal("still ejected")
	}
	if w := a.warmth(now, int64(10*time.Second)); w != 0.1 {
		t.Fatalf("warmth right after coming back = %v, want the 0.1 floor", w)
	}
	if w := a.warmth(now+int64(5*time.Second), int64(10*time.Second)); w != 0.5 {
		t.Fatalf("warmth halfway = %v, want 0.5", w)
	}
	if w := a.warmth(now+int64(10*time.Second), int64(10*time.Second)); w != 1 {
		t.Fatalf("warmth after the window = %v, want 1", w)
	}
	if w := b.warmth(now, int64(10*time.Second)); w != 1 {
		t.Fatalf("an endpoint that never left: warmth %v, want 1", w)
	}
	b.SetActiveHealthy(false)
	b.SetActiveHealthy(true)
	if w := b.warmth(now, int64(10*time.Second)); w != 0.1 {
		t.Fatalf("back from active down: warmth %v, want 0.1", w)
	}
}

func TestRetryBudget(t *testing.T) {
	b := RetryBudget{Percent: 20, MinConcurrent: 3}
	for i := range 3 {
		if !b.Acquire(0) {
			t.Fatalf("retry %d refused under the floor", i)
		}
	}
	if b.Acquire(10) {
		t.Fatal("a fourth retry with 10 in flight (20% = 2, floor 3) was allowed")
	}
	if !b.Acquire(100) {
		t.Fatal("a fourth retry with 100 in flight (20% = 20) was refused")
	}
	b.Release()
	if b.Active() != 3 {
		t.Fatalf("Active = %d, want 3", b.Active())
	}
}

func TestPickNoAlloc(t *testing.T) {
	a, b := NewEndpoint("a:1", 1), NewEndpoint("b:1", 1)
	p := pickerOf(t, time.Second, a, b)
	var tried Tried
	tried.Add(a)
	if n := testing.AllocsPerRun(100, func() { p.Pick(0, &tried) }); n != 0 {
		t.Fatalf("%v allocations per Pick", n)
	}
}
