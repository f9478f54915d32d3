package metrics

import (
	"testing"

	"github.com/hotpath/hotpath/parser"
)

func BenchmarkRecordRequest(b *testing.B) {
	c := New(Options{Loops: 1})
	tab, _ := c.Install(Labels{Routes: []string{"r0", "r1", "r2"}, Upstreams: []string{"u0", "u1"}})
	l, sh := c.Loop(0), tab.Shard(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		recordRequest(l, sh, i&1, i&1)
	}
}

// BenchmarkRequestPath is the Go work of one proxied request outside the
// syscalls (parse the request head, parse the response head) with and
// without the metrics it records: the difference is the metrics' cost.
func BenchmarkRequestPath(b *testing.B) {
	reqBuf := []byte("GET /api/v1/users/42?fields=name HTTP/1.1\r\nHost: example.com\r\n" +
		"User-Agent: hotload/1.0\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n\r\n")
	respBuf := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 64\r\n" +
		"Date: Sun, 22 Nov 2026 10:00:00 GMT\r\nServer: hotecho\r\n\r\n")
	c := New(Options{Loops: 1})
	tab, _ := c.Install(Labels{Routes: []string{"api"}, Upstreams: []string{"backend"}})
	l, sh := c.Loop(0), tab.Shard(0)
	for _, on := range []bool{false, true} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			var req parser.Request
			var resp parser.Response
			b.ReportAllocs()
			for b.Loop() {
				req.Reset()
				if _, err := req.Parse(reqBuf); err != nil {
					b.Fatal(err)
				}
				resp.Reset()
				if _, err := resp.Parse(respBuf, false); err != nil {
					b.Fatal(err)
				}
				if on {
					recordRequest(l, sh, 0, 0)
				}
			}
		})
	}
}
