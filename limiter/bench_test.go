package limiter

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// xrateLimiters is the usual Go baseline: golang.org/x/time/rate limiters
// created lazily in a map keyed by string, guarded by one mutex.
type xrateLimiters struct {
	mu    sync.Mutex
	m     map[string]*rate.Limiter
	rate  rate.Limit
	burst int
}

func (x *xrateLimiters) allow(key []byte, now time.Time) bool {
	x.mu.Lock()
	l, ok := x.m[string(key)]
	if !ok {
		l = rate.NewLimiter(x.rate, x.burst)
		x.m[string(key)] = l
	}
	x.mu.Unlock()
	return l.AllowN(now, 1)
}

// BenchmarkAllow compares GCRA with x/time/rate under parallel load on 1,
// 1000 and 1e6 keys. Both read the clock once per call. Each goroutine
// walks the prebuilt keys from its own offset.
func BenchmarkAllow(b *testing.B) {
	const r, burst = 1000.0, 100
	for _, nkeys := range []int{1, 1000, 1_000_000} {
		keys := make([][]byte, nkeys)
		for i := range keys {
			keys[i] = []byte("client-" + strconv.Itoa(i))
		}
		b.Run(strconv.Itoa(nkeys), func(b *testing.B) {
			b.Run("hotpath", func(b *testing.B) {
				g := mustNew(b, Config{Rate: r, Burst: burst, Slots: 4 << 20})
				start := time.Now()
				var offset atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(offset.Add(7919)) % nkeys
					for pb.Next() {
						g.Allow(keys[i], int64(time.Since(start)))
						if i++; i == nkeys {
							i = 0
						}
					}
				})
			})
			b.Run("xrate", func(b *testing.B) {
				x := &xrateLimiters{m: map[string]*rate.Limiter{}, rate: r, burst: burst}
				var offset atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(offset.Add(7919)) % nkeys
					for pb.Next() {
						x.allow(keys[i], time.Now())
						if i++; i == nkeys {
							i = 0
						}
					}
				})
			})
		})
	}
}

// BenchmarkAllowHash is the decision alone, one goroutine, a hash already
// computed by the engine's Key.
func BenchmarkAllowHash(b *testing.B) {
	g := mustNew(b, Config{Rate: 1000, Burst: 100, Slots: 1 << 20})
	var now int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now += 1000
		g.AllowHash(uint64(i%4096)*0x9E3779B97F4A7C15, now)
	}
}

func BenchmarkConcurrency(b *testing.B) {
	c, _ := NewConcurrency(1 << 20)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if c.Acquire() {
				c.Release()
			}
		}
	})
}
