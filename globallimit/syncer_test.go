package globallimit

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/internal/fleettest"
	"github.com/hotpath/hotpath/limiter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// instance is one gateway's side of a global limit: its tracked limiter and
// its Syncer.
type instance struct {
	g *limiter.GCRA
	s *Syncer
}

func newInstance(t *testing.T, addr string, cfg limiter.Config, share float64, interval time.Duration, clock func() int64) *instance {
	t.Helper()
	cfg.Track = true
	g, err := limiter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Name: "test", Addrs: []string{addr}, SyncInterval: interval,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.Bind([]Limit{{Name: "route", GCRA: g, Share: share}}, clock)
	s.Start()
	t.Cleanup(s.Close)
	return &instance{g: g, s: s}
}

// waitUp polls until every syncer reached Redis.
func waitUp(t *testing.T, up bool, is ...*instance) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, in := range is {
		for in.s.Stats().Up != up {
			if time.Now().After(deadline) {
				t.Fatalf("syncer never went up=%v: %+v", up, in.s.Stats())
			}
			time.Sleep(5 * time.Millisecond) // poll the syncer's state
		}
	}
}

// offer drives each instance with requests for one key from its own
// goroutine, 20 per millisecond tick, for d, and returns what each admitted.
// onTick, if set, runs on the first instance's goroutine after each tick;
// the load stops early when it returns true.
func offer(is []*instance, clock func() int64, d time.Duration, onTick func() bool) []int64 {
	admitted := make([]int64, len(is))
	var wg sync.WaitGroup
	var stop atomic.Bool
	start := time.Now()
	for i, in := range is {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := []byte("client")
			tick := time.NewTicker(time.Millisecond) // pacing, not waiting: an open-loop load
			defer tick.Stop()
			for time.Since(start) < d && !stop.Load() {
				<-tick.C
				now := clock()
				for range 20 {
					if in.g.Allow(key, now).Allowed {
						admitted[i]++
					}
				}
				if i == 0 && onTick != nil && onTick() {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return admitted
}

// TestTwoInstancesShareTheLimit loads two instances far past a shared
// 200 req/s limit (20 000 req/s each). Apart, they would admit twice the
// limit; together the fleet admits it, within the requests one sync
// interval lets each instance admit before it hears of the other's (paid
// back at the next sync). The bound is loose on purpose: the figure with
// its ±5% is measured by BenchmarkFleet, not asserted here.
func TestTwoInstancesShareTheLimit(t *testing.T) {
	r := fleettest.Redis(t)
	epoch := time.Now()
	clock := func() int64 { return int64(time.Since(epoch)) }
	cfg := limiter.Config{Rate: 200, Burst: 20, Slots: 64}
	is := []*instance{
		newInstance(t, r.Addr, cfg, 0.5, 20*time.Millisecond, clock),
		newInstance(t, r.Addr, cfg, 0.5, 20*time.Millisecond, clock),
	}
	waitUp(t, true, is...)
	before := commandCalls(t, r.Addr)
	const run = 2 * time.Second
	got := offer(is, clock, run, nil)
	total := got[0] + got[1]
	limit := 200*run.Seconds() + 20
	t.Logf("admitted %d + %d = %d in %v (limit %.0f incl. burst)", got[0], got[1], total, run, limit)
	if float64(total) > 1.5*limit {
		t.Errorf("the fleet admitted %d, over 1.5x the shared limit %.0f: the instances do not share it", total, limit)
	}
	if float64(total) < 0.5*limit {
		t.Errorf("the fleet admitted %d, under half the limit %.0f", total, limit)
	}
	if got[0] == 0 || got[1] == 0 {
		t.Errorf("one instance admitted nothing: %v", got)
	}
	calls := commandCalls(t, r.Addr) - before
	t.Logf("redis commands: %d (%.4f per admitted request), syncs %+v %+v", calls, float64(calls)/float64(total), is[0].s.Stats(), is[1].s.Stats())
}

// commandCalls sums the calls of every command in INFO commandstats
// (script-internal calls included).
func commandCalls(t *testing.T, addr string) int64 {
	t.Helper()
	info, err := fleettest.RedisCommand(addr, "INFO commandstats")
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		_, rest, ok := strings.Cut(line, ":calls=")
		if !ok || !strings.HasPrefix(line, "cmdstat_") || strings.HasPrefix(line, "cmdstat_info:") {
			continue
		}
		v, _, _ := strings.Cut(rest, ",")
		c, _ := strconv.ParseInt(v, 10, 64)
		n += c
	}
	return n
}

// TestFallbackAndRecovery kills Redis under load: decisions go on (no
// request waits or fails), the limit falls back to the local share once,
// and the syncer goes back to sharing when Redis returns.
func TestFallbackAndRecovery(t *testing.T) {
	r := fleettest.Redis(t)
	epoch := time.Now()
	clock := func() int64 { return int64(time.Since(epoch)) }
	in := newInstance(t, r.Addr, limiter.Config{Rate: 100, Burst: 10, Slots: 64}, 0.5, 10*time.Millisecond, clock)
	waitUp(t, true, in)

	killed, fellBack, restarted := false, false, false
	offer([]*instance{in}, clock, time.Minute, func() bool {
		switch {
		case !killed:
			killed = true
			r.Kill()
		case !fellBack:
			fellBack = !in.s.Stats().Up
		case !restarted:
			restarted = true
			r.Restart()
		default:
			return in.s.Stats().Up
		}
		return false
	})
	if !fellBack || !in.s.Stats().Up {
		t.Fatalf("fell back %v, up again %v: %+v", fellBack, in.s.Stats().Up, in.s.Stats())
	}
	st := in.s.Stats()
	if st.Fallbacks != 1 || st.Failures < 1 {
		t.Errorf("stats %+v: want one fallback", st)
	}
}

func TestLocalShareWhileDown(t *testing.T) {
	epoch := time.Now()
	clock := func() int64 { return int64(time.Since(epoch)) }
	// Nothing listens there: the syncer never reaches Redis.
	in := newInstance(t, "127.0.0.1:1", limiter.Config{Rate: 10, Burst: 10, Slots: 64}, 0.5, 10*time.Millisecond, clock)
	n := 0
	for range 100 {
		if in.g.Allow([]byte("k"), clock()).Allowed {
			n++
		}
	}
	if n != 5 {
		t.Errorf("admitted %d of a burst of 10 with share 1/2, want 5", n)
	}
}

func TestFailOpenWhileDown(t *testing.T) {
	epoch := time.Now()
	clock := func() int64 { return int64(time.Since(epoch)) }
	in := newInstance(t, "127.0.0.1:1", limiter.Config{Rate: 10, Burst: 10, Slots: 64}, 0, 10*time.Millisecond, clock)
	for i := range 100 {
		if !in.g.Allow([]byte("k"), clock()).Allowed {
			t.Fatalf("request %d refused by a fail_open limit whose redis is down", i)
		}
	}
}
