package compression

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNegotiate(t *testing.T) {
	both := []Encoding{Zstd, Gzip}
	tests := []struct {
		name    string
		ae      string
		nilAE   bool
		allowed []Encoding
		want    Encoding
	}{
		{"absent", "", true, both, Identity},
		{"empty", "", false, both, Identity},
		{"gzip only", "gzip", false, both, Gzip},
		{"server preference breaks ties", "gzip, zstd", false, both, Zstd},
		{"server preference, other order", "gzip, zstd", false, []Encoding{Gzip, Zstd}, Gzip},
		{"q decides", "zstd;q=0.5, gzip;q=0.8", false, both, Gzip},
		{"q=0 excludes", "zstd;q=0, gzip", false, both, Gzip},
		{"all excluded", "zstd;q=0, gzip;q=0", false, both, Identity},
		{"star", "*", false, both, Zstd},
		{"star with exclusion", "*;q=0.5, zstd;q=0", false, both, Gzip},
		{"star q=0", "*;q=0", false, both, Identity},
		{"named beats star", "*;q=1, zstd;q=0.1", false, both, Gzip},
		{"x-gzip alias", "x-gzip", false, both, Gzip},
		{"case and spaces", " GZip ; Q=1.0 ,  br ", false, both, Gzip},
		{"only unsupported", "br, deflate", false, both, Identity},
		{"not allowed", "zstd", false, []Encoding{Gzip}, Identity},
		{"malformed q is zero", "zstd;q=abc, gzip;q=0.1", false, both, Gzip},
		{"q above one is malformed", "zstd;q=2, gzip", false, both, Gzip},
		{"three decimals", "zstd;q=0.001, gzip;q=0.002", false, both, Gzip},
		{"other params", "zstd;level=3;q=0.9, gzip;q=0.95", false, both, Gzip},
		{"duplicate takes the max", "gzip;q=0, gzip;q=0.5", false, []Encoding{Gzip}, Gzip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae []byte
			if !tt.nilAE {
				ae = []byte(tt.ae)
			}
			if got := Negotiate(ae, tt.allowed...); got != tt.want {
				t.Fatalf("Negotiate(%q) = %v, want %v", tt.ae, got, tt.want)
			}
		})
	}
}

func TestNegotiateDoesNotAllocate(t *testing.T) {
	ae := []byte("gzip;q=0.8, zstd, br;q=0.9, *;q=0.1")
	if n := testing.AllocsPerRun(1000, func() { Negotiate(ae, Zstd, Gzip) }); n != 0 {
		t.Fatalf("allocates %.1f", n)
	}
}

