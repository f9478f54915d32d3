//go:build !race

package iplist

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestContainsNoAlloc(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ps := randomPrefixes(r, 10000)
	l := New(ps)
	addrs := []netip.Addr{randomAddr(r, ps), netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("2001:db8::1")}
	for _, a := range addrs {
		if got := testing.AllocsPerRun(1000, func() { _ = l.Contains(a) }); got != 0 {
			t.Errorf("Contains(%s): %v allocs, want 0", a, got)
		}
	}
}
