package engine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"testing"
	"time"
)

func TestExpectContinue(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler) // net/http sends 100 Continue when the body is read
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	interim, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if interim.StatusCode != 100 {
		t.Fatalf("interim status %d, want 100", interim.StatusCode)
	}
	resp := roundTrip(t, c, br, "hello", "POST")
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "hello" {
		t.Fatalf("final: %d %q", resp.StatusCode, body)
	}
}

func TestCloseDelimitedUpstream(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		_, _ = readRequestHead(r)
		_, _ = io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	t.Run("re-chunked to HTTP/1.1, connection kept", func(t *testing.T) {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		for i := 0; i < 2; i++ {
			resp := roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
			if body := readBody(t, resp); body != "until the end" || resp.Close || len(resp.TransferEncoding) == 0 {
				t.Fatalf("body %q close %v te %v", body, resp.Close, resp.TransferEncoding)
			}
		}
	})
	t.Run("close-delimited to HTTP/1.0", func(t *testing.T) {
		c := dial(t, srv)
		_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		all, _ := io.ReadAll(c)
		if !strings.HasSuffix(string(all), "\r\n\r\nuntil the end") {
			t.Fatalf("got %q", all)
		}
	})
}

func TestPoolMaxRequests(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Upstreams[0].Pool.MaxRequests = 2
	cfg.Workers = 1
	srv := startServer(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	for i := 0; i < 6; i++ {
		readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	}
	if n := up.conns.Load(); n != 3 {
		t.Fatalf("upstream saw %d connections for 6 requests with max_requests 2, want 3", n)
	}
}

// TestReloadInFlight: a request started before a reload finishes on the old
// table's upstream; the next one uses the new table.
func TestReloadInFlight(t *testing.T) {
	release := make(chan struct{})
	a := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, "a")
	})
	b := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "b") })
	srv := startServer(t, testConfig(t, proxyTo(a.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	eventually(t, 2*time.Second, func() bool { return a.reqs.Load() == 1 }, "request never reached a")
	if err := srv.Reload(testConfig(t, proxyTo(b.addr))); err != nil {
		t.Fatal(err)
	}
	close(release)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "a" {
		t.Fatalf("in-flight request answered %q, want a", got)
	}
	if got := readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")); got != "b" {
		t.Fatalf("after reload %q, want b", got)
	}
}

// TestSlowUpstreamUploadBounded streams a large request body to an upstream
// that reads slowly: the gateway pauses the client instead of buffering.
func TestSlowUpstreamUploadBounded(t *testing.T) {
	base := heapInUse()
	size := 128 << 20
	if testing.Short() || raceEnabled {
		size = 32 << 20
	}
	sums := make(chan []byte, 1)
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		h := sha256.New()
		buf := make([]byte, 64<<10)
		var n int
		for {
			m, err := req.Body.Read(buf)
			h.Write(buf[:m])
			n += m
			if n%(8<<20) < m {
				time.Sleep(20 * time.Millisecond) // a slow reader
			}
			if err != nil {
				break
			}
		}
		sums <- h.Sum(nil)
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%d", len(fmt.Sprint(n)), n)
	})
	up.recordOff()
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Timeouts.UpstreamHeader = 30 * time.Second
	srv := startServer(t, cfg)
	c := dial(t, srv)
	_ = c.SetDeadline(time.Now().Add(3 * time.Minute))
	block := bytes.Repeat([]byte("upload-"), 1<<14)
	want := sha256.New()
	var peak uint64
	go func() {
		_, _ = fmt.Fprintf(c, "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
		for sent := 0; sent < size; sent += len(block) {
			p := block
			if size-sent < len(p) {
				p = p[:size-sent]
			}
			want.Write(p)
			if _, err := c.Write(p); err != nil {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				peak = max(peak, heapInUse())
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if body != fmt.Sprint(size) {
		t.Fatalf("upstream read %s bytes, want %d", body, size)
	}
	if got := <-sums; !bytes.Equal(got, want.Sum(nil)) {
		t.Fatal("checksum mismatch")
	}
	done <- struct{}{}
	if limit := uint64(48 << 20); heapGrowth(peak, base) > limit {
		t.Fatalf("heap in use grew by %d MiB while uploading %d MiB", heapGrowth(peak, base)>>20, size>>20)
	}
	t.Logf("uploaded %d MiB, peak heap in use %d MiB", size>>20, peak>>20)
}

func TestHostHandling(t *testing.T) {
	heads := make(chan string, 4)
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			h, err := readRequestHead(r)
			if err != nil {
				return
			}
			heads <- h
			_, _ = io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
		}
	})
	srv := startServer(t, testConfig(t, fmt.Sprintf(`
upstreams:
  - name: app
    endpoints: [{address: %s}]
routes:
  - path: /keep
    upstream: app
  - path: /ep
    upstream: app
    preserve_host: false
`, up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	tests := []struct{ name, path, want string }{
		{"preserved", "/keep", "Host: client.example\r\n"},
		{"endpoint address", "/ep", "Host: " + up.addr + "\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			readBody(t, roundTrip(t, c, br, "GET "+tc.path+" HTTP/1.1\r\nHost: client.example\r\n\r\n", "GET"))
			if h := <-heads; !strings.Contains(h, tc.want) {
				t.Fatalf("upstream head lacks %q:\n%s", tc.want, h)
			}
		})
	}
}

// TestPipelinedClientThatDoesNotRead: responses pile up for a client that
// pipelines requests without reading; the gateway stops reading it.
func TestPipelinedClientThatDoesNotRead(t *testing.T) {
	base := heapInUse()
	srv := startServer(t, testConfig(t, `
routes:
  - path: /big
    direct: {status: 200, body: "`+strings.Repeat("x", 60000)+`"}
`))
	c := dial(t, srv)
	_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
	req := []byte("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	go func() {
		for i := 0; i < 20000; i++ { // 1.2 GB of responses if all were answered
			if _, err := c.Write(req); err != nil {
				return
			}
		}
	}()
	eventually(t, 5*time.Second, func() bool { return srv.paused.Load() > 0 }, "client never paused")
	if g := heapGrowth(heapInUse(), base); g > 48<<20 {
		t.Fatalf("heap grew by %d MiB with a non-reading client", g>>20)
	}
}

// TestFullDuplexChunked streams a chunked request body to an upstream that
// echoes it back chunk by chunk while still reading: both directions flow
// through the gateway at once.
func TestFullDuplexChunked(t *testing.T) {
	size := 32 << 20
	if raceEnabled {
		size = 8 << 20
	}
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		if _, err := readRequestHead(r); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
		body := httputil.NewChunkedReader(r)
		w := httputil.NewChunkedWriter(c)
		buf := make([]byte, 48<<10)
		for {
			n, err := body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				break
			}
		}
		_ = w.Close()
		_, _ = io.WriteString(c, "\r\n")
	})
	up.recordOff()
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	block := bytes.Repeat([]byte("duplex!"), 9000)
	want := sha256.New()
	go func() {
		_, _ = io.WriteString(c, "POST /duplex HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		w := httputil.NewChunkedWriter(c)
		for sent := 0; sent < size; sent += len(block) {
			want.Write(block)
			if _, err := w.Write(block); err != nil {
				return
			}
		}
		_ = w.Close()
		_, _ = io.WriteString(c, "\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	if err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	sent := (size + len(block) - 1) / len(block) * len(block)
	if int(n) != sent || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("echoed %d of %d bytes; checksum match %v", n, sent, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
}

func TestPoolIdleTimeout(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Upstreams[0].Pool.IdleTimeout = 150 * time.Millisecond
	srv, clk := startServerLoopClock(t, cfg)
	c := dial(t, srv)
	br := bufio.NewReader(c)
	readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	expire(t, srv, clk, 150*time.Millisecond) // the upstream connection went idle with the response
	eventually(t, 3*time.Second, func() bool { return up.closed.Load() == 1 }, "idle upstream connection never closed")
	readBody(t, roundTrip(t, c, br, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("upstream saw %d connections, want 2 (the idle one expired)", n)
	}
}
