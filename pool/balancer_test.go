package pool

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

var allKinds = []string{KindRoundRobin, KindWeightedRoundRobin, KindLeastConn, KindP2C, KindP2CEWMA, KindMaglev, KindRingHash}

func isHash(kind string) bool { return kind == KindMaglev || kind == KindRingHash }

func endpoints(weights ...int) []*Endpoint {
	eps := make([]*Endpoint, len(weights))
	for i, w := range weights {
		eps[i] = NewEndpoint(fmt.Sprintf("10.0.0.%d:80", i+1), w)
	}
	return eps
}

func mustBalancer(t testing.TB, kind string, eps []*Endpoint) Balancer {
	t.Helper()
	cfg := BalancerConfig{Kind: kind}
	if isHash(kind) {
		cfg.Key = KeyPath
	}
	b, err := NewBalancer(cfg, eps)
	if err != nil {
		t.Fatalf("NewBalancer(%q): %v", kind, err)
	}
	return b
}

func TestNewBalancerErrors(t *testing.T) {
	ok := endpoints(1, 1)
	tests := []struct {
		name string
		cfg  BalancerConfig
		eps  []*Endpoint
		want error
	}{
		{"unknown kind", BalancerConfig{Kind: "random"}, ok, ErrUnknownKind},
		{"maglev without key", BalancerConfig{Kind: KindMaglev}, ok, ErrNoKey},
		{"ring_hash without key", BalancerConfig{Kind: KindRingHash}, ok, ErrNoKey},
		{"header key without name", BalancerConfig{Kind: KindMaglev, Key: KeyHeader}, ok, ErrNoKeyName},
		{"cookie key without name", BalancerConfig{Kind: KindRingHash, Key: KeyCookie}, ok, ErrNoKeyName},
		{"bad key kind", BalancerConfig{Kind: KindMaglev, Key: 99}, ok, ErrUnknownKey},
		{"no endpoints", BalancerConfig{}, nil, ErrNoEndpoints},
		{"nil endpoint", BalancerConfig{}, []*Endpoint{ok[0], nil}, ErrNilEndpoint},
		{"zero weight", BalancerConfig{}, []*Endpoint{{Addr: "a:1"}}, ErrBadWeight},
		{"negative weight", BalancerConfig{Kind: KindLeastConn}, endpoints(1, -2), ErrBadWeight},
		{"weights too large", BalancerConfig{Kind: KindWeightedRoundRobin}, endpoints(1, maxWeightTable), ErrWeightsLarge},
		{"weights too large p2c", BalancerConfig{Kind: KindP2C}, endpoints(2, 2*maxWeightTable), ErrWeightsLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBalancer(tc.cfg, tc.eps)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if b != nil {
				t.Fatal("a balancer was returned with the error")
			}
		})
	}
	// Large weights with a common divisor are fine.
	if _, err := NewBalancer(BalancerConfig{Kind: KindWeightedRoundRobin}, endpoints(1000000, 2000000)); err != nil {
		t.Fatalf("weights 1e6, 2e6: %v", err)
	}
}

func names(b Balancer, eps []*Endpoint, n int) string {
	idx := map[*Endpoint]string{}
	for i, e := range eps {
		idx[e] = string(rune('a' + i))
	}
	var s strings.Builder
	for range n {
		e := b.Pick(0)
		if e == nil {
			s.WriteByte('-')
			continue
		}
		s.WriteString(idx[e])
	}
	return s.String()
}

