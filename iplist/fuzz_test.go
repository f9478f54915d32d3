package iplist

import (
	"net/netip"
	"testing"
)

// FuzzContains builds a list from up to eight prefixes taken from the
// input and checks Contains against a scan of them for addresses taken
// from the rest.
func FuzzContains(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 8, 10, 1, 2, 3, 11, 0, 0, 0})
	f.Add([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		var ps []netip.Prefix
		take := func(n int) []byte {
			if len(in) < n {
				return nil
			}
			b := in[:n]
			in = in[n:]
			return b
		}
		for len(ps) < 8 && len(in) > 0 {
			kind := in[0]
			in = in[1:]
			size := 4
			if kind&1 == 1 {
				size = 16
			}
			b := take(size + 1)
			if b == nil {
				break
			}
			a, _ := netip.AddrFromSlice(b[:size])
			ps = append(ps, netip.PrefixFrom(a, int(b[size])%(8*size+1)))
		}
		l := New(ps)
		for {
			b := take(4)
			if b == nil {
				return
			}
			a := netip.AddrFrom4([4]byte(b))
			if got, want := l.Contains(a), linear(ps, a); got != want {
				t.Fatalf("Contains(%s) = %v, scan says %v (%v)", a, got, want, ps)
			}
		}
	})
}
