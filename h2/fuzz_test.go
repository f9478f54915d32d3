package h2

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzServerConn feeds arbitrary frames after a valid preface: no panic,
// never more consumed than given, buffers within their limits, and what
// the connection writes is frames x/net reads.
func FuzzServerConn(f *testing.F) {
	p := newPeer(f, Limits{})
	p.get(1, false, "content-length", "3")
	p.fr.WriteData(1, true, []byte("abc"))
	p.get(3, true)
	p.fr.WritePing(false, [8]byte{})
	p.fr.WriteRSTStream(3, http2.ErrCodeCancel)
	p.fr.WriteWindowUpdate(0, 100)
	f.Add(p.wire.Bytes())
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := NewServerConn(Limits{}, 1)
		all := append([]byte(Preface), AppendFrameHeader(nil, 0, FrameSettings, 0, 0)...)
		all = append(all, in...)
		for step := 0; step < 3; step++ { // whole, then byte pieces of what is left
			off := 0
			for i := 0; i < 10000; i++ {
				n, ev := c.Feed(all[off:], int64(i))
				if n < 0 || off+n > len(all) {
					t.Fatalf("consumed %d of %d", n, len(all)-off)
				}
				off += n
				if ev.Kind == EventRequest && ev.EndStream {
					c.StartHeaders(ev.Stream, 200)
					c.EndHeaders(false)
					c.WriteData(ev.Stream, []byte("ok"), true, int64(i))
				}
				if ev.Kind == EventNone || ev.Kind == EventClose {
					break
				}
			}
			if cap(c.bufs.list.buf) > DefaultMaxHeaderListSize || cap(c.hbBuf) > 4*DefaultMaxHeaderListSize ||
				len(c.streams.ids) > DefaultMaxConcurrentStreams {
				t.Fatalf("buffers: list %d block %d streams %d", cap(c.bufs.list.buf), cap(c.hbBuf), len(c.streams.ids))
			}
			fr := http2.NewFramer(nil, bytes.NewReader(c.Output()))
			fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
			for {
				_, err := fr.ReadFrame()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("the connection wrote a frame x/net refuses: %v", err)
				}
			}
			c.ClearOutput()
			all = all[off:]
		}
	})
}

// FuzzDecode: where x/net's decoder and ours both accept a block, they
// decode the same fields; ours never panics.
func FuzzDecode(f *testing.F) {
	for _, bc := range benchCases {
		f.Add(bc.warmup)
		f.Add(bc.blocks[0])
	}
	f.Fuzz(func(t *testing.T, block []byte) {
		var d decoder
		d.init(4096)
		l := fieldList{buf: make([]byte, 0, 1<<16), fields: make([]Field, 0, 1000), max: 1 << 16}
		err := d.decode(block, &l)
		want, xerr := hpack.NewDecoder(4096, nil).DecodeFull(block)
		if err != nil || xerr != nil || l.over {
			return
		}
		if len(want) != len(l.fields) {
			t.Fatalf("%d fields, x/net %d", len(l.fields), len(want))
		}
		for i, f := range l.fields {
			if string(f.Name) != want[i].Name || string(f.Value) != want[i].Value {
				t.Fatalf("field %d: %q: %q, x/net %+v", i, f.Name, f.Value, want[i])
			}
		}
	})
}