func mustConfig(t testing.TB, o Options) *Config {
	t.Helper()
	c, err := NewConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"gzip level", Options{GzipLevel: 10}, ErrGzipLevel},
		{"zstd level", Options{ZstdLevel: "max"}, ErrZstdLevel},
		{"type without slash", Options{Types: []string{"json"}}, ErrType},
		{"wildcard type", Options{Types: []string{"*/*"}}, ErrType},
		{"defaults", Options{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewConfig(tt.o); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestShould(t *testing.T) {
	c := mustConfig(t, Options{MinLength: 100})
	base := Response{Status: 200, ContentType: []byte("application/json"), ContentLength: 1000}
	tests := []struct {
		name string
		edit func(r *Response)
		want bool
	}{
		{"json", func(r *Response) {}, true},
		{"html with charset", func(r *Response) { r.ContentType = []byte("Text/HTML; charset=utf-8") }, true},
		{"suffix json", func(r *Response) { r.ContentType = []byte("application/problem+json") }, true},
		{"svg", func(r *Response) { r.ContentType = []byte("image/svg+xml") }, true},
		{"png", func(r *Response) { r.ContentType = []byte("image/png") }, false},
		{"no type", func(r *Response) { r.ContentType = nil }, false},
		{"already encoded", func(r *Response) { r.ContentEncoding = []byte("br") }, false},
		{"identity encoding", func(r *Response) { r.ContentEncoding = []byte("identity") }, true},
		{"too small", func(r *Response) { r.ContentLength = 99 }, false},
		{"unknown length streams", func(r *Response) { r.ContentLength = -1 }, true},
		{"no-transform", func(r *Response) { r.CacheControl = []byte("public, No-Transform") }, false},
		{"HEAD", func(r *Response) { r.Head = true }, false},
		{"204", func(r *Response) { r.Status = 204 }, false},
		{"304", func(r *Response) { r.Status = 304 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.edit(&r)
			if got := c.Should(&r); got != tt.want {
				t.Fatalf("Should = %v, want %v", got, tt.want)
			}
		})
	}
	custom := mustConfig(t, Options{Types: []string{"application/vnd.api+json"}})
	if custom.Compressible([]byte("application/json")) || !custom.Compressible([]byte("application/vnd.api+json")) {
		t.Fatal("configured types not honoured")
	}
}

func TestAppendHeaders(t *testing.T) {
	if got := string(AppendHeaders(nil, Zstd)); got != "Content-Encoding: zstd\r\nVary: Accept-Encoding\r\n" {
		t.Fatalf("%q", got)
	}
	if got := string(AppendHeaders(nil, Identity)); got != "Vary: Accept-Encoding\r\n" {
		t.Fatalf("%q", got)
	}
	if Identity.Variant() != 0 || Gzip.Variant() == Zstd.Variant() {
		t.Fatal("variants")
	}
}

// jsonBody is a realistic ~16 KiB API response.
func jsonBody() []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < 16<<10; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"uuid":"%08x-%04x-4%03x","name":"user-%d","email":"user%d@example.com",`+
			`"active":%v,"score":%.3f,"tags":["alpha","beta","tier-%d"],"created_at":"2026-11-%02dT%02d:%02d:00Z"}`,
			1000+i, rng.Uint32(), rng.IntN(65536), rng.IntN(4096), i, i, i%3 != 0, rng.Float64()*100, i%5, 1+i%28, i%24, i%60)
	}
	b.WriteString(`],"next":"/api/v1/users?page=2"}`)
	return b.Bytes()
}

// htmlBody is a ~16 KiB page.
func htmlBody() []byte {
	var b bytes.Buffer
	b.WriteString("<!doctype html><html><head><meta charset=utf-8><title>Catalogue</title>" +
		"<link rel=stylesheet href=/static/site.css></head><body><main><ul class=products>")
	for i := 0; b.Len() < 16<<10; i++ {
		fmt.Fprintf(&b, `<li class="product" data-id="%d"><a href="/p/%d"><img src="/img/%d.webp" alt="Product %d" loading=lazy>`+
			`<h2>Product %d</h2></a><p class=price>%d.%02d EUR</p><button type=button>Add to cart</button></li>`,
			i, i, i, i, i, 10+i*7%90, i*13%100)
	}
	b.WriteString("</ul></main></body></html>")
	return b.Bytes()
}

func decompress(t testing.TB, enc Encoding, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	random := make([]byte, 20000)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	bodies := map[string][]byte{
		"empty": {}, "one byte": {'x'}, "json": jsonBody(), "html": htmlBody(), "random": random,
	}
	configs := []struct {
		name string
		o    Options
		enc  Encoding
	}{
		{"gzip-1", Options{GzipLevel: 1}, Gzip},
		{"gzip-5", Options{GzipLevel: 5}, Gzip},
		{"gzip-9", Options{GzipLevel: 9}, Gzip},
		{"zstd-fastest", Options{ZstdLevel: "fastest"}, Zstd},
		{"zstd-default", Options{ZstdLevel: "default"}, Zstd},
		{"zstd-better", Options{ZstdLevel: "better"}, Zstd},
	}
	chunkings := []int{0 /* whole */, 1, 7, 4096}
	for _, cfg := range configs {
		c := mustConfig(t, cfg.o)
		for name, body := range bodies {
			for _, chunk := range chunkings {
				t.Run(fmt.Sprintf("%s/%s/chunk=%d", cfg.name, name, chunk), func(t *testing.T) {
					if chunk == 1 && len(body) > 5000 {
						body = body[:5000] // 1-byte writes: keep it quick
					}
					var out bytes.Buffer
					s := c.Stream(cfg.enc, &out)
					rest := body
					for len(rest) > 0 {
						n := len(rest)
						if chunk > 0 {
							n = min(chunk, n)
						}
						if _, err := s.Write(rest[:n]); err != nil {
							t.Fatal(err)
						}
						rest = rest[n:]
						if chunk == 7 && len(rest)%1000 < 7 {
							if err := s.Flush(); err != nil { // mid-stream flushes stay valid
								t.Fatal(err)
							}
						}
					}
					if err := s.Close(); err != nil {
						t.Fatal(err)
					}
					if got := decompress(t, cfg.enc, out.Bytes()); !bytes.Equal(got, body) {
						t.Fatalf("round trip: %d bytes in, %d out", len(body), len(got))
					}
				})
			}
		}
	}
}

// A pooled stream compresses into a reused buffer without allocating once
// warm.
func TestStreamDoesNotAllocate(t *testing.T) {
	body := jsonBody()
	for _, enc := range []Encoding{Gzip, Zstd} {
		t.Run(enc.String(), func(t *testing.T) {
			c := mustConfig(t, Options{})
			var out bytes.Buffer
			out.Grow(len(body))
			run := func() {
				out.Reset()
				s := c.Stream(enc, &out)
				_, _ = s.Write(body[:8000])
				_, _ = s.Write(body[8000:])
				_ = s.Close()
			}
			run()
			if n := testing.AllocsPerRun(100, run); n > 0 && !raceEnabled {
				t.Fatalf("allocates %.1f per stream", n)
			}
		})
	}
}

func BenchmarkCompress(b *testing.B) {
	bodies := []struct {
		name string
		body []byte
	}{{"json", jsonBody()}, {"html", htmlBody()}}
	levels := []struct {
		name string
		o    Options
		enc  Encoding
	}{
		{"gzip-1", Options{GzipLevel: 1}, Gzip},
		{"gzip-5", Options{GzipLevel: 5}, Gzip},
		{"gzip-9", Options{GzipLevel: 9}, Gzip},
		{"zstd-fastest", Options{ZstdLevel: "fastest"}, Zstd},
		{"zstd-default", Options{ZstdLevel: "default"}, Zstd},
		{"zstd-better", Options{ZstdLevel: "better"}, Zstd},
	}
	for _, body := range bodies {
		for _, l := range levels {
			b.Run(body.name+"/"+l.name, func(b *testing.B) {
				c := mustConfig(b, l.o)
				var out bytes.Buffer
				out.Grow(len(body.body))
				b.SetBytes(int64(len(body.body)))
				b.ReportAllocs()
				for b.Loop() {
					out.Reset()
					s := c.Stream(l.enc, &out)
					_, _ = s.Write(body.body)
					_ = s.Close()
				}
				b.ReportMetric(float64(out.Len())/float64(len(body.body)), "ratio")
			})
		}
	}
}

func BenchmarkNegotiate(b *testing.B) {
	ae := []byte("gzip, deflate, br, zstd")
	b.ReportAllocs()
	for b.Loop() {
		Negotiate(ae, Zstd, Gzip)
	}
}

// Encode appends the whole compressed body after what dst holds.
func TestEncode(t *testing.T) {
	for _, enc := range []Encoding{Gzip, Zstd} {
		c := mustConfig(t, Options{})
		body := jsonBody()
		out, err := c.Encode(enc, []byte("prefix"), body)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("%v: dst not kept", enc)
		}
		if got := decompress(t, enc, out[len("prefix"):]); !bytes.Equal(got, body) {
			t.Fatalf("%v: round trip: %d bytes in, %d out", enc, len(body), len(got))
		}
	}
}
