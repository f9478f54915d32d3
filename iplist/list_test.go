package iplist

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func mustPrefixes(t testing.TB, entries ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestContains(t *testing.T) {
	cases := []struct {
		name    string
		entries []string
		in      []string
		out     []string
		ranges  int
	}{
		{name: "empty", out: []string{"10.0.0.1", "::1"}},
		{
			name:    "v4-cidr",
			entries: []string{"10.0.0.0/8"},
			in:      []string{"10.0.0.0", "10.255.255.255", "10.1.2.3", "::ffff:10.1.2.3"},
			out:     []string{"9.255.255.255", "11.0.0.0", "::a00:1"},
			ranges:  1,
		},
		{
			name:    "v4-single-addresses",
			entries: []string{"192.0.2.7", "192.0.2.9/32"},
			in:      []string{"192.0.2.7", "192.0.2.9"},
			out:     []string{"192.0.2.8", "192.0.2.6", "192.0.2.10"},
			ranges:  2,
		},
		{
			name:    "unmasked-prefix",
			entries: []string{"10.1.2.3/8"},
			in:      []string{"10.200.0.1"},
			out:     []string{"11.0.0.0"},
			ranges:  1,
		},
		{
			name:    "overlap-and-adjacency-merge",
			entries: []string{"10.0.0.0/9", "10.128.0.0/9", "10.0.0.0/16", "11.0.0.0/8", "13.0.0.0/8"},
			in:      []string{"10.0.0.0", "11.255.255.255", "13.0.0.1"},
			out:     []string{"12.0.0.0", "14.0.0.0"},
			ranges:  2, // 10.0.0.0-11.255.255.255, 13/8
		},
		{
			name:    "v4-everything",
			entries: []string{"0.0.0.0/0"},
			in:      []string{"0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4"},
			out:     []string{"::1", "2001:db8::1"},
			ranges:  1,
		},
		{
			name:    "v6-cidr",
			entries: []string{"2001:db8::/32", "fd00::/8"},
			in:      []string{"2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "fdab::1"},
			out:     []string{"2001:db9::", "2001:db7:ffff::", "fe00::", "10.0.0.1"},
			ranges:  2,
		},
		{
			name:    "v6-long-prefixes",
			entries: []string{"2001:db8::1/128", "2001:db8::100/120", "2001:db8:0:0:8000::/65"},
			in:      []string{"2001:db8::1", "2001:db8::1ff", "2001:db8::8000:0:0:1", "2001:db8::ffff:ffff:ffff:ffff"},
			out:     []string{"2001:db8::2", "2001:db8::200", "2001:db8::7fff:ffff:ffff:ffff"},
			ranges:  3,
		},
		{
			name:    "v6-everything-and-top",
			entries: []string{"::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"},
			in:      []string{"::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			out:     []string{"0.0.0.0", "8.8.8.8"},
			ranges:  1,
		},
		{
			name:    "v4-mapped-entry-is-v4",
			entries: []string{"::ffff:192.0.2.0/120"},
			in:      []string{"192.0.2.1", "::ffff:192.0.2.200"},
			out:     []string{"192.0.3.0"},
			ranges:  1,
		},
		{
			name:    "zoned-lookup",
			entries: []string{"fe80::/10"},
			in:      []string{"fe80::1%eth0"},
			ranges:  1,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := New(mustPrefixes(t, c.entries...))
			for _, s := range c.in {
				if !l.Contains(netip.MustParseAddr(s)) {
					t.Errorf("%s not in %v", s, c.entries)
				}
			}
			for _, s := range c.out {
				if l.Contains(netip.MustParseAddr(s)) {
					t.Errorf("%s in %v", s, c.entries)
				}
			}
			if got := l.Ranges(); got != c.ranges {
				t.Errorf("%d ranges, want %d", got, c.ranges)
			}
			if got := l.Len(); got != len(c.entries) {
				t.Errorf("Len %d, want %d", got, len(c.entries))
			}
		})
	}
}

func TestNilAndInvalid(t *testing.T) {
	var l *List
	if l.Contains(netip.MustParseAddr("10.0.0.1")) || l.Len() != 0 || l.Ranges() != 0 {
		t.Fatal("nil list is not empty")
	}
	l = New([]netip.Prefix{{}, netip.MustParsePrefix("10.0.0.0/8")})
	if l.Contains(netip.Addr{}) {
		t.Fatal("the invalid address is in a list")
	}
	if l.Len() != 1 {
		t.Fatalf("Len %d: the invalid prefix was counted", l.Len())
	}
}

func TestParsePrefix(t *testing.T) {
	cases := []struct {
		name, in, want string
		err            bool
	}{
		{name: "cidr", in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{name: "masked", in: " 10.9.9.9/8 ", want: "10.0.0.0/8"},
		{name: "v4-addr", in: "192.0.2.7", want: "192.0.2.7/32"},
		{name: "v6-addr", in: "2001:db8::1", want: "2001:db8::1/128"},
		{name: "v6-cidr", in: "2001:db8::/32", want: "2001:db8::/32"},
		{name: "zone", in: "fe80::1%eth0", err: true},
		{name: "host-name", in: "example.com", err: true},
		{name: "bad-bits", in: "10.0.0.0/33", err: true},
		{name: "empty", in: "", err: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParsePrefix(c.in)
			if c.err {
				if !errors.Is(err, ErrEntry) {
					t.Fatalf("err %v, want ErrEntry", err)
				}
				return
			}
			if err != nil || p.String() != c.want {
				t.Fatalf("%v, %v; want %s", p, err, c.want)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	ps, err := ParseLines([]byte("# blocklist\n10.0.0.0/8\n\n  192.0.2.7   # one host\r\n2001:db8::/32"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[1].String() != "192.0.2.7/32" {
		t.Fatalf("%v", ps)
	}
	_, err = ParseLines([]byte("10.0.0.0/8\n\nnot-an-address\n"))
	var le *LineError
	if !errors.As(err, &le) || le.Line != 3 || le.Text != "not-an-address" || !errors.Is(err, ErrEntry) {
		t.Fatalf("err %v", err)
	}
}

// randomPrefixes returns n random prefixes, a mix of IPv4 (/8 to /32) and
// IPv6 (/16 to /128), as big block lists are.
func randomPrefixes(r *rand.Rand, n int) []netip.Prefix {
	ps := make([]netip.Prefix, n)
	for i := range ps {
		ps[i] = randomPrefix(r)
	}
	return ps
}

func randomPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(4) > 0 {
		var b [4]byte
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		return netip.PrefixFrom(netip.AddrFrom4(b), 8+r.IntN(25)).Masked()
	}
	var b [16]byte
	b[0], b[1] = 0x20, 0x01
	for j := 2; j < 16; j++ {
		b[j] = byte(r.Uint32())
	}
	return netip.PrefixFrom(netip.AddrFrom16(b), 16+r.IntN(113)).Masked()
}

// randomAddr returns an address inside one of ps half of the time.
func randomAddr(r *rand.Rand, ps []netip.Prefix) netip.Addr {
	if r.IntN(2) == 0 {
		p := ps[r.IntN(len(ps))]
		b := p.Addr().AsSlice()
		for j := p.Bits() / 8; j < len(b); j++ {
			b[j] |= byte(r.Uint32()) & (0xff >> max(p.Bits()-8*j, 0))
		}
		a, _ := netip.AddrFromSlice(b)
		return a
	}
	if r.IntN(4) > 0 {
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	var b [16]byte
	b[0], b[1] = 0x20, 0x01
	for j := 2; j < 16; j++ {
		b[j] = byte(r.Uint32())
	}
	return netip.AddrFrom16(b)
}

// linear is the oracle: a scan of the prefixes.
func linear(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TestContainsMatchesLinearScan: on random lists, Contains agrees with a
// scan of the prefixes for addresses inside and outside them.
func TestContainsMatchesLinearScan(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 10, 100, 1000, 10000} {
		ps := randomPrefixes(r, n)
		l := New(ps)
		if l.Ranges() > n {
			t.Fatalf("%d prefixes became %d ranges", n, l.Ranges())
		}
		for i := 0; i < min(20000, 2e7/n); i++ { // a scan of 10 000 prefixes is slow under -race
			a := randomAddr(r, ps)
			if got, want := l.Contains(a), linear(ps, a); got != want {
				t.Fatalf("n=%d: Contains(%s) = %v, scan says %v", n, a, got, want)
			}
		}
	}
}
