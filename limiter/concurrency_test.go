package limiter

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestConcurrencyBound(t *testing.T) {
	if _, err := NewConcurrency(0); !errors.Is(err, ErrMax) {
		t.Fatalf("NewConcurrency(0): %v, want ErrMax", err)
	}
	c, err := NewConcurrency(3)
	if err != nil {
		t.Fatal(err)
	}
	var inFlight, peak atomic.Int64
	var refused atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20_000; i++ {
				if !c.Acquire() {
					refused.Add(1)
					continue
				}
				n := inFlight.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				inFlight.Add(-1)
				c.Release()
			}
		}()
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Fatalf("peak in flight %d > max 3", peak.Load())
	}
	if c.InFlight() != 0 {
		t.Fatalf("in flight %d after all releases", c.InFlight())
	}
}

func TestConcurrencyFull(t *testing.T) {
	c, _ := NewConcurrency(2)
	for i := range 2 {
		if !c.Acquire() {
			t.Fatalf("could not fill: acquire %d refused", i+1)
		}
	}
	if c.Acquire() {
		t.Fatal("acquired beyond max")
	}
	c.Release()
	if !c.Acquire() {
		t.Fatal("slot not returned")
	}
	if n := testing.AllocsPerRun(100, func() {
		c.Release()
		c.Acquire()
	}); n != 0 {
		t.Fatalf("allocates %.1f", n)
	}
	c.Release()
	c.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("Release without Acquire did not panic")
		}
	}()
	c.Release()
}
