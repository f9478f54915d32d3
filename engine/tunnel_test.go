package engine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestWebSocketEcho runs a real WebSocket echo server behind the gateway
// and a real client in front of it: messages of every size come back
// intact, and a close handshake from the client ends both connections.
func TestWebSocketEcho(t *testing.T) {
	handlerDone := make(chan error, 1)
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Forwarded-For") == "" || r.Header.Get("Via") == "" {
			http.Error(w, "not proxied", http.StatusBadRequest)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			handlerDone <- err
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(4 << 20)
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
					err = nil
				}
				handlerDone <- err
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				handlerDone <- err
				return
			}
		}
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+srv.Addr()+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Via") == "" {
		t.Fatalf("handshake answered %d %v", resp.StatusCode, resp.Header)
	}
	c.SetReadLimit(4 << 20)
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20, 3 << 20} {
		for _, typ := range []websocket.MessageType{websocket.MessageText, websocket.MessageBinary} {
			msg := bytes.Repeat([]byte{'a' + byte(size%26)}, size)
			if err := c.Write(ctx, typ, msg); err != nil {
				t.Fatalf("write %d: %v", size, err)
			}
			gotTyp, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("read %d: %v", size, err)
			}
			if gotTyp != typ || !bytes.Equal(got, msg) {
				t.Fatalf("%d-byte %v message came back as %d bytes of %v", size, typ, len(got), gotTyp)
			}
		}
	}
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close handshake: %v", err)
	}
	if err := <-handlerDone; err != nil {
		t.Fatalf("upstream: %v", err)
	}
	eventually(t, 10*time.Second, func() bool { return srv.active.Load() == 0 }, "tunnel still open after the close handshake")
}

// upgradeUpstream accepts upgrade requests, answers 101 and hands the
// connection to fn. Heads it receives go to heads.
func upgradeUpstream(t *testing.T, heads chan<- string, fn func(c net.Conn, r *bufio.Reader)) *rawUpstream {
	return newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		head, err := readRequestHead(r)
		if err != nil {
			return
		}
		if heads != nil {
			heads <- head
		}
		if !strings.Contains(head, "\r\nUpgrade: websocket\r\n") {
			_, _ = io.WriteString(c, "HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Up: 1\r\n\r\n")
		fn(c, r)
	})
}

// dialUpgrade opens a client connection and completes an upgrade
// handshake through the gateway.
func dialUpgrade(t *testing.T, srv *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dial(t, srv)
	br := bufio.NewReader(c)
	resp := roundTrip(t, c, br, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET")
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" ||
		!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") || resp.Header.Get("X-Up") != "1" {
		t.Fatalf("handshake answered %d %v", resp.StatusCode, resp.Header)
	}
	return c, br
}

// tunnels counts the server's open tunnels.
func tunnels(srv *Server) int {
	n := 0
	srv.loopsMap.Range(func(_, v any) bool {
		lp := v.(*loop)
		done := make(chan struct{})
		_ = lp.el.Execute(context.Background(), runnable(func() { n += len(lp.tunnels); close(done) }))
		<-done
		return true
	})
	return n
}

