package limiter

import (
	"testing"
	"time"
)

func TestAppendHeaders(t *testing.T) {
	tests := []struct {
		name   string
		d      Decision
		policy string
		want   string
	}{
		{
			name:   "allowed",
			d:      Decision{Allowed: true, Limit: 100, Remaining: 42, Reset: 35 * time.Second, Window: 60 * time.Second},
			policy: "default",
			want:   "RateLimit-Policy: \"default\";q=100;w=60\r\nRateLimit: \"default\";r=42;t=35\r\n",
		},
		{
			name: "rejected",
			d: Decision{Limited: true, Limit: 100, Remaining: 0, Reset: 60 * time.Second,
				RetryAfter: 1200 * time.Millisecond, Window: 60 * time.Second},
			policy: "per-ip",
			want: "RateLimit-Policy: \"per-ip\";q=100;w=60\r\nRateLimit: \"per-ip\";r=0;t=2\r\n" +
				"Retry-After: 2\r\n",
		},
		{
			name:   "shadow: limited but allowed, no Retry-After",
			d:      Decision{Allowed: true, Limited: true, Limit: 1, RetryAfter: time.Second, Window: time.Second},
			policy: "p",
			want:   "RateLimit-Policy: \"p\";q=1;w=1\r\nRateLimit: \"p\";r=0;t=1\r\n",
		},
		{
			name:   "escaped policy, sub-second window",
			d:      Decision{Allowed: true, Limit: 5, Remaining: 4, Reset: 10 * time.Millisecond, Window: 50 * time.Millisecond},
			policy: `a"b\c`,
			want:   "RateLimit-Policy: \"a\\\"b\\\\c\";q=5;w=1\r\nRateLimit: \"a\\\"b\\\\c\";r=4;t=1\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendHeaders(nil, tt.d, tt.policy)); got != tt.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestAppendHeadersDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 256)
	d := Decision{Limited: true, Limit: 100, RetryAfter: time.Second, Reset: time.Minute, Window: time.Minute}
	if n := testing.AllocsPerRun(1000, func() { buf = AppendHeaders(buf[:0], d, "default") }); n != 0 {
		t.Fatalf("allocates %.1f", n)
	}
}

func BenchmarkAppendHeaders(b *testing.B) {
	buf := make([]byte, 0, 256)
	d := Decision{Limited: true, Limit: 100, RetryAfter: time.Second, Reset: time.Minute, Window: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeaders(buf[:0], d, "default")
	}
}
