package pool

import (
	"slices"
	"testing"
	"time"
)

type conn struct{ id int }

// t0 is a loop clock reading (int64 nanoseconds); at is d after it.
var t0 = int64(time.Hour)

func at(d time.Duration) int64 { return t0 + int64(d) }

func TestIdleLIFO(t *testing.T) {
	p := Idle[*conn]{MaxIdle: 4, IdleTimeout: time.Minute}
	cs := []*conn{{1}, {2}, {3}}
	for i, c := range cs {
		if _, ev := p.Put(c, at(time.Duration(i)*time.Second)); ev {
			t.Fatal("evicted below MaxIdle")
		}
	}
	for _, want := range []int{3, 2, 1} {
		c, ok := p.Get(at(10 * time.Second))
		if !ok || c.id != want {
			t.Fatalf("Get = %v, %v; want conn %d", c, ok, want)
		}
	}
	if _, ok := p.Get(t0); ok || p.Len() != 0 {
		t.Fatal("Get on empty succeeded")
	}
}

func TestIdleMaxIdleEvictsOldest(t *testing.T) {
	tests := []struct {
		name    string
		max     int
		puts    int
		evicted []int
		left    []int // Get order
	}{
		{"within", 3, 3, nil, []int{3, 2, 1}},
		{"over by two", 3, 5, []int{1, 2}, []int{5, 4, 3}},
		{"keep none", -1, 2, []int{1, 2}, nil},
		{"default", 0, DefaultMaxIdle + 1, []int{1}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Idle[*conn]{MaxIdle: tc.max}
			var evicted []int
			for i := 1; i <= tc.puts; i++ {
				if c, ok := p.Put(&conn{i}, t0); ok {
					evicted = append(evicted, c.id)
				}
			}
			if !slices.Equal(evicted, tc.evicted) {
				t.Fatalf("evicted %v, want %v", evicted, tc.evicted)
			}
			if tc.left == nil {
				return
			}
			var left []int
			for c, ok := p.Get(t0); ok; c, ok = p.Get(t0) {
				left = append(left, c.id)
			}
			if !slices.Equal(left, tc.left) {
				t.Fatalf("left %v, want %v", left, tc.left)
			}
		})
	}
}

func TestIdleExpire(t *testing.T) {
	p := Idle[*conn]{MaxIdle: 8, IdleTimeout: 10 * time.Second}
	for i := range 5 {
		p.Put(&conn{i + 1}, at(time.Duration(i)*time.Second)) // idle since t0+0s..4s
	}
	var closed []int
	p.Expire(at(12500*time.Millisecond), func(c *conn) { closed = append(closed, c.id) })
	if !slices.Equal(closed, []int{1, 2, 3}) {
		t.Fatalf("closed %v, want [1 2 3]", closed)
	}
	if p.Len() != 2 {
		t.Fatalf("Len = %d, want 2", p.Len())
	}
	// Get never hands out an expired connection; it leaves them to Expire.
	if c, ok := p.Get(at(time.Minute)); ok {
		t.Fatalf("Get returned expired conn %d", c.id)
	}
	if p.Len() != 2 {
		t.Fatalf("Get dropped expired conns: Len = %d", p.Len())
	}
	if c, ok := p.Get(at(14 * time.Second)); !ok || c.id != 5 {
		t.Fatalf("Get = %v, %v; want conn 5", c, ok)
	}
}

func TestIdleRemove(t *testing.T) {
	p := Idle[*conn]{MaxIdle: 3}
	cs := []*conn{{1}, {2}, {3}, {4}}
	for _, c := range cs {
		p.Put(c, t0) // 1 evicted; ring wrapped
	}
	if p.Remove(cs[0]) {
		t.Fatal("removed a conn that was evicted")
	}
	if !p.Remove(cs[2]) {
		t.Fatal("did not remove conn 3")
	}
	p.Put(&conn{5}, t0)
	var left []int
	for c, ok := p.Get(t0); ok; c, ok = p.Get(t0) {
		left = append(left, c.id)
	}
	if !slices.Equal(left, []int{5, 4, 2}) {
		t.Fatalf("left %v, want [5 4 2]", left)
	}
}

