package h2

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// benchCase is a steady-state request: what a client sends for the n-th
// request once its HPACK table is warm. Blocks are cyclable: they either
// refer only to entries the warm-up inserted or use literals without
// indexing, so the same bytes can be fed again and again.
type benchCase struct {
	name   string
	warmup []byte   // a header block sent once first (inserts into the dynamic table)
	blocks [][]byte // the steady blocks, used in turn
}

var benchBody = []byte("hello, world\n")

// benchCases: "h2load" repeats one request, which HPACK turns into a few
// indexed fields; "browser" sends a different path and cookie each time
// (literals, decoded and copied every time) among browser-like fields.
var benchCases = func() []benchCase {
	var out []benchCase
	// h2load: nghttp2 indexes every field of the first request; later
	// ones are indexed fields only (62.. are the dynamic entries).
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", "GET"}, {":path", "/"}, {":scheme", "http"},
		{":authority", "127.0.0.1:8080"}, {"user-agent", "h2load nghttp2/1.52.0"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	warm := append([]byte(nil), buf.Bytes()...)
	buf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":path", "/"}, {":scheme", "http"},
		{":authority", "127.0.0.1:8080"}, {"user-agent", "h2load nghttp2/1.52.0"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	out = append(out, benchCase{name: "h2load", warmup: warm, blocks: [][]byte{append([]byte(nil), buf.Bytes()...)}})

	// browser: the common fields indexed after a warm-up; :path and
	// cookie literal without indexing, different in each of 64 blocks.
	common := [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "www.example.com"},
		{"user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		{"accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		{"accept-language", "en-US,en;q=0.5"}, {"accept-encoding", "gzip, deflate, br, zstd"},
		{"sec-fetch-dest", "document"}, {"sec-fetch-mode", "navigate"}, {"upgrade-insecure-requests", "1"}}
	buf.Reset()
	enc = hpack.NewEncoder(&buf)
	for _, f := range append([][2]string{{":path", "/"}}, common...) {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	warm = append([]byte(nil), buf.Bytes()...)
	bc := benchCase{name: "browser", warmup: warm}
	for i := range 64 {
		buf.Reset()
		for _, f := range common[:3] { // the pseudo-header fields, indexed now
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		b := appendLiteral(append([]byte(nil), buf.Bytes()...), 4, "/articles/"+strconv.Itoa(1000+i)+"/comments?page=2&sort=new")
		buf.Reset()
		for _, f := range common[3:] {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		b = append(b, buf.Bytes()...)
		b = appendLiteral(b, 32, "session="+strconv.Itoa(99999+i*7919)+"; theme=dark; consent=yes; _ga=GA1.2.3456789")
		bc.blocks = append(bc.blocks, b)
	}
	out = append(out, bc)
	return out
}()

// appendLiteral appends a literal field without indexing whose name is
// static entry idx (RFC 7541 §6.2.2), Huffman-coded as x/net would.
func appendLiteral(b []byte, idx int, value string) []byte {
	b = appendInt(b, 4, 0, uint64(idx))
	return appendString(b, []byte(value))
}

// benchLoop is a client and a ServerConn in steady state: each step feeds
// one request (and the WINDOW_UPDATE that keeps the connection window
// open) and answers it.
type benchLoop struct {
	c    *ServerConn
	c0   benchCase
	id   uint32
	in   [][]byte // per block: WINDOW_UPDATE + HEADERS, stream ID patched per step
	step int
}

func newBenchLoop(tb testing.TB, bc benchCase) *benchLoop {
	l := &benchLoop{c: NewServerConn(Limits{}, 1), c0: bc, id: 1}
	in := []byte(Preface)
	in = AppendFrameHeader(in, 0, FrameSettings, 0, 0)
	in = AppendFrameHeader(in, len(bc.warmup), FrameHeaders, FlagEndHeaders|FlagEndStream, 1)
	in = append(in, bc.warmup...)
	if _, ev := l.c.Feed(in, 1); ev.Kind != EventRequest {
		tb.Fatalf("warm-up: %+v", ev)
	}
	l.answer(tb)
	l.id = 3
	for _, b := range bc.blocks {
		f := AppendWindowUpdate(nil, 0, uint32(len(benchBody)))
		f = AppendFrameHeader(f, len(b), FrameHeaders, FlagEndHeaders|FlagEndStream, 0)
		l.in = append(l.in, append(f, b...))
	}
	return l
}

func (l *benchLoop) answer(tb testing.TB) {
	c := l.c
	c.StartHeaders(l.id, 200)
	c.FieldString("content-type", "text/plain")
	c.FieldString("content-length", "13")
	c.EndHeaders(false)
	if n, err := c.WriteData(l.id, benchBody, true, 1); n != len(benchBody) || err != nil {
		tb.Fatalf("WriteData: %d %v", n, err)
	}
	c.ClearOutput()
}

// run does one request.
func (l *benchLoop) run(tb testing.TB) {
	in := l.in[l.step]
	l.step++
	if l.step == len(l.in) {
		l.step = 0
	}
	binary.BigEndian.PutUint32(in[13+5:], l.id) // the HEADERS frame's stream ID
	n, ev := l.c.Feed(in, 1)
	if ev.Kind != EventRequest || n != len(in) {
		tb.Fatalf("step: %d of %d, %+v", n, len(in), ev)
	}
	l.answer(tb)
	l.id += 2
}

func BenchmarkRequest(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name+"/hotpath", func(b *testing.B) {
			l := newBenchLoop(b, bc)
			b.ReportAllocs()
			for b.Loop() {
				l.run(b)
			}
		})
		b.Run(bc.name+"/xnet", func(b *testing.B) {
			// The same work with x/net's Framer and HPACK: read the
			// WINDOW_UPDATE and the HEADERS (decoded by ReadMetaHeaders),
			// write the response HEADERS and DATA.
			var warm bytes.Buffer
			wfr := http2.NewFramer(&warm, nil)
			wfr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: bc.warmup, EndHeaders: true, EndStream: true})
			var inputs [][]byte
			for _, blk := range bc.blocks {
				var w bytes.Buffer
				f := http2.NewFramer(&w, nil)
				f.WriteWindowUpdate(0, uint32(len(benchBody)))
				f.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk, EndHeaders: true, EndStream: true})
				inputs = append(inputs, w.Bytes())
			}
			var in bytes.Reader
			var out, hb bytes.Buffer
			fr := http2.NewFramer(&out, &in)
			fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			enc := hpack.NewEncoder(&hb)
			in.Reset(warm.Bytes())
			if _, err := fr.ReadFrame(); err != nil {
				b.Fatal(err)
			}
			step := 0
			b.ReportAllocs()
			for b.Loop() {
				in.Reset(inputs[step])
				step = (step + 1) % len(inputs)
				for range 2 {
					f, err := fr.ReadFrame()
					if err != nil {
						b.Fatal(err)
					}
					if mh, ok := f.(*http2.MetaHeadersFrame); ok && mh.PseudoValue("path") == "" {
						b.Fatal("no :path")
					}
				}
				hb.Reset()
				enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
				enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "text/plain"})
				enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "13"})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes(), EndHeaders: true})
				fr.WriteData(3, true, benchBody)
				out.Reset()
			}
		})
	}
}

// BenchmarkDecode is HPACK decoding alone.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range benchCases {
		b.Run(bc.name+"/hotpath", func(b *testing.B) {
			var d decoder
			d.init(4096)
			l := fieldList{buf: make([]byte, 0, 32<<10), fields: make([]Field, 0, 100), max: 32 << 10}
			d.decode(bc.warmup, &l)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				l.reset(false)
				if err := d.decode(bc.blocks[i%len(bc.blocks)], &l); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(bc.name+"/xnet", func(b *testing.B) {
			n := 0
			d := hpack.NewDecoder(4096, func(hpack.HeaderField) { n++ })
			d.Write(bc.warmup)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := d.Write(bc.blocks[i%len(bc.blocks)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
