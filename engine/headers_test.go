package engine

import (
	"testing"

	"github.com/hotpath/hotpath/config"
	"github.com/hotpath/hotpath/parser"
)

func TestHopByHop(t *testing.T) {
	// A Connection option may not remove the fields that frame the message
	// or name its host (request smuggling through "Connection: Content-Length").
	conn := []parser.Header{{Name: []byte("Connection"), Value: []byte("keep-alive, X-Secret ,Upgrade, Content-Length, host")}}
	tests := []struct {
		name string
		hop  bool
	}{
		{"Connection", true}, {"keep-alive", true}, {"TE", true}, {"Trailer", true},
		{"Transfer-Encoding", true}, {"Upgrade", true}, {"Proxy-Authorization", true},
		{"proxy-connection", true}, {"x-secret", true}, {"X-Secret2", false},
		{"Content-Length", false}, {"Host", false}, {"Accept", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hopByHop([]byte(tc.name), conn); got != tc.hop {
				t.Fatalf("hopByHop(%q) = %v, want %v", tc.name, got, tc.hop)
			}
		})
	}
}

// headFixture is a client connection with a parsed request and a compiled
// table, for exercising head rewriting without sockets.
func headFixture(tb testing.TB) *exchange {
	tb.Helper()
	cfg, err := config.Parse("t.yaml", []byte(`
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9"}]
routes:
  - path: /api/*rest
    upstream: app
    strip_prefix: /api
`))
	if err != nil {
		tb.Fatal(err)
	}
	tbl, err := compile(cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{}
	s.tbl.Store(tbl)
	lp := &loop{srv: s}
	d := &exchange{lp: lp, cl: &h1conn{lp: lp, clientIP: []byte("10.1.2.3")}, tbl: tbl}
	raw := []byte("GET /api/users/7?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n" +
		"Connection: keep-alive, X-Hop\r\nX-Hop: 1\r\nX-Forwarded-For: 192.0.2.1\r\nCookie: a=b\r\n\r\n")
	if _, err := d.req.Parse(raw); err != nil {
		tb.Fatal(err)
	}
	d.conn = connectionFields(d.connArr[:0], d.req.Headers)
	return d
}

func TestBuildRequestHead(t *testing.T) {
	d := headFixture(t)
	rt := &route{up: d.tbl.upstreams[0], strip: []byte("/api"), preserveHost: true}
	d.buildRequestHead(rt, d.tbl.upstreams[0].eps[0])
	want := "GET /users/7?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\nCookie: a=b\r\n" +
		"X-Forwarded-For: 192.0.2.1, 10.1.2.3\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: example.com\r\nVia: 1.1 hotpath\r\n\r\n"
	if got := string(d.head); got != want {
		t.Fatalf("head:\n%q\nwant\n%q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { d.buildRequestHead(rt, d.tbl.upstreams[0].eps[0]) }); n != 0 {
		t.Fatalf("buildRequestHead allocates %.1f times", n)
	}
}

func TestWriteResponseHead(t *testing.T) {
	d := headFixture(t)
	d.keepAlive, d.minor = true, 1
	var r parser.Response
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: X-Up\r\nX-Up: 1\r\nKeep-Alive: timeout=4\r\nContent-Length: 3\r\n\r\n")
	if _, err := r.Parse(raw, false); err != nil {
		t.Fatal(err)
	}
	var arr [8]parser.Header
	d.writeResponseHead(&r, arr[:0])
	want := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nVia: 1.1 hotpath\r\n\r\n"
	if got := string(d.out); got != want {
		t.Fatalf("head:\n%q\nwant\n%q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { d.writeResponseHead(&r, arr[:0]) }); n != 0 {
		t.Fatalf("writeResponseHead allocates %.1f times", n)
	}
}

func BenchmarkBuildRequestHead(b *testing.B) {
	d := headFixture(b)
	rt := &route{up: d.tbl.upstreams[0], strip: []byte("/api"), preserveHost: true}
	ep := d.tbl.upstreams[0].eps[0]
	b.ReportAllocs()
	for b.Loop() {
		d.buildRequestHead(rt, ep)
	}
}

func BenchmarkWriteResponseHead(b *testing.B) {
	d := headFixture(b)
	d.keepAlive, d.minor = true, 1
	var r parser.Response
	raw := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Sun, 22 Nov 2026 23:00:00 GMT\r\nServer: up\r\nContent-Length: 3\r\n\r\n")
	if _, err := r.Parse(raw, false); err != nil {
		b.Fatal(err)
	}
	var arr [8]parser.Header
	b.ReportAllocs()
	for b.Loop() {
		d.writeResponseHead(&r, arr[:0])
	}
}