func TestIdleAllocs(t *testing.T) {
	p := Idle[*conn]{MaxIdle: 4}
	cs := []*conn{{1}, {2}, {3}, {4}, {5}}
	for _, c := range cs {
		p.Put(c, t0)
	}
	n := testing.AllocsPerRun(1000, func() {
		c, _ := p.Get(t0)
		p.Put(c, t0)
		p.Put(cs[4], t0) // full: evicts
		p.Remove(cs[4])
		p.Expire(t0, func(*conn) {})
	})
	if n != 0 {
		t.Fatalf("Idle Get/Put/Remove/Expire allocate %v times per run", n)
	}
}

func TestConnsAccounting(t *testing.T) {
	p := Conns[*conn]{Limits: Limits{MaxConns: 2, MaxIdle: 1, MaxRequests: 2, IdleTimeout: time.Second}}
	if _, ok := p.Get(t0); ok {
		t.Fatal("Get on empty")
	}
	a, b := &conn{1}, &conn{2}
	p.Dialed()
	p.Dialed()
	if p.CanDial() {
		t.Fatal("CanDial at MaxConns")
	}
	if c, ok := p.Release(a, 1, t0); ok {
		t.Fatalf("Release closed %d below MaxIdle", c.id)
	}
	if c, ok := p.Release(b, 1, t0); !ok || c != a || p.Active() != 1 {
		t.Fatalf("Release over MaxIdle: %v, %v, active %d; want conn 1 evicted, active 1", c, ok, p.Active())
	}
	if got, ok := p.Get(t0); !ok || got != b {
		t.Fatalf("Get = %v, want conn 2", got)
	}
	if c, ok := p.Release(b, 2, t0); !ok || c != b || p.Active() != 0 {
		t.Fatalf("Release at MaxRequests: %v, %v, active %d; want conn 2 closed, active 0", c, ok, p.Active())
	}
	p.Dialed()
	p.Release(a, 1, t0)
	p.Expire(at(2*time.Second), func(*conn) {})
	if p.Active() != 0 || p.IdleLen() != 0 {
		t.Fatalf("after Expire: active %d idle %d", p.Active(), p.IdleLen())
	}
	p.Dialed()
	p.Release(a, 1, t0)
	p.Closed(a) // upstream closed it while idle
	if p.Active() != 0 || p.IdleLen() != 0 || !p.CanDial() {
		t.Fatalf("after Closed: active %d idle %d", p.Active(), p.IdleLen())
	}
	// A retired endpoint: every idle connection closes at once, fresh or
	// not; a busy one stays counted.
	p.Limits.MaxIdle = 2
	p.Dialed()
	p.Dialed()
	p.Dialed()
	p.Release(a, 1, t0)
	p.Release(b, 1, t0)
	var closed []int
	p.CloseIdle(func(c *conn) { closed = append(closed, c.id) })
	if !slices.Equal(closed, []int{1, 2}) || p.Active() != 1 || p.IdleLen() != 0 {
		t.Fatalf("after CloseIdle: closed %v active %d idle %d; want [1 2], 1, 0", closed, p.Active(), p.IdleLen())
	}
}

func TestLimitsReusable(t *testing.T) {
	tests := []struct {
		name   string
		max    int
		served int
		want   bool
	}{
		{"default below", 0, DefaultMaxRequests - 1, true},
		{"default at", 0, DefaultMaxRequests, false},
		{"set below", 5, 4, true},
		{"set at", 5, 5, false},
		{"unlimited", -1, 1 << 30, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Limits{MaxRequests: tc.max}).Reusable(tc.served); got != tc.want {
				t.Fatalf("Reusable(%d) = %v", tc.served, got)
			}
		})
	}
}

func BenchmarkIdleGetPut(b *testing.B) {
	p := Idle[*conn]{MaxIdle: 16}
	for i := range 8 {
		p.Put(&conn{i}, t0)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, _ := p.Get(t0)
		p.Put(c, t0)
	}
}
