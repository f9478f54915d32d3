package parser

import (
	"errors"
	"strings"
	"testing"
)

// decodeAll feeds body to a Chunked in pieces of the given sizes (cycled),
// carrying unconsumed bytes over as a real connection buffer does, and
// returns the payload and how many bytes the body took.
func decodeAll(t *testing.T, body string, sizes []int) (payload string, used int, err error) {
	t.Helper()
	var c Chunked
	var pending []byte
	var out strings.Builder
	k := 0
	for fed := 0; ; k++ {
		step := sizes[k%len(sizes)]
		if fed+step > len(body) {
			step = len(body) - fed
		}
		pending = append(pending, body[fed:fed+step]...)
		fed += step
		for {
			n, data, done, err := c.Decode(pending)
			if err != nil {
				return out.String(), used, err
			}
			out.Write(data)
			pending = pending[n:]
			used += n
			if done {
				return out.String(), used, nil
			}
			if n == 0 {
				break
			}
		}
		if fed == len(body) {
			return out.String(), used, ErrNeedMore
		}
	}
}

// skipAll is decodeAll for Skip: it returns the forwarded bytes.
func skipAll(body string, sizes []int) (forwarded string, err error) {
	var c Chunked
	var pending []byte
	var out strings.Builder
	for fed, k := 0, 0; ; k++ {
		step := sizes[k%len(sizes)]
		if fed+step > len(body) {
			step = len(body) - fed
		}
		pending = append(pending, body[fed:fed+step]...)
		fed += step
		n, done, err := c.Skip(pending)
		if err != nil {
			return out.String(), err
		}
		out.Write(pending[:n])
		pending = pending[n:]
		if done {
			return out.String(), nil
		}
		if fed == len(body) {
			return out.String(), ErrNeedMore
		}
	}
}

func TestChunked(t *testing.T) {
	for _, tc := range []struct {
		name, body, payload string
	}{
		{"simple", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world"},
		{"hex upper and lower", "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", "01234567890123456789"},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
		{"extensions", "5;name=value\r\nhello\r\n3 ; a=\"q;\\\" s\" ;b\r\nabc\r\n0;last\r\n\r\n", "helloabc"},
		{"trailers", "5\r\nhello\r\n0\r\nExpires: never\r\nX-Sum: 1234\r\n\r\n", "hello"},
		{"response body", chunkedResponseBody, "{\"items\":[1,2,3,4,5,6,7],\"more\":[8,9,10]}"},
		{"data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
		{"empty", "0\r\n\r\n", ""},
	} {
		for _, sizes := range [][]int{{1 << 20}, {1}, {2}, {3, 1, 7}, {5}} {
			t.Run(tc.name, func(t *testing.T) {
				got, used, err := decodeAll(t, tc.body+"NEXT", sizes)
				if err != nil || got != tc.payload || used != len(tc.body) {
					t.Errorf("Decode sizes %v: %q, used %d, %v; want %q, %d", sizes, got, used, err, tc.payload, len(tc.body))
				}
				fw, err := skipAll(tc.body+"NEXT", sizes)
				if err != nil || fw != tc.body {
					t.Errorf("Skip sizes %v: %q, %v; want %q", sizes, fw, err, tc.body)
				}
			})
		}
	}
}

func TestChunkedReject(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		err        error
	}{
		{"bad hex", "5x\r\nhello\r\n0\r\n\r\n", ErrInvalidChunkSize},
		{"empty size", "\r\nhello\r\n0\r\n\r\n", ErrInvalidChunkSize},
		{"negative", "-5\r\nhello\r\n0\r\n\r\n", ErrInvalidChunkSize},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", ErrInvalidChunkSize},
		{"space without ext", "5 \r\nhello\r\n0\r\n\r\n", ErrInvalidChunkSize},
		{"overflow", "10000000000000000\r\n", ErrChunkSizeOverflow},
		{"overflow 8", "8000000000000000\r\n", ErrChunkSizeOverflow},
		{"missing CRLF after data", "5\r\nhelloX\r\n0\r\n\r\n", ErrMissingChunkCRLF},
		{"LF only after data", "5\r\nhello\n0\r\n\r\n", ErrMissingChunkCRLF},
		{"bare LF size line", "5\nhello\r\n0\r\n\r\n", ErrBareLF},
		{"lone CR size line", "5\rhello\r\n0\r\n\r\n", ErrLoneCR},
		{"bare LF in extension", "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n", ErrBareLF},
		{"control in extension", "5;a=\x01\r\nhello\r\n0\r\n\r\n", ErrInvalidChunkExtension},
		{"long extension", "5;" + strings.Repeat("a", MaxChunkLine) + "\r\nhello\r\n0\r\n\r\n", ErrChunkLineTooLong},
		{"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", ErrObsFold},
		{"trailer bad name", "0\r\nX(: a\r\n\r\n", ErrInvalidHeaderName},
		{"trailer space before colon", "0\r\nX : a\r\n\r\n", ErrSpaceBeforeColon},
		{"trailer NUL", "0\r\nX: \x00\r\n\r\n", ErrInvalidHeaderValue},
		{"trailer bare LF", "0\r\nX: a\n\r\n", ErrBareLF},
		{"final bare LF", "0\r\n\n", ErrBareLF},
		{"final lone CR", "0\r\n\rX", ErrLoneCR},
		{"trailer too large", "0\r\nX: " + strings.Repeat("a", MaxTrailer) + "\r\n\r\n", ErrTrailerTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sizes := range [][]int{{1 << 20}, {1}} {
				_, _, err := decodeAll(t, tc.body, sizes)
				if !errors.Is(err, tc.err) {
					t.Errorf("Decode sizes %v: %v, want %v", sizes, err, tc.err)
				}
				if _, err := skipAll(tc.body, sizes); !errors.Is(err, tc.err) {
					t.Errorf("Skip sizes %v: %v, want %v", sizes, err, tc.err)
				}
				if Status(err) != 400 {
					t.Errorf("Status %d", Status(err))
				}
			}
		})
	}
}

func TestChunkedSticky(t *testing.T) {
	var c Chunked
	if _, _, err := c.Skip([]byte("zz")); err != ErrInvalidChunkSize {
		t.Fatal(err)
	}
	if _, _, _, err := c.Decode([]byte("5\r\nhello\r\n")); err != ErrInvalidChunkSize {
		t.Fatalf("after error: %v", err)
	}
	c.Reset()
	n, done, err := c.Skip([]byte("0\r\n\r\nGET"))
	if n != 5 || !done || err != nil || !c.Done() {
		t.Fatalf("after Reset: %d %v %v", n, done, err)
	}
	if n, data, done, err := c.Decode([]byte("GET")); n != 0 || data != nil || !done || err != nil {
		t.Fatalf("after done: %d %q %v %v", n, data, done, err)
	}
}

func TestChunkedAllocs(t *testing.T) {
	buf := []byte(chunkedResponseBody)
	var c Chunked
	if n := testing.AllocsPerRun(100, func() {
		c.Reset()
		for off := 0; ; {
			n, _, done, err := c.Decode(buf[off:])
			if err != nil {
				t.Fatal(err)
			}
			off += n
			if done {
				break
			}
		}
	}); n != 0 {
		t.Errorf("%v allocs per Decode body", n)
	}
}
