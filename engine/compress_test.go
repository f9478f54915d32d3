package engine

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// decode decompresses body per its Content-Encoding.
func decode(t *testing.T, ce string, body []byte) []byte {
	t.Helper()
	switch ce {
	case "":
		return body
	case "gzip":
		r, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		return out
	case "zstd":
		r, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer r.Close()
		out, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("zstd body: %v", err)
		}
		return out
	}
	t.Fatalf("unexpected Content-Encoding %q", ce)
	return nil
}

var (
	jsonBody = []byte(strings.Repeat(`{"id":12345,"name":"hotpath","tags":["a","b","c"]},`, 200)) // ~10 KiB
	bigText  = bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog\n"), 50000)       // ~2.2 MiB: dozens of upstream reads
)

// compressUpstream answers by path with bodies of various kinds.
func compressUpstream(t *testing.T) *httpUpstream {
	return newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/json":
			h.Set("Content-Type", "application/json")
			h.Set("Content-Length", strconv.Itoa(len(jsonBody)))
			h.Set("ETag", `"v1"`)
			_, _ = w.Write(jsonBody)
		case "/small":
			h.Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "tiny")
		case "/png":
			h.Set("Content-Type", "image/png")
			_, _ = w.Write(jsonBody)
		case "/encoded":
			h.Set("Content-Type", "text/plain")
			h.Set("Content-Encoding", "br")
			_, _ = w.Write(jsonBody)
		case "/notransform":
			h.Set("Content-Type", "text/plain")
			h.Set("Cache-Control", "no-transform")
			_, _ = w.Write(jsonBody)
		case "/stream":
			// Unknown length (chunked), several writes: decided by type.
			h.Set("Content-Type", "text/event-stream")
			for i := 0; i < 5; i++ {
				_, _ = fmt.Fprintf(w, "data: event %d\n\n", i)
				w.(http.Flusher).Flush()
			}
		case "/big":
			h.Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write(bigText)
		case "/empty":
			w.WriteHeader(204)
		default:
			http.NotFound(w, r)
		}
	})
}