func TestSequences(t *testing.T) {
	tests := []struct {
		name    string
		kind    string
		weights []int
		down    []int
		want    string
	}{
		{"round robin", "", []int{1, 1, 1}, nil, "abcabcabc"},
		{"round robin ignores weights", KindRoundRobin, []int{3, 1}, nil, "abab"},
		{"round robin skips down", KindRoundRobin, []int{1, 1, 1}, []int{1}, "acacac"},
		{"smooth 5,1,1", KindWeightedRoundRobin, []int{5, 1, 1}, nil, "aabacaaaabacaa"},
		{"smooth 2,1 reduced", KindWeightedRoundRobin, []int{20, 10}, nil, "abaaba"},
		{"smooth 1,1,1", KindWeightedRoundRobin, []int{1, 1, 1}, nil, "abcabc"},
		// c's slot costs another ticket: the next one is a, b keeps 1/6.
		{"smooth 5,1,1 c down", KindWeightedRoundRobin, []int{5, 1, 1}, []int{2}, "aabaaaaabaaa"},
		{"all down", KindWeightedRoundRobin, []int{5, 1, 1}, []int{0, 1, 2}, "---"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps := endpoints(tc.weights...)
			for _, i := range tc.down {
				eps[i].SetActiveHealthy(false)
			}
			b := mustBalancer(t, tc.kind, eps)
			if got := names(b, eps, len(tc.want)); got != tc.want {
				t.Fatalf("sequence %s, want %s", got, tc.want)
			}
		})
	}
}

// shares picks n times and returns each endpoint's fraction, ending every
// request at once (an idle pool) unless hold is set.
func shares(b Balancer, eps []*Endpoint, n int, keyed bool) []float64 {
	count := map[*Endpoint]int{}
	for i := range n {
		key := uint64(0)
		if keyed {
			key = HashKey(fmt.Appendf(nil, "/k/%d", i))
		}
		e := b.Pick(key)
		count[e]++
	}
	out := make([]float64, len(eps))
	for i, e := range eps {
		out[i] = float64(count[e]) / float64(n)
	}
	return out
}

func TestWeightedShares(t *testing.T) {
	weights := []int{5, 3, 1, 1}
	for _, kind := range allKinds {
		if kind == KindRoundRobin {
			continue
		}
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(weights...)
			b := mustBalancer(t, kind, eps)
			got := shares(b, eps, 40000, isHash(kind))
			for i, w := range weights {
				want := float64(w) / 10
				if math.Abs(got[i]-want) > 0.03 {
					t.Fatalf("endpoint %d (weight %d): share %.3f, want %.2f ± 0.03 (all %.3f)", i, w, got[i], want, got)
				}
			}
		})
	}
}

// With one endpoint down, the others keep shares proportional to weight.
func TestUnhealthySkipped(t *testing.T) {
	weights := []int{2, 1, 1, 4}
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(weights...)
			eps[3].SetActiveHealthy(false)
			b := mustBalancer(t, kind, eps)
			got := shares(b, eps, 40000, isHash(kind))
			if got[3] != 0 {
				t.Fatalf("down endpoint got share %.3f", got[3])
			}
			want := []float64{0.5, 0.25, 0.25}
			if kind == KindRoundRobin {
				want = []float64{1. / 3, 1. / 3, 1. / 3}
			}
			for i := range 3 {
				if math.Abs(got[i]-want[i]) > 0.04 {
					t.Fatalf("shares %.3f, want %.3f ± 0.04", got, want)
				}
			}
		})
	}
}

func TestAllDownNil(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(3, 1, 2)
			b := mustBalancer(t, kind, eps)
			for i, e := range eps {
				if i != 1 {
					e.SetActiveHealthy(false)
				}
			}
			for k := range 100 {
				if got := b.Pick(uint64(k) * 0x9e3779b97f4a7c15); got != eps[1] {
					t.Fatalf("one healthy: Pick = %v, want %s", got, eps[1].Addr)
				}
			}
			eps[1].SetActiveHealthy(false)
			for k := range 100 {
				if got := b.Pick(uint64(k)); got != nil {
					t.Fatalf("all down: Pick = %s, want nil", got.Addr)
				}
			}
		})
	}
}

