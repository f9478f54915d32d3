package parser

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkParse runs hotpath, fasthttp and net/http over the same inputs in
// one run, so their figures can be compared as ratios:
//
//	go test -run '^$' -bench BenchmarkParse -benchmem -count 6 ./parser | go tool benchstat -col /impl -
//
// Every implementation receives the input into its own read buffer on each
// iteration, then parses it: fasthttp and net/http from a bufio.Reader reset
// on a bytes.Reader (whose fill copies the bytes, as a read from the socket
// would), hotpath from a 64 KiB buffer the bytes are copied into (the
// connection's read buffer). Without that copy hotpath would be spared the
// stand-in for the read that the others pay.
//
// fasthttp parses with RequestHeader.Read / Response.Read (its public parse
// path; header-name normalising turned off, which is the faster setting and
// what hotpath does: names are kept as sent). net/http uses
// http.ReadRequest / http.ReadResponse and drains the body. The chunked case
// includes decoding the body for all three. checkSameWork makes sure, before
// timing, that fasthttp consumed the whole input and found the same fields.
func BenchmarkParse(b *testing.B) {
	requests := []struct{ name, in string }{
		{"browser_get", browserGET},
		{"api_post", apiPOST},
		{"headers_40", manyHeaders},
	}
	for _, c := range requests {
		buf := []byte(c.in)
		b.Run(c.name+"/impl=hotpath", func(b *testing.B) {
			var r Request
			rbuf := make([]byte, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				n := copy(rbuf, buf)
				r.Reset()
				if _, err := r.Parse(rbuf[:n]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/impl=fasthttp", func(b *testing.B) {
			var h fasthttp.RequestHeader
			h.DisableNormalizing()
			rd := bytes.NewReader(buf)
			br := bufio.NewReaderSize(rd, 64<<10)
			checkSameWork(b, buf, func() (int, int) {
				rd.Reset(buf)
				br.Reset(rd)
				if err := h.Read(br); err != nil {
					b.Fatal(err)
				}
				return br.Buffered(), h.Len()
			})
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(buf)
				br.Reset(rd)
				if err := h.Read(br); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/impl=nethttp", func(b *testing.B) {
			rd := bytes.NewReader(buf)
			br := bufio.NewReaderSize(rd, 64<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(buf)
				br.Reset(rd)
				if _, err := http.ReadRequest(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}

	buf := []byte(chunkedResponse)
	b.Run("chunked_response/impl=hotpath", func(b *testing.B) {
		var r Response
		var c Chunked
		rbuf := make([]byte, 64<<10)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			in := rbuf[:copy(rbuf, buf)]
			r.Reset()
			n, err := r.Parse(in, false)
			if err != nil {
				b.Fatal(err)
			}
			c.Reset()
			for done := false; !done; {
				m, _, d, err := c.Decode(in[n:])
				if err != nil {
					b.Fatal(err)
				}
				n += m
				done = d
			}
		}
	})
	b.Run("chunked_response/impl=fasthttp", func(b *testing.B) {
		var r fasthttp.Response
		r.Header.DisableNormalizing()
		rd := bytes.NewReader(buf)
		br := bufio.NewReaderSize(rd, 64<<10)
		checkSameWork(b, buf, func() (int, int) {
			rd.Reset(buf)
			br.Reset(rd)
			if err := r.Read(br); err != nil {
				b.Fatal(err)
			}
			if string(r.Body()) != chunkedPayload {
				b.Fatalf("fasthttp body %q", r.Body())
			}
			return br.Buffered(), r.Header.Len()
		})
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(buf)
			br.Reset(rd)
			if err := r.Read(br); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chunked_response/impl=nethttp", func(b *testing.B) {
		rd := bytes.NewReader(buf)
		br := bufio.NewReaderSize(rd, 64<<10)
		b.SetBytes(int64(len(buf)))
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(buf)
			br.Reset(rd)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// chunkedPayload is the body of chunkedResponse, decoded.
const chunkedPayload = `{"items":[1,2,3,4,5,6,7],"more":[8,9,10]}`

// checkSameWork runs parse, a fasthttp parse of in, once before timing and
// fails the benchmark unless it consumed all of in (parse returns the bytes
// left buffered) and found as many header fields as hotpath does: the
// comparison is only fair while both do the same work on the same bytes.
func checkSameWork(b *testing.B, in []byte, parse func() (left, fields int)) {
	b.Helper()
	want := 0
	if bytes.HasPrefix(in, []byte("HTTP/")) {
		var r Response
		if _, err := r.Parse(in, false); err != nil {
			b.Fatal(err)
		}
		want = len(r.Headers)
	} else {
		var r Request
		if _, err := r.Parse(in); err != nil {
			b.Fatal(err)
		}
		want = len(r.Headers)
	}
	if left, fields := parse(); left != 0 || fields != want {
		b.Fatalf("fasthttp left %d bytes unread and found %d fields; hotpath finds %d", left, fields, want)
	}
}

// BenchmarkParseByteAtATime is the worst case of the incremental contract:
// the browser request arriving one byte per Parse call.
func BenchmarkParseByteAtATime(b *testing.B) {
	buf := []byte(browserGET)
	var r Request
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		for k := 1; k <= len(buf); k++ {
			if _, err := r.Parse(buf[:k]); err != ErrNeedMore && err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkChunkedSkip measures pass-through validation of a body of 64
// chunks of 1 KiB.
func BenchmarkChunkedSkip(b *testing.B) {
	var body []byte
	chunk := bytes.Repeat([]byte("x"), 1024)
	for k := 0; k < 64; k++ {
		body = append(body, "400\r\n"...)
		body = append(body, chunk...)
		body = append(body, "\r\n"...)
	}
	body = append(body, "0\r\n\r\n"...)
	var c Chunked
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		c.Reset()
		if _, done, err := c.Skip(body); err != nil || !done {
			b.Fatal(done, err)
		}
	}
}