func TestCompression(t *testing.T) {
	up := compressUpstream(t)
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - path: /*p
    upstream: app
    compression: {encodings: [zstd, gzip], min_bytes: 1024}
`)))
	want := map[string][]byte{"/json": jsonBody, "/big": bigText, "/png": jsonBody}
	tests := []struct {
		name, method, path, ae string
		ce                     string // expected Content-Encoding
		vary                   bool
	}{
		{"gzip", "GET", "/json", "gzip", "gzip", true},
		{"zstd", "GET", "/json", "zstd", "zstd", true},
		{"server preference on a tie", "GET", "/json", "gzip, zstd", "zstd", true},
		{"q-values", "GET", "/json", "zstd;q=0.5, gzip;q=0.9", "gzip", true},
		{"q=0 refuses", "GET", "/json", "zstd;q=0, gzip", "gzip", true},
		{"star", "GET", "/json", "*", "zstd", true},
		{"identity only", "GET", "/json", "identity", "", true},
		{"no Accept-Encoding", "GET", "/json", "", "", true},
		{"unsupported coding", "GET", "/json", "br", "", true},
		{"below min_length", "GET", "/small", "gzip", "", false},
		{"not a compressible type", "GET", "/png", "gzip", "", false},
		{"already encoded", "GET", "/encoded", "gzip", "br", false},
		{"no-transform", "GET", "/notransform", "gzip", "", false},
		{"HEAD", "HEAD", "/json", "gzip", "", false},
		{"204", "GET", "/empty", "gzip", "", false},
		{"chunked stream", "GET", "/stream", "gzip", "gzip", true},
		{"large streamed body gzip", "GET", "/big", "gzip", "gzip", true},
		{"large streamed body zstd", "GET", "/big", "zstd", "zstd", true},
	}
	cl := newClient(t, srv) // one keep-alive connection for all: framing must stay exact
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hdrs []string
			if tc.ae != "" {
				hdrs = append(hdrs, "Accept-Encoding: "+tc.ae)
			}
			resp, body := cl.do(tc.method, tc.path, hdrs...)
			ce := resp.Header.Get("Content-Encoding")
			if ce != tc.ce {
				t.Fatalf("Content-Encoding %q, want %q", ce, tc.ce)
			}
			if got := resp.Header.Get("Vary") == "Accept-Encoding"; got != tc.vary {
				t.Errorf("Vary %q", resp.Header.Get("Vary"))
			}
			if tc.method == "HEAD" {
				if body != "" || resp.ContentLength != int64(len(jsonBody)) {
					t.Errorf("HEAD: body %d bytes, Content-Length %d", len(body), resp.ContentLength)
				}
				return
			}
			if tc.ce == "gzip" || tc.ce == "zstd" {
				if resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
					t.Errorf("compressed response not chunked: Content-Length %d, TE %v", resp.ContentLength, resp.TransferEncoding)
				}
			}
			if tc.ce == "br" {
				return
			}
			plain := decode(t, tc.ce, []byte(body))
			switch {
			case want[tc.path] != nil:
				if !bytes.Equal(plain, want[tc.path]) {
					t.Fatalf("body: %d bytes after decoding, want %d", len(plain), len(want[tc.path]))
				}
			case tc.path == "/stream":
				if !strings.Contains(string(plain), "data: event 4\n\n") {
					t.Fatalf("stream: %q", plain)
				}
			}
			if tc.path == "/json" && tc.ce != "" {
				if et := resp.Header.Get("ETag"); et != `W/"v1"` {
					t.Errorf("ETag %q, want weak", et)
				}
			}
		})
	}
}

// TestCompressionFraming: an HTTP/1.0 client gets identity; a
// close-delimited upstream body is compressed into chunks and the client's
// keep-alive connection survives.
func TestCompressionFraming(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := readRequestHead(r); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
		_, _ = c.Write(jsonBody)
	})
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - path: /*p
    upstream: app
    compression: {}
`)))
	cl := newClient(t, srv)
	for i := 0; i < 2; i++ {
		resp, body := cl.get("/close", "Accept-Encoding: gzip")
		if resp.Header.Get("Content-Encoding") != "gzip" || resp.Close {
			t.Fatalf("close-delimited upstream: %v close=%v", resp.Header, resp.Close)
		}
		if !bytes.Equal(decode(t, "gzip", []byte(body)), jsonBody) {
			t.Fatal("body differs")
		}
	}
	c := dial(t, srv)
	resp := roundTrip(t, c, bufio.NewReader(c), "GET /old HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n", "GET")
	if resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("HTTP/1.0 client got %q", resp.Header.Get("Content-Encoding"))
	}
	if body := readBody(t, resp); body != string(jsonBody) {
		t.Fatalf("HTTP/1.0 body: %d bytes", len(body))
	}
}

// TestCachedCompressedVariants: each negotiated coding is its own cache
// entry. Whatever the order of requests, a client never gets a coding it
// did not accept, and every variant decodes to the original bytes.
func TestCachedCompressedVariants(t *testing.T) {
	up := compressUpstream(t)
	srv := startServer(t, testConfig(t, policyConfig(t, up.addr, "", `
  - name: cached
    path: /*p
    upstream: app
    cache: {}
    compression: {}
`)))
	clients := []struct{ ae, ce string }{
		{"gzip", "gzip"},
		{"zstd", "zstd"},
		{"", ""},
		{"gzip, deflate, br", "gzip"}, // a browser's list: same variant as "gzip"
		{"zstd;q=0.1, gzip", "gzip"},
		{"identity", ""},
		{"br, zstd", "zstd"},
	}
	var mu sync.Mutex
	hits := map[string]int{}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, err := net.Dial("tcp", srv.Addr())
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				req := "GET /json HTTP/1.1\r\nHost: example.com\r\n"
				if c.ae != "" {
					req += "Accept-Encoding: " + c.ae + "\r\n"
				}
				_, _ = io.WriteString(conn, req+"\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Error(err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				ce := resp.Header.Get("Content-Encoding")
				if ce != c.ce {
					t.Errorf("Accept-Encoding %q got Content-Encoding %q (X-Cache %s), want %q", c.ae, ce, resp.Header.Get("X-Cache"), c.ce)
					return
				}
				if resp.Header.Get("Vary") != "Accept-Encoding" {
					t.Errorf("Accept-Encoding %q: Vary %q", c.ae, resp.Header.Get("Vary"))
				}
				plain := decode(t, ce, body)
				if !bytes.Equal(plain, jsonBody) {
					t.Errorf("Accept-Encoding %q: body differs after decoding", c.ae)
				}
				mu.Lock()
				hits[resp.Header.Get("X-Cache")]++
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	if got := up.reqs.Load(); got != 3 {
		t.Errorf("upstream saw %d requests, want 3 (identity, gzip, zstd)", got)
	}
	if hits["MISS"] != 3 || hits["HIT"] != 3*len(clients)-3 {
		t.Errorf("X-Cache counts %v", hits)
	}
}
