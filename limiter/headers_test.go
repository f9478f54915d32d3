package limiter

import (
	"testing"
)

// decisionAfter returns the Decision of the n-th of n requests for one key
// at one instant under c.
func decisionAfter(tb testing.TB, c Config, n int) Decision {
	tb.Helper()
	g := mustNew(tb, c)
	var d Decision
	for range n {
		d = g.Allow([]byte("k"), 1<<40)
	}
	return d
}

func TestAppendHeaders(t *testing.T) {
	tests := []struct {
		name   string
		c      Config
		n      int
		policy string
		want   string
	}{
		{
			name:   "allowed",
			c:      Config{Rate: 100.0 / 60, Burst: 100}, // T = 0.6 s
			n:      58,                                   // 58 × 0.6 s = 34.8 s to refill
			policy: "default",
			want:   "RateLimit-Policy: \"default\";q=100;w=60\r\nRateLimit: \"default\";r=42;t=35\r\n",
		},
		{
			name:   "rejected",
			c:      Config{Rate: 1 / 1.2, Burst: 50}, // T = 1.2 s, next admission in 1.2 s
			n:      51,
			policy: "per-ip",
			want: "RateLimit-Policy: \"per-ip\";q=50;w=60\r\nRateLimit: \"per-ip\";r=0;t=2\r\n" +
				"Retry-After: 2\r\n",
		},
		{
			name:   "shadow: limited but allowed, no Retry-After",
			c:      Config{Rate: 1, Burst: 1, Shadow: true},
			n:      2,
			policy: "p",
			want:   "RateLimit-Policy: \"p\";q=1;w=1\r\nRateLimit: \"p\";r=0;t=1\r\n",
		},
		{
			name:   "escaped policy, sub-second window",
			c:      Config{Rate: 100, Burst: 5}, // 10 ms to refill, 50 ms window
			n:      1,
			policy: `a"b\c`,
			want:   "RateLimit-Policy: \"a\\\"b\\\\c\";q=5;w=1\r\nRateLimit: \"a\\\"b\\\\c\";r=4;t=1\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendHeaders(nil, decisionAfter(t, tt.c, tt.n), tt.policy)); got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestAppendHeadersDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	d := decisionAfter(t, Config{Rate: 100.0 / 60, Burst: 100}, 101)
	if n := testing.AllocsPerRun(1000, func() { buf = AppendHeaders(buf[:0], d, "default") }); n != 0 {
		t.Fatalf("allocates %.1f", n)
	}
}

func BenchmarkAppendHeaders(b *testing.B) {
	buf := make([]byte, 0, 256)
	d := decisionAfter(b, Config{Rate: 100.0 / 60, Burst: 100}, 101)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeaders(buf[:0], d, "default")
	}
}
