package parser

import (
	"bytes"
	"testing"
)

// TestBodyCursor: for every framing, Skip and Decode find the same end of
// the body whether the bytes come at once or one at a time, and Decode
// returns the payload.
func TestBodyCursor(t *testing.T) {
	const after = "NEXT"
	cases := []struct {
		name    string
		kind    BodyKind
		length  int64
		wire    string // the body as sent, before `after`
		payload string
		ends    bool // the body ends before `after` (BodyClose never does)
	}{
		{"none", BodyNone, 0, "", "", true},
		{"length", BodyLength, 5, "hello", "hello", true},
		{"length-zero", BodyLength, 0, "", "", true},
		{"chunked", BodyChunked, -1, "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n", "hello world", true},
		{"close", BodyClose, -1, "until the end", "until the end" + after, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.wire + after)
			for _, step := range []int{len(in), 1} {
				// Skip.
				var b Body
				b.Start(tc.kind, tc.length)
				off, done := 0, b.Done()
				for off < len(in) && !done {
					end := min(off+step, len(in))
					n, d, err := b.Skip(in[off:end])
					if err != nil {
						t.Fatalf("step %d: Skip: %v", step, err)
					}
					off += n
					done = d
					if n == 0 && !d {
						break
					}
				}
				if tc.ends && (!done || off != len(tc.wire)) {
					t.Fatalf("step %d: Skip ended at %d done=%v, want %d", step, off, done, len(tc.wire))
				}
				if !tc.ends && (done || off != len(in) || b.Done()) {
					t.Fatalf("step %d: close-delimited body: consumed %d done=%v", step, off, done)
				}
				// Decode.
				b.Start(tc.kind, tc.length)
				var got []byte
				off, done = 0, b.Done()
				for off < len(in) && !done {
					end := min(off+step, len(in))
					n, data, d, err := b.Decode(in[off:end])
					if err != nil {
						t.Fatalf("step %d: Decode: %v", step, err)
					}
					got = append(got, data...)
					off += n
					done = d
					if n == 0 && !d {
						break
					}
				}
				if string(got) != tc.payload {
					t.Fatalf("step %d: payload %q, want %q", step, got, tc.payload)
				}
				if tc.ends && (!done || off != len(tc.wire)) {
					t.Fatalf("step %d: Decode ended at %d done=%v, want %d", step, off, done, len(tc.wire))
				}
			}
		})
	}
}

// TestBodyCopyKeepsPosition: a copy of a cursor mid-body goes on from the
// same place (the pipelining path hands one over to skip a response).
func TestBodyCopyKeepsPosition(t *testing.T) {
	wire := []byte("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n")
	var a Body
	a.Start(BodyChunked, -1)
	n, _, err := a.Skip(wire[:7])
	if err != nil {
		t.Fatal(err)
	}
	b := a
	m, done, err := b.Skip(wire[n:])
	if err != nil || !done || n+m != len(wire) {
		t.Fatalf("copy: consumed %d+%d of %d done=%v err=%v", n, m, len(wire), done, err)
	}
	if a.Done() {
		t.Fatal("the original moved with its copy")
	}
}

func TestBodyErrorsAreFinal(t *testing.T) {
	var b Body
	b.Start(BodyChunked, -1)
	if _, _, err := b.Skip([]byte("zz\r\n")); err == nil {
		t.Fatal("bad chunk size accepted")
	}
	if _, _, _, err := b.Decode([]byte("0\r\n\r\n")); err == nil {
		t.Fatal("an error was not final")
	}
}

func TestBodyDoesNotAllocate(t *testing.T) {
	wire := bytes.Repeat([]byte("4\r\nabcd\r\n"), 8)
	wire = append(wire, "0\r\n\r\n"...)
	var b Body
	allocs := testing.AllocsPerRun(100, func() {
		b.Start(BodyChunked, -1)
		for off := 0; off < len(wire); {
			n, _, _, _ := b.Decode(wire[off:])
			off += n
		}
		b.Start(BodyLength, 10)
		_, _, _ = b.Skip(wire[:10])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
