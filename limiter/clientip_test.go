package limiter

import (
	"errors"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", "192.168.1.1", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer ignores header", "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9"},
		{"trusted peer, one hop", "10.1.1.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"forged left entries are skipped", "10.1.1.1", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"trusted chain", "10.1.1.1", []string{"198.51.100.7, 192.168.1.1, 10.2.2.2"}, "198.51.100.7"},
		{"all trusted: leftmost", "10.1.1.1", []string{"10.9.9.9, 10.8.8.8"}, "10.9.9.9"},
		{"no header", "10.1.1.1", nil, "10.1.1.1"},
		{"several lines", "10.1.1.1", []string{"6.6.6.6", "198.51.100.7, 10.3.3.3"}, "198.51.100.7"},
		{"walk into earlier line", "10.1.1.1", []string{"198.51.100.7", "10.3.3.3"}, "198.51.100.7"},
		{"ports", "10.1.1.1", []string{"198.51.100.7:4711, 10.3.3.3:80"}, "198.51.100.7"},
		{"ipv6 with port", "fd00::1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"ipv6 bare", "fd00::1", []string{"2001:db8::7"}, "2001:db8::7"},
		{"garbage stops the walk", "10.1.1.1", []string{"1.2.3.4, unknown, 10.3.3.3"}, "10.3.3.3"},
		{"garbage right away", "10.1.1.1", []string{"_hidden"}, "10.1.1.1"},
		{"zone refused", "10.1.1.1", []string{"fe80::1%eth0"}, "10.1.1.1"},
		{"empty entries", "10.1.1.1", []string{" , 198.51.100.7 ,"}, "198.51.100.7"},
		{"mapped peer", "::ffff:10.1.1.1", []string{"198.51.100.7"}, "198.51.100.7"},
		{"mapped entry", "10.1.1.1", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines [][]byte
			for _, l := range tt.xff {
				lines = append(lines, []byte(l))
			}
			got := trusted.ClientIP(netip.MustParseAddr(tt.peer), lines...)
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClientIPNilTrustsNothing(t *testing.T) {
	var tp *TrustedProxies
	peer := netip.MustParseAddr("10.0.0.1")
	if got := tp.ClientIP(peer, []byte("1.2.3.4")); got != peer {
		t.Fatalf("got %v", got)
	}
}

func TestParseTrustedProxiesErrors(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "nope", "fe80::1%eth0"} {
		if _, err := ParseTrustedProxies([]string{bad}); !errors.Is(err, ErrTrustedCIDR) {
			t.Errorf("%q: %v, want ErrTrustedCIDR", bad, err)
		}
	}
}

func TestClientIPDoesNotAllocate(t *testing.T) {
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.0/8"})
	peer := netip.MustParseAddr("10.1.1.1")
	xff := []byte("6.6.6.6, 2001:db8::7, 10.3.3.3")
	n := testing.AllocsPerRun(1000, func() {
		a := trusted.ClientIP(peer, xff)
		var k Key
		k.Reset()
		k.AddAddr(a)
		_ = k.Sum()
	})
	if n != 0 {
		t.Fatalf("ClientIP allocates %.1f times", n)
	}
}

func BenchmarkClientIP(b *testing.B) {
	trusted, _ := ParseTrustedProxies([]string{"10.0.0.0/8", "172.16.0.0/12"})
	peer := netip.MustParseAddr("10.1.1.1")
	xff := []byte("6.6.6.6, 198.51.100.7, 172.16.3.3, 10.3.3.3")
	b.ReportAllocs()
	for b.Loop() {
		trusted.ClientIP(peer, xff)
	}
}
