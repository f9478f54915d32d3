//go:build !race

package h2

import "testing"

// TestServerConnNoAlloc: a request fed, decoded, checked and answered
// (HEADERS and DATA) allocates nothing once the connection is warm.
func TestServerConnNoAlloc(t *testing.T) {
	for _, bc := range benchCases {
		l := newBenchLoop(t, bc)
		for range 2 * len(bc.blocks) {
			l.run(t) // sizes the buffers
		}
		if got := testing.AllocsPerRun(1000, func() { l.run(t) }); got != 0 {
			t.Errorf("%s: %v allocs per request, want 0", bc.name, got)
		}
	}
}
