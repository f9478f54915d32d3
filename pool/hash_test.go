package pool

import (
	"fmt"
	"testing"
)

const hashKeys = 20000

func keyOf(i int) uint64 { return HashKey(fmt.Appendf(nil, "/users/%d", i)) }

func assign(b Balancer) []*Endpoint {
	out := make([]*Endpoint, hashKeys)
	for i := range out {
		out[i] = b.Pick(keyOf(i))
	}
	return out
}

func TestHashSameKeySameEndpoint(t *testing.T) {
	for _, kind := range []string{KindMaglev, KindRingHash} {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(1, 2, 1, 3, 1)
			a := assign(mustBalancer(t, kind, eps))
			b := assign(mustBalancer(t, kind, eps)) // rebuilt: same table
			// Same endpoints listed in another order: same mapping.
			rev := []*Endpoint{eps[4], eps[3], eps[2], eps[1], eps[0]}
			c := assign(mustBalancer(t, kind, rev))
			for i := range a {
				if a[i] != b[i] || a[i] != c[i] {
					t.Fatalf("key %d: %s, %s, %s", i, a[i].Addr, b[i].Addr, c[i].Addr)
				}
			}
		})
	}
}

// Ejecting one endpoint moves exactly its keys, spread over the others, and
// they all come back when it recovers.
func TestHashEjectionMovesOnlyItsKeys(t *testing.T) {
	for _, kind := range []string{KindMaglev, KindRingHash} {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(1, 1, 1, 1, 1)
			b := mustBalancer(t, kind, eps)
			before := assign(b)
			victim := eps[2]
			victim.SetActiveHealthy(false)
			during := assign(b)
			moved, owned := 0, 0
			gained := map[*Endpoint]int{}
			for i := range before {
				if before[i] == victim {
					owned++
					gained[during[i]]++
				}
				if before[i] != during[i] {
					moved++
					if before[i] != victim {
						t.Fatalf("key %d moved from healthy %s to %s", i, before[i].Addr, during[i].Addr)
					}
				}
			}
			if moved != owned {
				t.Fatalf("moved %d keys, the ejected endpoint owned %d", moved, owned)
			}
			frac := float64(moved) / hashKeys
			t.Logf("ejecting 1 of 5 moved %.3f of the keys", frac)
			if frac < 0.1 || frac > 0.3 {
				t.Fatalf("ejecting 1 of 5 moved %.3f of the keys, want about 0.2", frac)
			}
			for _, e := range eps {
				if e != victim && gained[e] < owned/8 {
					t.Fatalf("%s took only %d of %d moved keys", e.Addr, gained[e], owned)
				}
			}
			victim.SetActiveHealthy(true)
			after := assign(b)
			for i := range before {
				if before[i] != after[i] {
					t.Fatalf("key %d did not come back: %s, now %s", i, before[i].Addr, after[i].Addr)
				}
			}
		})
	}
}

// Removing one endpoint of N from the config (a rebuilt balancer) moves
// about 1/N of the keys: Maglev's disruption is near minimal, not zero.
func TestHashRemovalDisruption(t *testing.T) {
	for _, kind := range []string{KindMaglev, KindRingHash} {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(1, 1, 1, 1, 1, 1, 1, 1, 1, 1)
			before := assign(mustBalancer(t, kind, eps))
			removed := eps[4]
			rest := append(append([]*Endpoint(nil), eps[:4]...), eps[5:]...)
			after := assign(mustBalancer(t, kind, rest))
			moved := 0
			for i := range before {
				if before[i] != after[i] {
					moved++
				}
			}
			frac := float64(moved) / hashKeys
			t.Logf("removing 1 of 10 moved %.3f of the keys (minimum 0.1)", frac)
			if frac > 0.2 {
				t.Fatalf("removing 1 of 10 moved %.3f of the keys, want <= 0.2", frac)
			}
			_ = removed
		})
	}
}

func TestMaglevTableShares(t *testing.T) {
	weights := []int{1, 2, 3, 10}
	eps := endpoints(weights...)
	m := newMaglev(eps)
	count := make([]int, len(eps))
	for _, o := range m.table {
		count[o]++
	}
	for i, w := range weights {
		want := float64(MaglevTableSize) * float64(w) / 16
		if d := float64(count[i]) - want; d > want*0.01+1 || d < -want*0.01-1 {
			t.Fatalf("endpoint %d (weight %d): %d slots, want %.0f ± 1%%", i, w, count[i], want)
		}
	}
}
