package globallimit

import (
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/fleettest"
	"github.com/hotpath/hotpath/limiter"
)

// BenchmarkAllow compares a decision on a local GCRA with one on a global
// limit whose Syncer drains and adopts it against a real Redis every 20ms
// meanwhile (the decision itself never waits on Redis).
func BenchmarkAllow(b *testing.B) {
	r := fleettest.Redis(b)
	epoch := time.Now()
	clock := func() int64 { return int64(time.Since(epoch)) }
	for _, nkeys := range []int{1, 1000} {
		keys := make([][]byte, nkeys)
		for i := range keys {
			keys[i] = []byte("client-" + strconv.Itoa(i))
		}
		for _, impl := range []string{"hotpath", "global"} {
			b.Run(strconv.Itoa(nkeys)+"/"+impl, func(b *testing.B) {
				cfg := limiter.Config{Rate: 1000, Burst: 100, Slots: 1 << 16, Track: impl == "global"}
				g, err := limiter.New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if impl == "global" {
					s, err := New(Options{Name: "bench", Addrs: []string{r.Addr}, SyncInterval: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					s.Bind([]Limit{{Name: "bench", GCRA: g, Share: 0.5}}, clock)
					s.Start()
					defer s.Close()
				}
				var offset atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					i := int(offset.Add(7919)) % nkeys
					var now int64
					for n := 0; pb.Next(); n++ {
						if n%64 == 0 {
							now = clock()
						}
						g.Allow(keys[i], now)
						if i++; i == nkeys {
							i = 0
						}
					}
				})
			})
		}
	}
}
