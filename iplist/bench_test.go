package iplist

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"testing"
)

// BenchmarkContains looks up addresses (half inside the list) in lists of
// 10 to 10 000 random prefixes: hotpath's ranges against a scan of the
// prefixes (netip.Prefix.Contains), on the same inputs in one run.
func BenchmarkContains(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		r := rand.New(rand.NewPCG(5, uint64(n)))
		ps := randomPrefixes(r, n)
		l := New(ps)
		addrs := make([]netip.Addr, 1024)
		for i := range addrs {
			addrs[i] = randomAddr(r, ps)
		}
		set := strconv.Itoa(n)
		b.Run(set+"/hotpath", func(b *testing.B) {
			b.ReportAllocs()
			hits, i := 0, 0
			for b.Loop() {
				if l.Contains(addrs[i&1023]) {
					hits++
				}
				i++
			}
			if hits == 0 {
				b.Fatal("no hits")
			}
		})
		b.Run(set+"/linear", func(b *testing.B) {
			b.ReportAllocs()
			hits, i := 0, 0
			for b.Loop() {
				if linear(ps, addrs[i&1023]) {
					hits++
				}
				i++
			}
			if hits == 0 {
				b.Fatal("no hits")
			}
		})
	}
}
