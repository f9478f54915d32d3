package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pipelineConfig proxies to addr with pool.pipeline 16 on one loop, so that
// every client's request can join the same upstream connection.
func pipelineConfig(t testing.TB, addr string, pipeline int) string {
	t.Helper()
	return fmt.Sprintf(`upstreams:
  - name: app
    endpoints:
      - address: %s
    pool:
      pipeline: %d
routes:
  - path: /*path
    upstream: app
`, addr, pipeline)
}

func startPipelineServer(t *testing.T, addr string) *Server {
	t.Helper()
	cfg := testConfig(t, pipelineConfig(t, addr, 16))
	cfg.Workers = 1
	return startServer(t, cfg)
}

// requestPath returns the request target of a head read by readRequestHead.
func requestPath(head string) (method, path string) {
	line, _, _ := strings.Cut(head, "\r\n")
	f := strings.Fields(line)
	if len(f) < 2 {
		return "", ""
	}
	return f[0], f[1]
}

// echoPath answers a request with its own path as the body, so that a
// response handed to the wrong client shows.
func echoPath(w io.Writer, path string, extra string) error {
	_, err := fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s", len(path), extra, path)
	return err
}

// inOrderUpstream answers requests on each connection in order, echoing the
// path; each response waits up to hold for the next request to arrive, so
// requests pile up and the test can see them pipelined. depth records the
// most requests seen outstanding on one connection; fn, if set, may answer
// instead (it returns false to close the connection).
type inOrderUpstream struct {
	*rawUpstream
	depth atomic.Int64
}

func newInOrderUpstream(t *testing.T, hold time.Duration, fn func(n int, method, path string, w *bufio.Writer) bool) *inOrderUpstream {
	u := &inOrderUpstream{}
	u.rawUpstream = newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		w := bufio.NewWriter(c)
		n := 0
		for {
			// Read every request already sent, then answer them in order.
			var batch []string
			for {
				head, err := readRequestHead(r)
				if err != nil {
					return
				}
				batch = append(batch, head)
				if r.Buffered() > 0 {
					continue
				}
				_ = c.SetReadDeadline(time.Now().Add(hold))
				_, err = r.Peek(1)
				_ = c.SetReadDeadline(time.Time{})
				if err != nil {
					break
				}
			}
			if d := int64(len(batch)); d > u.depth.Load() {
				u.depth.Store(d) // one goroutine per connection: a benign race on the max
			}
			for _, head := range batch {
				n++
				method, path := requestPath(head)
				if fn != nil {
					if !fn(n, method, path, w) {
						_ = w.Flush()
						return
					}
					continue
				}
				if err := echoPath(w, path, ""); err != nil {
					return
				}
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	})
	return u
}

// getPath sends GET path on c and returns the status and body.
func getPath(c net.Conn, br *bufio.Reader, path string) (int, string, error) {
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, string(b), err
}