// TestTunnelClosePropagation: a FIN from either side reaches the other
// after every byte sent before it; a reset from the client resets the
// upstream.
func TestTunnelClosePropagation(t *testing.T) {
	t.Run("client FIN", func(t *testing.T) {
		// gnet closes a connection as soon as it reads EOF, so the tunnel
		// cannot stay half-open: the upstream gets every byte and then a
		// FIN, and the client's connection is closed.
		type result struct {
			got []byte
			err error
		}
		upGot := make(chan result, 1)
		up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
			got, err := io.ReadAll(r)
			upGot <- result{got, err}
		})
		srv := startServer(t, testConfig(t, proxyTo(up.addr)))
		c, br := dialUpgrade(t, srv)
		if _, err := io.WriteString(c, "hello"); err != nil {
			t.Fatal(err)
		}
		_ = c.(*net.TCPConn).CloseWrite()
		if r := <-upGot; r.err != nil || string(r.got) != "hello" {
			t.Fatalf("upstream read %q, %v; want hello then a clean EOF", r.got, r.err)
		}
		if _, err := io.ReadAll(br); err != nil {
			t.Fatalf("client: %v, want EOF", err)
		}
		eventually(t, 10*time.Second, func() bool { return tunnels(srv) == 0 && srv.active.Load() == 0 }, "tunnel not torn down")
	})
	t.Run("upstream FIN", func(t *testing.T) {
		up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
			_, _ = io.WriteString(c, "bye")
			_ = c.(*net.TCPConn).CloseWrite()
			_, _ = io.Copy(io.Discard, r) // until the gateway closes
		})
		srv, clk := startServerLoopClock(t, testConfig(t, proxyTo(up.addr)))
		_, br := dialUpgrade(t, srv)
		got, err := io.ReadAll(br)
		if err != nil || string(got) != "bye" {
			t.Fatalf("client read %q, %v; want bye then EOF", got, err)
		}
		expire(t, srv, clk, time.Duration(lingerTime)) // the client's end lingers after the FIN passed on
		eventually(t, 10*time.Second, func() bool { return tunnels(srv) == 0 && srv.active.Load() == 0 }, "tunnel not torn down")
	})
	t.Run("client reset", func(t *testing.T) {
		upErr := make(chan error, 1)
		up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
			_, err := io.Copy(c, r)
			upErr <- err
		})
		srv := startServer(t, testConfig(t, proxyTo(up.addr)))
		c, br := dialUpgrade(t, srv)
		_, _ = io.WriteString(c, "ping")
		if b := make([]byte, 4); func() error { _, err := io.ReadFull(br, b); return err }() != nil || string(b) != "ping" {
			t.Fatalf("echo: %q", b)
		}
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
		if err := <-upErr; !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("upstream saw %v, want a reset", err)
		}
		eventually(t, 10*time.Second, func() bool { return tunnels(srv) == 0 && srv.active.Load() == 0 }, "tunnel not torn down")
	})
	t.Run("idle", func(t *testing.T) {
		upErr := make(chan error, 1)
		up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
			_, err := io.Copy(io.Discard, r)
			upErr <- err
		})
		cfg := testConfig(t, proxyTo(up.addr))
		cfg.Timeouts.TunnelIdle = 200 * time.Millisecond
		srv, clk := startServerLoopClock(t, cfg)
		_, br := dialUpgrade(t, srv)
		pumpClock(t, srv, clk, 100*time.Millisecond) // nothing moves: tunnel_idle runs out
		if got, err := io.ReadAll(br); err != nil || len(got) != 0 {
			t.Fatalf("client read %q, %v; want EOF", got, err)
		}
		if err := <-upErr; err != nil {
			t.Fatalf("upstream saw %v, want EOF", err)
		}
	})
}

// TestUpgradeNotTunnelled: upgrades the route refuses, h2c, and upgrades
// the upstream declines all stay HTTP, on a connection that keeps serving.
func TestUpgradeNotTunnelled(t *testing.T) {
	heads := make(chan string, 8)
	up := upgradeUpstream(t, heads, func(net.Conn, *bufio.Reader) {})
	cfg := testConfig(t, `upstreams:
  - name: app
    endpoints: [{address: `+up.addr+`}]
routes:
  - {path: /closed, upstream: app, upgrade: []}
  - {path: /*any, upstream: app}
`)
	srv := startServer(t, cfg)
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"route refuses", "GET /closed HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", 426},
		{"h2c", "GET /h HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", 426},
		{"mixed offer", "GET /m HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n", 426},
		{"no Connection: upgrade", "GET /n HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n", 426},
		{"HTTP/1.0", "GET /o HTTP/1.0\r\nHost: x\r\nConnection: Upgrade, keep-alive\r\nUpgrade: websocket\r\n\r\n", 426},
		{"protocol not listed", "GET /d HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: chat\r\n\r\n", 426},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, srv)
			br := bufio.NewReader(c)
			for i := 0; i < 2; i++ { // the connection stays HTTP
				resp := roundTrip(t, c, br, tc.req, "GET")
				readBody(t, resp)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
				}
				head := <-heads
				if strings.Contains(head, "\r\nUpgrade:") || strings.Contains(strings.ToLower(head), "connection: upgrade") ||
					strings.Contains(head, "HTTP2-Settings") {
					t.Fatalf("upstream saw an upgrade:\n%s", head)
				}
			}
		})
	}
}

