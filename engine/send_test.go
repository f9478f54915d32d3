package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// streamingUpstream answers every request with size bytes, written in 64 KiB
// blocks; it reports on the returned channel how many bytes it managed to
// write before the response ended or failed.
func streamingUpstream(t *testing.T, size int64) (*httpUpstream, <-chan int64) {
	t.Helper()
	block := bytes.Repeat([]byte("x"), 64<<10)
	wrote := make(chan int64, 4)
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		var n int64
		for n < size {
			m, err := w.Write(block[:min(int64(len(block)), size-n)])
			n += int64(m)
			if err != nil {
				break
			}
		}
		wrote <- n
	})
	return up, wrote
}

// smallReadBuffer dials the server with a 16 KiB receive buffer, so that a
// client that stops reading fills the gateway's queue quickly.
func smallReadBuffer(t *testing.T, srv *Server) net.Conn {
	t.Helper()
	c := dial(t, srv)
	_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
	return c
}

// TestClientSendTimeout: a client that asks for a large response and never
// reads it is reset after timeouts.client_send without progress, and the
// upstream connection behind it is released.
func TestClientSendTimeout(t *testing.T) {
	const size = 1 << 30 // far more than the kernel buffers between them hold
	up, wrote := streamingUpstream(t, size)
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Limits.MaxBufferedBytes = 64 << 10
	cfg.Timeouts.ClientSend = 300 * time.Millisecond
	srv := startServer(t, cfg)
	c := smallReadBuffer(t, srv)
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return up.reqs.Load() == 1 }, "request not proxied")
	eventually(t, 10*time.Second, func() bool { return srv.active.Load() == 0 },
		"the gateway kept a client that reads nothing")
	select {
	case n := <-wrote:
		if n >= size {
			t.Fatalf("upstream wrote the whole %d bytes", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream connection was not released")
	}
	// The reset reaches the client: reading ends in an error, not in the
	// whole response.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err == nil && n >= size {
		t.Fatalf("client read the whole response (%d bytes)", n)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("client still connected after %d bytes", n)
	}
}

// TestClientSendSlowReaderKept: a client that reads slowly but steadily
// keeps its connection and gets every byte; client_send is about progress,
// not speed.
func TestClientSendSlowReaderKept(t *testing.T) {
	const size = 8 << 20
	up, wrote := streamingUpstream(t, size)
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Limits.MaxBufferedBytes = 64 << 10
	cfg.Timeouts.ClientSend = time.Second
	srv := startServer(t, cfg)
	c := smallReadBuffer(t, srv)
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for {
		m, err := io.CopyN(io.Discard, resp.Body, 256<<10)
		n += m
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		time.Sleep(20 * time.Millisecond) // slow, but well within client_send
	}
	if n != size {
		t.Fatalf("read %d bytes, want %d", n, size)
	}
	if got := <-wrote; got != size {
		t.Fatalf("upstream wrote %d bytes, want %d", got, size)
	}
}