func TestLeastConnPrefersLeastLoaded(t *testing.T) {
	eps := endpoints(1, 1, 2)
	b := mustBalancer(t, KindLeastConn, eps)
	for range 3 {
		eps[0].Begin()
	}
	eps[1].Begin()
	for range 3 {
		eps[2].Begin() // 3 in flight at weight 2: 1.5 per unit, above eps[1]'s 1
	}
	for range 100 {
		if got := b.Pick(0); got != eps[1] {
			t.Fatalf("Pick = %s, want %s", got.Addr, eps[1].Addr)
		}
	}
}

// Driven by Begin without End, least_conn and p2c keep in-flight counts per
// unit of weight level.
func TestLoadAwareBalancesInFlight(t *testing.T) {
	for _, kind := range []string{KindLeastConn, KindP2C, KindP2CEWMA} {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(1, 2, 1)
			for _, e := range eps {
				e.Begin()
				e.End(1000, false) // an equal latency sample for p2c_ewma
			}
			b := mustBalancer(t, kind, eps)
			for range 4000 {
				b.Pick(0).Begin()
			}
			for i, e := range eps {
				per := float64(e.InFlight()) / float64(e.Weight)
				if math.Abs(per-1000) > 100 {
					t.Fatalf("endpoint %d: %.0f in flight per weight, want 1000 ± 100", i, per)
				}
			}
		})
	}
}

func TestP2CEWMAPrefersFaster(t *testing.T) {
	eps := endpoints(1, 1)
	eps[0].Begin()
	eps[0].End(50e6, false)
	eps[1].Begin()
	eps[1].End(1e6, false)
	b := mustBalancer(t, KindP2CEWMA, eps)
	got := shares(b, eps, 10000, false)
	if got[1] < 0.95 {
		t.Fatalf("faster endpoint share %.3f, want >= 0.95", got[1])
	}
}

// A new endpoint without latency samples takes one request at a time.
func TestP2CEWMANewEndpointNotFlooded(t *testing.T) {
	eps := endpoints(1, 1)
	eps[0].Begin()
	eps[0].End(1e6, false)
	b := mustBalancer(t, KindP2CEWMA, eps)
	for range 1000 {
		b.Pick(0).Begin()
	}
	if n := eps[1].InFlight(); n != 1 {
		t.Fatalf("new endpoint has %d in flight, want 1", n)
	}
}

func TestPickAllocs(t *testing.T) {
	for _, kind := range allKinds {
		t.Run(kind, func(t *testing.T) {
			eps := endpoints(3, 1, 2, 1)
			eps[1].SetActiveHealthy(false)
			b := mustBalancer(t, kind, eps)
			key := uint64(1)
			n := testing.AllocsPerRun(1000, func() {
				key = key*6364136223846793005 + 1
				e := b.Pick(key)
				e.Begin()
				e.End(1000, false)
			})
			if n != 0 {
				t.Fatalf("Pick allocates %v times per run", n)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, kind := range allKinds {
		b.Run(kind, func(b *testing.B) {
			bal := mustBalancer(b, kind, endpoints(3, 1, 2, 1, 1, 2, 5, 1))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				key := rand.Uint64()
				for pb.Next() {
					key = key*6364136223846793005 + 1442695040888963407
					if bal.Pick(key) == nil {
						b.Fatal("nil pick")
					}
				}
			})
		})
	}
}

// TestEmptyBalancer: an upstream whose discovery has not answered has no
// endpoints; with AllowEmpty every kind builds and picks nothing (503).
func TestEmptyBalancer(t *testing.T) {
	for _, kind := range []string{KindRoundRobin, KindWeightedRoundRobin, KindLeastConn, KindP2C, KindP2CEWMA, KindMaglev, KindRingHash} {
		b, err := NewBalancer(BalancerConfig{Kind: kind, Key: KeyPath, AllowEmpty: true}, nil)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if ep := b.Pick(42); ep != nil {
			t.Errorf("%s: picked %v from no endpoints", kind, ep)
		}
	}
}
