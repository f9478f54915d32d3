//go:build !race

package cors

import (
	"testing"
	"time"
)

func TestAppendNoAlloc(t *testing.T) {
	p := mustNew(t, Options{
		AllowOrigins:  []string{"https://a.test", "https://*.b.test"},
		AllowMethods:  []string{"*"},
		AllowHeaders:  []string{"*"},
		ExposeHeaders: []string{"X-Total"},
		MaxAge:        time.Hour,
	})
	dst := make([]byte, 0, 1024)
	origin, wild, method, headers := []byte("https://a.test"), []byte("https://x.b.test"), []byte("PUT"), []byte("content-type, x-api-key")
	cases := []struct {
		name string
		fn   func()
	}{
		{"actual", func() { dst = p.AppendActual(dst[:0], origin) }},
		{"actual-wildcard", func() { dst = p.AppendActual(dst[:0], wild) }},
		{"actual-no-origin", func() { dst = p.AppendActual(dst[:0], nil) }},
		{"preflight", func() { dst, _ = p.AppendPreflight(dst[:0], wild, method, headers) }},
	}
	for _, c := range cases {
		if got := testing.AllocsPerRun(1000, c.fn); got != 0 {
			t.Errorf("%s: %v allocs, want 0", c.name, got)
		}
	}
}
