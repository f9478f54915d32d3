package discovery

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Endpoint is one discovered upstream address.
type Endpoint struct {
	Address  string            `json:"address"` // host:port
	Weight   int               `json:"weight"`  // >= 1 (0 in etcd means 1)
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Source is where an upstream's endpoints come from: config picks DNS or
// Etcd.
type Source interface {
	// Run reports each answer (the complete, sorted endpoint set, possibly
	// the same as the last) with a nil error, and each failure with a nil
	// set, until ctx is done. It calls report from its own goroutine, one
	// call at a time.
	Run(ctx context.Context, report func(eps []Endpoint, err error))
}

var (
	_ Source = (*DNS)(nil)
	_ Source = (*Etcd)(nil)
)

// Equal reports whether two sorted endpoint sets have the same addresses
// and weights (metadata is not compared: it does not change routing).
func Equal(a, b []Endpoint) bool {
	return slices.EqualFunc(a, b, func(x, y Endpoint) bool { return x.Address == y.Address && x.Weight == y.Weight })
}

func sortEndpoints(eps []Endpoint) {
	slices.SortFunc(eps, func(a, b Endpoint) int { return strings.Compare(a.Address, b.Address) })
}

// wait waits for d or ctx, and reports whether ctx is still live.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff is the delay before retry n (1, 2, ...) of a failed source: 250ms
// doubling, capped at max.
func backoff(n int, max time.Duration) time.Duration {
	d := 250 * time.Millisecond << min(n-1, 8)
	return min(d, max)
}