// TestUpgradeDeclinedKeepsConnection: an upstream that answers an allowed
// upgrade request with an ordinary response is relayed as one, and the
// client connection carries the next request.
func TestUpgradeDeclinedKeepsConnection(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Upgrade", r.Header.Get("Upgrade"))
		fmt.Fprint(w, "plain")
	})
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c := dial(t, srv)
	br := bufio.NewReader(c)
	resp := roundTrip(t, c, br, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", "GET")
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "plain" || resp.Header.Get("X-Seen-Upgrade") != "websocket" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp = roundTrip(t, c, br, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "plain" {
		t.Fatalf("next request: %d %q", resp.StatusCode, body)
	}
}

// TestTunnelBoundedSlowReader moves 64 MiB each way through a tunnel to a
// reader that is slower than the writer: the gateway's heap stays bounded
// (pause-read in both directions) and every byte arrives.
func TestTunnelBoundedSlowReader(t *testing.T) {
	base := heapInUse()
	const size = 64 << 20
	const chunk = 64 << 10
	block := bytes.Repeat([]byte("tunnel-backpressure-"), chunk/20+1)[:chunk]
	want := sha256.New()
	for sent := 0; sent < size; sent += chunk {
		want.Write(block)
	}
	wantSum := want.Sum(nil)

	// slowRead reads size bytes from r, pausing every 8 MiB, and samples
	// the heap while it does.
	slowRead := func(r io.Reader) (sum []byte, peak uint64, err error) {
		h := sha256.New()
		buf := make([]byte, 256<<10)
		n := 0
		for n < size {
			m, err := r.Read(buf[:min(len(buf), size-n)])
			h.Write(buf[:m])
			n += m
			if n%(8<<20) < m {
				peak = max(peak, heapInUse())
				time.Sleep(20 * time.Millisecond)
			}
			if err != nil {
				return nil, peak, fmt.Errorf("after %d bytes: %w", n, err)
			}
		}
		return h.Sum(nil), peak, nil
	}
	write := func(w io.Writer) error {
		for sent := 0; sent < size; sent += chunk {
			if _, err := w.Write(block); err != nil {
				return err
			}
		}
		return nil
	}

	for _, dir := range []string{"to client", "to upstream"} {
		t.Run(dir, func(t *testing.T) {
			type result struct {
				sum  []byte
				peak uint64
				err  error
			}
			upDone := make(chan result, 1)
			up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
				if dir == "to client" {
					upDone <- result{err: write(c)}
					_, _ = io.Copy(io.Discard, r)
					return
				}
				_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
				sum, peak, err := slowRead(r)
				upDone <- result{sum, peak, err}
			})
			up.recordOff()
			cfg := testConfig(t, proxyTo(up.addr))
			cfg.Timeouts.ClientSend = time.Minute
			srv := startServer(t, cfg)
			c, br := dialUpgrade(t, srv)
			_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
			var got result
			if dir == "to client" {
				_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
				got.sum, got.peak, got.err = slowRead(br)
				if r := <-upDone; r.err != nil {
					t.Fatalf("upstream write: %v", r.err)
				}
			} else {
				if err := write(c); err != nil {
					t.Fatalf("client write: %v", err)
				}
				got = <-upDone
			}
			if got.err != nil || !bytes.Equal(got.sum, wantSum) {
				t.Fatalf("read error %v, checksum match %v", got.err, bytes.Equal(got.sum, wantSum))
			}
			// The test process holds client, gateway and upstream. Without
			// backpressure the gateway would buffer most of the 64 MiB.
			if limit := uint64(48 << 20); heapGrowth(got.peak, base) > limit {
				t.Fatalf("heap in use grew by %d MiB moving %d MiB", heapGrowth(got.peak, base)>>20, size>>20)
			}
			t.Logf("moved %d MiB %s, peak heap in use %d MiB", size>>20, dir, got.peak>>20)
		})
	}
}

