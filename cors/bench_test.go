package cors

import "testing"

// BenchmarkAppendActual is the cost CORS adds to every response of a
// route: an exact origin, a wildcard one, none.
func BenchmarkAppendActual(b *testing.B) {
	p := mustNew(b, Options{AllowOrigins: []string{"https://a.test", "https://b.test", "https://*.c.test"}, ExposeHeaders: []string{"X-Total"}})
	for _, c := range []struct{ name, origin string }{{"exact", "https://b.test"}, {"wildcard", "https://x.c.test"}, {"none", ""}} {
		var origin []byte
		if c.origin != "" {
			origin = []byte(c.origin)
		}
		b.Run(c.name+"/hotpath", func(b *testing.B) {
			dst := make([]byte, 0, 256)
			b.ReportAllocs()
			for b.Loop() {
				dst = p.AppendActual(dst[:0], origin)
			}
			if len(dst) == 0 {
				b.Fatal("nothing appended")
			}
		})
	}
}
