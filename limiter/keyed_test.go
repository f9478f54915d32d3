package limiter

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// keyAt returns a hash that lands in set i of a table with its own tag.
func keyAt(i uint64) uint64 { return i | (i+1)<<32 }

func TestKeyedConcurrencyBound(t *testing.T) {
	if _, err := NewKeyedConcurrency(-1); !errors.Is(err, ErrSlots) {
		t.Fatalf("NewKeyedConcurrency(-1): %v, want ErrSlots", err)
	}
	k, err := NewKeyedConcurrency(0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := keyAt(1), keyAt(2)
	for i := range 3 {
		if !k.Acquire(a, 3) {
			t.Fatalf("acquire %d of 3 refused", i+1)
		}
	}
	if k.Acquire(a, 3) {
		t.Fatal("a fourth hold for one key")
	}
	if !k.Acquire(b, 3) {
		t.Fatal("another key refused")
	}
	if k.Held(a) != 3 || k.Held(b) != 1 {
		t.Fatalf("held %d and %d, want 3 and 1", k.Held(a), k.Held(b))
	}
	k.Release(a)
	if !k.Acquire(a, 3) {
		t.Fatal("a released hold was not given back")
	}
	if k.Acquire(a, 0) {
		t.Fatal("max 0 admitted")
	}
	// A lower max (a reload) applies to the holds already counted.
	if k.Acquire(a, 2) {
		t.Fatal("admitted over a lowered max")
	}
	for range 3 {
		k.Release(a)
	}
	k.Release(b)
	k.Release(b) // one too many: nothing held, nothing happens
	if k.Held(a) != 0 || k.Held(b) != 0 {
		t.Fatalf("held %d and %d after every release", k.Held(a), k.Held(b))
	}
}

// TestKeyedConcurrencyCrowdedSet: a set of seven keyed words and eight
// keys. The eighth counts in the overflow word, which then counts against
// every key of the set; every release finds its way back.
func TestKeyedConcurrencyCrowdedSet(t *testing.T) {
	k, _ := NewKeyedConcurrency(8) // one set
	key := func(i uint64) uint64 { return (i + 1) << 32 }
	for i := range uint64(7) {
		if !k.Acquire(key(i), 2) {
			t.Fatalf("key %d refused", i)
		}
	}
	if !k.Acquire(key(7), 2) { // overflow: 1
		t.Fatal("the eighth key refused")
	}
	if k.Acquire(key(0), 2) { // 1 own + 1 overflow
		t.Fatal("the crowded set was not stricter")
	}
	if !k.Acquire(key(7), 2) { // overflow: 2
		t.Fatal("the overflowing key refused its second hold")
	}
	if k.Acquire(key(8), 2) {
		t.Fatal("a ninth key admitted past a full overflow word")
	}
	k.Release(key(0)) // key 0's word is free (count 0, still tagged 0)
	if !k.Acquire(key(8), 4) {
		t.Fatal("a freed word was not taken")
	}
	k.Release(key(8))
	for i := range uint64(8) {
		if i != 0 {
			k.Release(key(i))
		}
	}
	k.Release(key(7))
	for i := range k.sets[0] {
		if n := k.sets[0][i].Load() & countMask; n != 0 {
			t.Fatalf("word %d holds %d after every release", i, n)
		}
	}
}

// TestKeyedConcurrencyConcurrent: goroutines acquire and release four
// keys in distinct sets; no key ever has more than max holders, and all
// holds are returned.
func TestKeyedConcurrencyConcurrent(t *testing.T) {
	k, _ := NewKeyedConcurrency(1 << 10)
	const max = 3
	var peak [4]atomic.Int64
	var held [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20_000 {
				j := (g + i) % 4
				h := keyAt(uint64(j))
				if !k.Acquire(h, max) {
					continue
				}
				n := held[j].Add(1)
				for p := peak[j].Load(); n > p && !peak[j].CompareAndSwap(p, n); p = peak[j].Load() {
				}
				held[j].Add(-1)
				k.Release(h)
			}
		}()
	}
	wg.Wait()
	for j := range 4 {
		if p := peak[j].Load(); p > max || p == 0 {
			t.Errorf("key %d: peak %d holders, want 1..%d", j, p, max)
		}
		if n := k.Held(keyAt(uint64(j))); n != 0 {
			t.Errorf("key %d: %d held after every release", j, n)
		}
	}
}

// TestKeyedConcurrencyConcurrentCrowded: many keys through one set, so
// that words are taken, freed and retaken and the overflow word is used;
// every hold is returned.
func TestKeyedConcurrencyConcurrentCrowded(t *testing.T) {
	k, _ := NewKeyedConcurrency(8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20_000 {
				h := uint64((g*7+i)%13+1) << 32
				if k.Acquire(h, 2) {
					k.Release(h)
				}
			}
		}()
	}
	wg.Wait()
	for i := range k.sets[0] {
		if n := k.sets[0][i].Load() & countMask; n != 0 {
			t.Fatalf("word %d holds %d after every release", i, n)
		}
	}
}

func TestKeyedConcurrencyNoAlloc(t *testing.T) {
	k, _ := NewKeyedConcurrency(0)
	var key Key
	key.Reset()
	key.Add([]byte{127, 0, 0, 2})
	h := key.Sum()
	if n := testing.AllocsPerRun(1000, func() {
		if k.Acquire(h, 8) {
			k.Release(h)
		}
	}); n != 0 {
		t.Fatalf("%v allocs per Acquire/Release, want 0", n)
	}
}
