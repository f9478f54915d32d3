package discovery

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/goleak"

	"github.com/hotpath/hotpath/internal/fleettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDNSResolve(t *testing.T) {
	s := fleettest.DNS(t)
	s.Set(t, "api.internal", dns.TypeA, "api.internal. 30 IN A 127.0.0.2", "api.internal. 7 IN A 127.0.0.1")
	s.Set(t, "api.internal", dns.TypeAAAA, "api.internal. 30 IN AAAA ::1")
	s.Set(t, "_api._tcp.internal", dns.TypeSRV,
		"_api._tcp.internal. 20 IN SRV 10 60 8081 a.internal.",
		"_api._tcp.internal. 20 IN SRV 10 0 8082 b.internal.",
		"_api._tcp.internal. 20 IN SRV 20 100 8083 c.internal.") // a fallback priority: not used
	s.Set(t, "a.internal", dns.TypeA, "a.internal. 3 IN A 127.0.0.3")
	s.Set(t, "b.internal", dns.TypeAAAA, "b.internal. 30 IN AAAA ::2")
	s.Set(t, "big._tcp.internal", dns.TypeSRV,
		"big._tcp.internal. 20 IN SRV 0 65535 1 a.internal.", "big._tcp.internal. 20 IN SRV 0 6553 2 a.internal.")
	for _, tc := range []struct {
		name string
		src  DNS
		want []Endpoint
		ttl  time.Duration
	}{
		{name: "A", src: DNS{Name: "api.internal", Type: dns.TypeA, Port: 80},
			want: []Endpoint{{Address: "127.0.0.1:80", Weight: 1}, {Address: "127.0.0.2:80", Weight: 1}}, ttl: 7 * time.Second},
		{name: "AAAA", src: DNS{Name: "api.internal", Type: dns.TypeAAAA, Port: 443},
			want: []Endpoint{{Address: "[::1]:443", Weight: 1}}, ttl: 30 * time.Second},
		{name: "SRV", src: DNS{Name: "_api._tcp.internal", Type: dns.TypeSRV},
			want: []Endpoint{{Address: "127.0.0.3:8081", Weight: 60}, {Address: "[::2]:8082", Weight: 1}}, ttl: 3 * time.Second},
		{name: "SRV weights scaled", src: DNS{Name: "big._tcp.internal", Type: dns.TypeSRV},
			want: []Endpoint{{Address: "127.0.0.3:1", Weight: 1000}, {Address: "127.0.0.3:2", Weight: 100}}, ttl: 3 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.src.Resolver = s.Addr
			got, ttl, err := tc.src.Resolve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !Equal(got, tc.want) || ttl != tc.ttl {
				t.Errorf("got %v ttl %v, want %v ttl %v", got, ttl, tc.want, tc.ttl)
			}
		})
	}
	for _, tc := range []struct {
		name string
		src  DNS
	}{
		{name: "NXDOMAIN", src: DNS{Name: "nope.internal", Type: dns.TypeA, Port: 1}},
		{name: "no server", src: DNS{Name: "api.internal", Type: dns.TypeA, Port: 1, Resolver: "127.0.0.1:1", Timeout: 200 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.src.Resolver == "" {
				tc.src.Resolver = s.Addr
			}
			if _, _, err := tc.src.Resolve(context.Background()); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// reports collects what a Source reports.
type reports struct {
	mu   sync.Mutex
	sets [][]Endpoint
	errs []error
}

func (r *reports) report(eps []Endpoint, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.sets = append(r.sets, eps)
}

// waitFor polls until cond holds on the reports.
func (r *reports) waitFor(t *testing.T, what string, cond func(sets [][]Endpoint, errs []error) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r.sets, r.errs)
		r.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: sets %v errs %v", what, r.sets, r.errs)
		}
		time.Sleep(10 * time.Millisecond) // poll the reports
	}
}

func last(sets [][]Endpoint) []Endpoint {
	if len(sets) == 0 {
		return nil
	}
	return sets[len(sets)-1]
}

// TestDNSRunFollowsTTL changes a record whose TTL is 1s and waits for the
// source to report it; a failing server is reported and the source
// recovers when it answers again.
func TestDNSRunFollowsTTL(t *testing.T) {
	s := fleettest.DNS(t)
	s.Set(t, "api.internal", dns.TypeA, "api.internal. 1 IN A 127.0.0.1")
	src := &DNS{Name: "api.internal", Type: dns.TypeA, Port: 80, Resolver: s.Addr, Refresh: time.Hour}
	var r reports
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx, r.report) }()
	defer func() { cancel(); <-done }()
	r.waitFor(t, "the first answer", func(sets [][]Endpoint, _ []error) bool { return len(sets) == 1 })
	s.Set(t, "api.internal", dns.TypeA, "api.internal. 1 IN A 127.0.0.9")
	r.waitFor(t, "the changed record (TTL 1s, refresh 1h)", func(sets [][]Endpoint, _ []error) bool {
		return Equal(last(sets), []Endpoint{{Address: "127.0.0.9:80", Weight: 1}})
	})
	s.Fail(true)
	r.waitFor(t, "a failure", func(_ [][]Endpoint, errs []error) bool { return len(errs) > 0 })
	s.Fail(false)
	n := len(r.sets)
	r.waitFor(t, "an answer after the failure", func(sets [][]Endpoint, _ []error) bool { return len(sets) > n })
}