// runClients runs clients concurrent keep-alive clients of n GETs each;
// check judges every answer.
func runClients(t *testing.T, srv *Server, clients, n int, check func(path string, status int, body string) error) {
	t.Helper()
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, clients)
	for i := range clients {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := range n {
				path := fmt.Sprintf("/c%d/r%d", i, j)
				status, body, err := getPath(c, br, path)
				if err != nil {
					errs <- fmt.Errorf("%s: %v", path, err)
					return
				}
				if err := check(path, status, body); err != nil {
					errs <- err
					return
				}
				if status != 200 {
					return // a 502 may close the connection
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func exactly(path string, status int, body string) error {
	if status != 200 || body != path {
		return fmt.Errorf("%s: got %d %q", path, status, body)
	}
	return nil
}

func rightOr502(path string, status int, body string) error {
	if status == 502 || (status == 200 && body == path) {
		return nil
	}
	return fmt.Errorf("%s: got %d %q (another client's response?)", path, status, body)
}

func TestPipelineManyClientsFewConnections(t *testing.T) {
	up := newInOrderUpstream(t, 20*time.Millisecond, nil)
	srv := startPipelineServer(t, up.addr)
	const clients = 32
	runClients(t, srv, clients, 20, exactly)
	t.Logf("%d upstream connections for %d clients, up to %d requests pipelined", up.conns.Load(), clients, up.depth.Load())
	if up.conns.Load() >= clients {
		t.Errorf("%d upstream connections for %d clients: not pipelined", up.conns.Load(), clients)
	}
	if up.depth.Load() < 2 {
		t.Errorf("no request was pipelined")
	}
}

func TestPipelineOffByDefault(t *testing.T) {
	up := newInOrderUpstream(t, 20*time.Millisecond, nil)
	cfg := testConfig(t, pipelineConfig(t, up.addr, 0))
	cfg.Workers = 1
	srv := startServer(t, cfg)
	runClients(t, srv, 8, 5, exactly)
	if d := up.depth.Load(); d != 1 {
		t.Errorf("%d requests outstanding on one connection with pipeline 0", d)
	}
}

func TestPipelinePostAlone(t *testing.T) {
	// Every request is answered after a pause; a request that arrives on
	// the connection during it was sent while the one before was
	// outstanding. Neither may be a POST.
	var bad atomic.Value
	var pipelined atomic.Int64
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		for {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			method, path := requestPath(head)
			if method == "POST" {
				if _, err := io.CopyN(io.Discard, r, 4); err != nil {
					return
				}
			}
			time.Sleep(2 * time.Millisecond)
			_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
			next, err := r.Peek(4)
			_ = c.SetReadDeadline(time.Time{})
			if err == nil {
				pipelined.Add(1)
				if method == "POST" || string(next) == "POST" {
					bad.Store(fmt.Sprintf("%q pipelined with %s %s", next, method, path))
				}
			}
			if err := echoPath(c, path, ""); err != nil {
				return
			}
		}
	})
	srv := startPipelineServer(t, up.addr)
	var wg sync.WaitGroup
	for i := range 16 {
		c := dial(t, srv)
		br := bufio.NewReader(c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				path := fmt.Sprintf("/c%d/r%d", i, j)
				method, body := "GET", ""
				if (i+j)%3 == 0 {
					method, body = "POST", "abcd"
				}
				raw := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s", method, path, len(body), body)
				if method == "GET" {
					raw = fmt.Sprintf("GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path)
				}
				if _, err := io.WriteString(c, raw); err != nil {
					t.Error(err)
					return
				}
				resp, err := http.ReadResponse(br, &http.Request{Method: method})
				if err != nil {
					t.Error(err)
					return
				}
				got, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != 200 || string(got) != path {
					t.Errorf("%s %s: got %d %q", method, path, resp.StatusCode, got)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v := bad.Load(); v != nil {
		t.Error(v)
	}
	if pipelined.Load() == 0 {
		// Detection rests on requests overlapping the upstream's 2 ms
		// pause; a starved run may overlap none and then proves nothing.
		t.Skip("no request arrived behind an outstanding one (CPU-starved run): nothing was checked")
	}
	t.Logf("%d requests arrived behind an outstanding one", pipelined.Load())
}

func TestPipelineUpstreamClosesMidPipeline(t *testing.T) {
	// Each connection answers three requests, then closes with the rest
	// unanswered (read or not).
	up := newInOrderUpstream(t, 5*time.Millisecond, func(n int, _, path string, w *bufio.Writer) bool {
		if n > 3 {
			return false
		}
		return echoPath(w, path, "") == nil
	})
	srv := startPipelineServer(t, up.addr)
	runClients(t, srv, 24, 10, rightOr502)
	t.Logf("%d upstream connections", up.conns.Load())
}

func TestPipelineConnectionCloseMidPipeline(t *testing.T) {
	// The second response on each connection says Connection: close; the
	// requests behind it go to other connections, alone, and succeed.
	up := newInOrderUpstream(t, 5*time.Millisecond, func(n int, _, path string, w *bufio.Writer) bool {
		if n == 2 {
			_ = echoPath(w, path, "Connection: close\r\n")
			return false
		}
		return echoPath(w, path, "") == nil
	})
	srv := startPipelineServer(t, up.addr)
	runClients(t, srv, 24, 10, exactly)
	t.Logf("%d upstream connections", up.conns.Load())
}

// heldUpstream reads requests and answers them (chunked), in order, only
// when release is closed; it reports each request path on got.
func heldUpstream(t *testing.T, got chan<- string, release <-chan struct{}) *rawUpstream {
	return newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		var paths []string
		read := make(chan string)
		go func() {
			defer close(read)
			for {
				head, err := readRequestHead(r)
				if err != nil {
					return
				}
				_, p := requestPath(head)
				read <- p
			}
		}()
		for {
			select {
			case p, ok := <-read:
				if !ok {
					return
				}
				paths = append(paths, p)
				got <- p
				continue
			case <-release:
			}
			for _, p := range paths {
				// Chunked, so that a dropped response is framed by its chunks.
				if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(p), p); err != nil {
					return
				}
			}
			paths = paths[:0]
			p, ok := <-read
			if !ok {
				return
			}
			paths = append(paths, p)
			got <- p
		}
	})
}

func TestPipelineClientLeavesMidQueue(t *testing.T) {
	for _, leaver := range []int{0, 1} { // the head's client, or one queued behind it
		t.Run(fmt.Sprintf("client%d", leaver), func(t *testing.T) {
			got := make(chan string, 16)
			release := make(chan struct{})
			up := heldUpstream(t, got, release)
			srv := startPipelineServer(t, up.addr)
			var cs []net.Conn
			var brs []*bufio.Reader
			for i := range 3 {
				c := dial(t, srv)
				cs = append(cs, c)
				brs = append(brs, bufio.NewReader(c))
				if _, err := fmt.Fprintf(c, "GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n", i); err != nil {
					t.Fatal(err)
				}
				if p := <-got; p != fmt.Sprintf("/p%d", i) {
					t.Fatalf("upstream got %s", p)
				}
			}
			if n := up.conns.Load(); n != 1 {
				t.Fatalf("%d upstream connections, want the three requests on one", n)
			}
			_ = cs[leaver].Close()
			eventually(t, 5*time.Second, func() bool { return srv.active.Load() == 2 }, "the gateway did not see the client leave")
			close(release)
			for i := range 3 {
				if i == leaver {
					continue
				}
				resp, err := http.ReadResponse(brs[i], &http.Request{Method: "GET"})
				if err != nil {
					t.Fatal(err)
				}
				if body := readBody(t, resp); body != fmt.Sprintf("/p%d", i) {
					t.Errorf("client %d got %q", i, body)
				}
			}
			// The connection stayed in step: the next request reuses it.
			status, body, err := getPath(cs[2], brs[2], "/again")
			if err != nil || status != 200 || body != "/again" {
				t.Errorf("after: %d %q %v", status, body, err)
			}
			if n := up.conns.Load(); n != 1 {
				t.Errorf("%d upstream connections, want 1", n)
			}
		})
	}
}

func TestPipelineAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	up := allocFreeUpstream(t)
	cfg := testConfig(t, pipelineConfig(t, up, 16))
	cfg.Workers = 1
	cfg.Timeouts.ClientIdle = time.Minute
	srv := startServer(t, cfg)
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	got := mallocsPerRequest(t, c, 20000)
	t.Logf("%.4f mallocs per pipelined proxied request", got)
	if got > 0.05 {
		t.Errorf("%.3f mallocs per proxied request, want < 0.05", got)
	}
}

func TestPollerLayout(t *testing.T) {
	up := newInOrderUpstream(t, time.Millisecond, nil)
	srv := startPipelineServer(t, up.addr)
	c := dial(t, srv)
	if status, body, err := getPath(c, bufio.NewReader(c), "/x"); err != nil || status != 200 || body != "/x" {
		t.Fatalf("%d %q %v", status, body, err)
	}
	n := 0
	srv.loopsMap.Range(func(_, v any) bool {
		n++
		if v.(*loop).poller == nil {
			t.Error("gnet layout changed: pollerOf found no poller; pipelined heads are flushed through Execute, which allocates")
		}
		return true
	})
	if n == 0 {
		t.Fatal("no loop")
	}
}

func TestPipelineTimeoutMidPipeline(t *testing.T) {
	// The first connection stalls on /stall and never answers what is
	// behind it; the request behind is retried on a fresh connection.
	var stalled atomic.Bool
	got := make(chan string, 16)
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		stall := false
		for {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			_, path := requestPath(head)
			got <- path
			if path == "/stall" && stalled.CompareAndSwap(false, true) {
				stall = true
			}
			if !stall && echoPath(c, path, "") != nil {
				return
			}
		}
	})
	cfg := testConfig(t, pipelineConfig(t, up.addr, 16))
	cfg.Workers = 1
	cfg.Timeouts.UpstreamHeader = 300 * time.Millisecond
	srv, clk := startServerLoopClock(t, cfg)
	a, b := dial(t, srv), dial(t, srv)
	if _, err := io.WriteString(a, "GET /stall HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-got
	if _, err := io.WriteString(b, "GET /behind HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	p1 := <-got
	// Both wait on the stalled connection: its upstream_header runs out.
	expire(t, srv, clk, 300*time.Millisecond)
	resp, err := http.ReadResponse(bufio.NewReader(b), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "/behind" {
		t.Errorf("behind the stalled request: %d %q", resp.StatusCode, body)
	}
	resp, err = http.ReadResponse(bufio.NewReader(a), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 504 {
		t.Errorf("stalled request: %d, want 504", resp.StatusCode)
	}
	if p2 := <-got; p1 != "/behind" || p2 != "/behind" {
		t.Errorf("upstream got %s, %s; want /behind pipelined, then /behind again", p1, p2)
	}
}

func TestPipelineMaxConns(t *testing.T) {
	// One connection allowed: requests that wait for it join it.
	up := newInOrderUpstream(t, 5*time.Millisecond, nil)
	cfg := testConfig(t, pipelineConfig(t, up.addr, 8))
	cfg.Workers = 1
	cfg.Upstreams[0].Pool.MaxConns = 1
	srv := startServer(t, cfg)
	runClients(t, srv, 24, 10, exactly)
	if n := up.conns.Load(); n != 1 {
		t.Errorf("%d upstream connections with max_conns 1", n)
	}
}

func TestPipelineHeadResponses(t *testing.T) {
	// HEAD responses have no body: the FIFO must not wait for one, also
	// when the HEAD's client left.
	got := make(chan string, 16)
	release := make(chan struct{})
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		var heads []string
		for len(heads) < 3 {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			heads = append(heads, head)
			_, p := requestPath(head)
			got <- p
		}
		<-release
		for _, head := range heads {
			method, p := requestPath(head)
			if method == "HEAD" {
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
				continue
			}
			_ = echoPath(c, p, "")
		}
		_, _ = io.Copy(io.Discard, r)
	})
	srv := startPipelineServer(t, up.addr)
	var cs []net.Conn
	for i, m := range []string{"GET", "HEAD", "GET"} {
		c := dial(t, srv)
		cs = append(cs, c)
		fmt.Fprintf(c, "%s /p%d HTTP/1.1\r\nHost: t\r\n\r\n", m, i)
		<-got
	}
	_ = cs[1].Close() // the HEAD's client leaves
	eventually(t, 5*time.Second, func() bool { return srv.active.Load() == 2 }, "the gateway did not see the client leave")
	close(release)
	for _, i := range []int{0, 2} {
		resp, err := http.ReadResponse(bufio.NewReader(cs[i]), &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != fmt.Sprintf("/p%d", i) {
			t.Errorf("client %d got %q", i, body)
		}
	}
}

// TestPipelineClientLeavesMidChunkedBody: a client that leaves in the
// middle of a chunked response with requests pipelined behind it does not
// cost the connection: the rest of its body is skipped from where its
// reading stopped (the framing cursor is handed over, chunk state and
// all), and the next responses reach their clients on the same connection.
func TestPipelineClientLeavesMidChunkedBody(t *testing.T) {
	got := make(chan string, 16)
	more := make(chan struct{})
	up := newRawUpstream(t, func(c net.Conn, r *bufio.Reader) {
		var paths []string
		for range 3 {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			_, p := requestPath(head)
			paths = append(paths, p)
			got <- p
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"); err != nil {
			return
		}
		<-more
		if _, err := io.WriteString(c, "4\r\nrest\r\n0\r\n\r\n"); err != nil {
			return
		}
		for _, p := range paths[1:] {
			if echoPath(c, p, "") != nil {
				return
			}
		}
		for {
			head, err := readRequestHead(r)
			if err != nil {
				return
			}
			_, p := requestPath(head)
			if echoPath(c, p, "") != nil {
				return
			}
		}
	})
	srv := startPipelineServer(t, up.addr)
	var cs []net.Conn
	var brs []*bufio.Reader
	for i := range 3 {
		c := dial(t, srv)
		cs = append(cs, c)
		brs = append(brs, bufio.NewReader(c))
		if _, err := fmt.Fprintf(c, "GET /p%d HTTP/1.1\r\nHost: t\r\n\r\n", i); err != nil {
			t.Fatal(err)
		}
		if p := <-got; p != fmt.Sprintf("/p%d", i) {
			t.Fatalf("upstream got %s", p)
		}
	}
	resp, err := http.ReadResponse(brs[0], &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 5)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "first" {
		t.Fatalf("first chunk: %q %v", first, err)
	}
	_ = cs[0].Close()
	eventually(t, 5*time.Second, func() bool { return srv.active.Load() == 2 }, "the gateway did not see the client leave")
	close(more)
	for i := 1; i < 3; i++ {
		resp, err := http.ReadResponse(brs[i], &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		if body := readBody(t, resp); body != fmt.Sprintf("/p%d", i) {
			t.Errorf("client %d got %q", i, body)
		}
	}
	status, body, err := getPath(cs[2], brs[2], "/again")
	if err != nil || status != 200 || body != "/again" {
		t.Errorf("after: %d %q %v", status, body, err)
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("%d upstream connections, want the one kept in step", n)
	}
}