// TestTunnelClientSendTimeout: a tunnelled client that stops reading while
// the upstream keeps sending is reset after timeouts.client_send.
func TestTunnelClientSendTimeout(t *testing.T) {
	upErr := make(chan error, 1)
	up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) {
		block := make([]byte, 64<<10)
		for {
			if _, err := c.Write(block); err != nil {
				upErr <- err
				return
			}
		}
	})
	up.recordOff()
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Limits.MaxBufferedBytes = 64 << 10
	cfg.Timeouts.ClientSend = 300 * time.Millisecond
	srv := startServer(t, cfg)
	c, _ := dialUpgrade(t, srv)
	_ = c.(*net.TCPConn).SetReadBuffer(16 << 10)
	select {
	case err := <-upErr:
		if err == nil {
			t.Fatal("upstream write ended without error")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("upstream still connected to a client that reads nothing")
	}
	eventually(t, 10*time.Second, func() bool { return tunnels(srv) == 0 && srv.active.Load() == 0 }, "tunnel not torn down")
}

// TestTunnelHoldsPoolSlot: a tunnel's upstream connection counts against
// max_conns until the tunnel ends and is never reused: a plain request
// waits for it and then gets a connection of its own.
func TestTunnelHoldsPoolSlot(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			if strings.Contains(head, "Upgrade: websocket") {
				_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Up: 1\r\n\r\n")
				_, _ = io.Copy(c, r)
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Workers = 1
	cfg.Upstreams[0].Pool.MaxConns = 1
	cfg.Timeouts.Pending = 30 * time.Second
	srv := startServer(t, cfg)
	tc, _ := dialUpgrade(t, srv)
	out := make(chan clientResult, 1)
	sendAsync(t, srv, "plain", out)
	eventually(t, 10*time.Second, func() bool { return queued(srv) == 1 }, "plain request not queued behind the tunnel")
	_ = tc.Close()
	if r := <-out; r.status != 200 || r.body != "ok" {
		t.Fatalf("got %+v after the tunnel closed, want 200 ok", r)
	}
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("upstream saw %d connections, want 2 (a tunnel's connection is not pooled)", n)
	}
}

// TestTunnelDrain: a graceful shutdown lets a tunnel run until its
// deadline, then closes it.
func TestTunnelDrain(t *testing.T) {
	up := upgradeUpstream(t, nil, func(c net.Conn, r *bufio.Reader) { _, _ = io.Copy(c, r) })
	srv := startServer(t, testConfig(t, proxyTo(up.addr)))
	c, br := dialUpgrade(t, srv)
	if err := shutdown(t, srv, 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the deadline: the tunnel was still open", err)
	}
	_, _ = io.WriteString(c, "late")
	if got, err := io.ReadAll(br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("client read %q, %v after shutdown", got, err)
	}
}

// BenchmarkTunnelThroughput streams 64 KiB blocks from client to upstream
// through a tunnel on one loop; mallocs per block cover the whole process.
func BenchmarkTunnelThroughput(b *testing.B) {
	const block = 64 << 10
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	received := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			received <- -1
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		if _, err := readRequestHead(r); err != nil {
			received <- -1
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		n, _ := io.Copy(io.Discard, r)
		received <- n
	}()
	b.Cleanup(func() { _ = ln.Close() })
	cfg := testConfig(b, proxyTo(ln.Addr().String()))
	cfg.Workers = 1
	srv := startServer(b, cfg)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		b.Fatalf("handshake: %v %v", resp, err)
	}
	buf := make([]byte, block)
	b.SetBytes(block)
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.(*net.TCPConn).CloseWrite()
	n := <-received
	b.StopTimer()
	runtime.ReadMemStats(&after)
	if n != int64(b.N)*block {
		b.Fatalf("upstream received %d bytes, want %d", n, int64(b.N)*block)
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "mallocs/block")
}
