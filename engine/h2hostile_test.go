package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Hostile HTTP/2 clients against the gateway's own h2c listener (issue 12):
// package h2 tests its ServerConn against each attack; these check that the
// engine acts on what it reports (the connection is closed with the right
// GOAWAY, the loop keeps serving others) and what the upstream received.

// rawH2 is a client that writes frames by hand (x/net's Framer and HPACK
// encoder), to send what no well-behaved client would.
type rawH2 struct {
	t    *testing.T
	c    net.Conn
	fr   *http2.Framer // reads, and answers SETTINGS while reading
	wf   *http2.Framer // everything else: a Framer's writes share a buffer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
}

func dialRawH2(t *testing.T, srv *Server, settings ...http2.Setting) *rawH2 {
	t.Helper()
	c := dial(t, srv)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	r := &rawH2{t: t, c: c, fr: http2.NewFramer(c, bufio.NewReader(c)), wf: http2.NewFramer(c, nil)}
	r.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	r.fr.MaxHeaderListSize = 1 << 20
	r.enc = hpack.NewEncoder(&r.hbuf)
	if err := r.wf.WriteSettings(settings...); err != nil {
		t.Fatal(err)
	}
	return r
}

// block encodes a request head.
func (r *rawH2) block(method, path string, extra ...string) []byte {
	r.hbuf.Reset()
	fields := []string{":method", method, ":scheme", "http", ":authority", "gw.test", ":path", path}
	fields = append(fields, extra...)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = r.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return append([]byte(nil), r.hbuf.Bytes()...)
}

func (r *rawH2) request(id uint32, method, path string, end bool) error {
	return r.wf.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: r.block(method, path), EndStream: end, EndHeaders: true})
}

// goAway reads frames until a GOAWAY (returned) or the connection ends
// (nil, and the read error), answering SETTINGS as a client must.
func (r *rawH2) goAway(d time.Duration) (*http2.GoAwayFrame, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			return f, nil
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = r.fr.WriteSettingsAck()
			}
		}
	}
}

// expectGoAway fails unless the gateway sends GOAWAY with code (and then
// closes the connection).
func (r *rawH2) expectGoAway(code http2.ErrCode) {
	r.t.Helper()
	ga, err := r.goAway(10 * time.Second)
	if ga == nil {
		r.t.Fatalf("no GOAWAY %v: %v", code, err)
	}
	if ga.ErrCode != code {
		r.t.Fatalf("GOAWAY %v, want %v", ga.ErrCode, code)
	}
	if _, err := r.goAway(10 * time.Second); err == nil || isTimeout(err) {
		r.t.Fatalf("connection still open after GOAWAY: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// stillServes checks that the gateway answers a well-behaved HTTP/2 client
// after an attack.
func stillServes(t *testing.T, srv *Server) {
	t.Helper()
	resp, err := h2cClient(t).Get("http://" + srv.Addr() + "/after")
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("after the attack: %d", resp.StatusCode)
	}
}

// TestH2cRapidReset: streams opened and reset at once (CVE-2023-44487)
// cost the gateway an exchange each; past max_premature_resets more than
// completed, the connection gets GOAWAY ENHANCE_YOUR_CALM. The upstream
// sees at most the requests that got through before that.
func TestH2cRapidReset(t *testing.T) {
	var seen atomic.Int64
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/after" {
			seen.Add(1)
		}
		_, _ = io.WriteString(w, "ok")
	})
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	cfg.Listeners[0].HTTP2.MaxPrematureResets = 20
	srv := startServer(t, cfg)
	r := dialRawH2(t, srv)
	const attempts = 1000
	go func() {
		for i := range attempts {
			id := uint32(2*i + 1)
			if r.request(id, "GET", "/reset", true) != nil || r.wf.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				return
			}
		}
	}()
	r.expectGoAway(http2.ErrCodeEnhanceYourCalm)
	if n := seen.Load(); n > attempts/2 {
		t.Fatalf("the upstream saw %d of %d reset requests", n, attempts)
	}
	t.Logf("upstream saw %d of the %d streams reset at once", seen.Load(), attempts)
	stillServes(t, srv)
}

// TestH2cContinuationFlood: a header block that never ends (CVE-2024-27316)
// is refused once it passes max_header_block_bytes, before the client has
// sent it all, and nothing reaches the upstream.
func TestH2cContinuationFlood(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	srv := startH2(t, proxyTo(up.addr))
	r := dialRawH2(t, srv)
	first := r.block("GET", "/flood")
	if err := r.wf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndStream: true}); err != nil {
		t.Fatal(err)
	}
	junk := bytes.Repeat([]byte{0x40, 0x01, 'x', 0x01, 'y'}, 16<<10/5) // literal fields, 16 KiB a frame
	var sent atomic.Int64
	go func() {
		for range 10 << 10 { // 160 MiB if nobody stops it
			if r.wf.WriteContinuation(1, false, junk) != nil {
				return
			}
			sent.Add(int64(len(junk)))
		}
	}()
	ga, err := r.goAway(10 * time.Second)
	if ga == nil {
		t.Fatalf("no GOAWAY: %v", err)
	}
	if n := sent.Load(); n > 8<<20 {
		t.Fatalf("%d bytes of header block sent before the GOAWAY", n)
	}
	if n := up.reqs.Load(); n != 0 {
		t.Fatalf("the upstream saw %d requests", n)
	}
	stillServes(t, srv)
}

// TestH2cHPACKBomb: small fields that expand past the header list limit
// through the dynamic table are refused (431, or the stream reset) without
// reaching the upstream.
func TestH2cHPACKBomb(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	srv := startH2(t, proxyTo(up.addr))
	r := dialRawH2(t, srv)
	// One 4000-byte field into the table, then referenced 4 000 times:
	// 16 MB of header list from a 4 KB + 4 KB block.
	r.hbuf.Reset()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "gw.test"}, {":path", "/bomb"}} {
		_ = r.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	_ = r.enc.WriteField(hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)})
	blk := append([]byte(nil), r.hbuf.Bytes()...)
	for range 4000 {
		blk = append(blk, 0x80|62) // indexed: dynamic table entry 1
	}
	if err := r.wf.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	refused := false
	for !refused {
		f, err := r.fr.ReadFrame()
		if err != nil {
			refused = true // the connection was closed
			break
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if st := f.PseudoValue("status"); st != "431" {
				t.Fatalf("the bomb got status %s", st)
			}
			refused = true
		case *http2.RSTStreamFrame, *http2.GoAwayFrame:
			refused = true
		}
	}
	if n := up.reqs.Load(); n != 0 {
		t.Fatalf("the upstream saw %d requests", n)
	}
	stillServes(t, srv)
}

// TestH2cPingFlood: control frames past the budget (max_control_frames,
// refilled at control_frames_per_second) end the connection with GOAWAY
// ENHANCE_YOUR_CALM instead of queueing an answer for each.
func TestH2cPingFlood(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	cfg.Listeners[0].HTTP2.MaxControlFrames = 100
	cfg.Listeners[0].HTTP2.ControlFramesPerSecond = 10
	srv := startServer(t, cfg)
	r := dialRawH2(t, srv)
	go func() {
		for i := range 100000 {
			if r.wf.WritePing(false, [8]byte{byte(i)}) != nil {
				return
			}
		}
	}()
	r.expectGoAway(http2.ErrCodeEnhanceYourCalm)
	stillServes(t, srv)
}

// TestH2cZeroWindowHeld: a client that announces a zero window and never
// opens it cannot pin a response in the gateway forever: after
// timeouts.client_send the connection is reset, the upstream connection is
// given back, and others are served.
func TestH2cZeroWindowHeld(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("z", 64<<10))
	})
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	cfg.Timeouts.ClientSend = 300 * time.Millisecond
	srv := startServer(t, cfg)
	r := dialRawH2(t, srv, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	if err := r.request(1, "GET", "/big", true); err != nil {
		t.Fatal(err)
	}
	// Read (and never credit) until the gateway gives up on us.
	_ = r.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var err error
	for err == nil {
		var f http2.Frame
		f, err = r.fr.ReadFrame()
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			_ = r.fr.WriteSettingsAck()
		}
		if d, ok := f.(*http2.DataFrame); ok && len(d.Data()) > 0 {
			t.Fatalf("%d bytes of DATA past a zero window", len(d.Data()))
		}
	}
	if isTimeout(err) {
		t.Fatal("the connection holding a zero window was never closed")
	}
	stillServes(t, srv)
}

// TestH2cInterimResponses: 103 Early Hints from the upstream reach the
// HTTP/2 client as an interim HEADERS before the response, and a request
// with Expect: 100-continue gets its 100 and sends its body.
func TestH2cInterimResponses(t *testing.T) {
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = io.WriteString(w, "page")
			return
		}
		body, _ := io.ReadAll(r.Body)
		_, _ = fmt.Fprintf(w, "got %d bytes", len(body))
	})
	srv := startH2(t, proxyTo(up.addr))
	cl := h2cClient(t)
	base := "http://" + srv.Addr()

	var mu sync.Mutex
	var interim []int
	var link string
	trace := &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			if code == 100 {
				return nil // Got100Continue counts it
			}
			mu.Lock()
			defer mu.Unlock()
			interim = append(interim, code)
			if code == 103 {
				link = h.Get("Link")
			}
			return nil
		},
		Got100Continue: func() {
			mu.Lock()
			defer mu.Unlock()
			interim = append(interim, 100)
		},
	}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/hints", nil)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); resp.StatusCode != 200 || body != "page" {
		t.Fatalf("after the hints: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	if len(interim) != 1 || interim[0] != 103 || link != "</style.css>; rel=preload; as=style" {
		t.Fatalf("interim responses %v, Link %q; want one 103 with the upstream's Link", interim, link)
	}
	interim = nil
	mu.Unlock()

	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, ExpectContinueTimeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	req, _ = http.NewRequestWithContext(ctx, "POST", base+"/upload", strings.NewReader(strings.Repeat("u", 1000)))
	req.Header.Set("Expect", "100-continue")
	resp, err = (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if body := readBody(t, resp); body != "got 1000 bytes" {
		t.Fatalf("100-continue upload: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(interim) != 1 || interim[0] != 100 {
		t.Fatalf("interim responses %v, want [100] before the body was sent", interim)
	}
}

// TestH2cDrainGoAway: on drain, a connection with a stream in flight gets
// GOAWAY (no new streams) and the stream still completes.
func TestH2cDrainGoAway(t *testing.T) {
	release := make(chan struct{})
	up := newHTTPUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	cfg.Timeouts.Drain = 10 * time.Second
	srv := startServer(t, cfg)
	r := dialRawH2(t, srv)
	if err := r.request(1, "GET", "/slow", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() bool { return up.reqs.Load() == 1 }, "the slow request never reached the upstream")
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	ga, err := r.goAway(10 * time.Second)
	if ga == nil {
		t.Fatalf("no GOAWAY on drain: %v", err)
	}
	if ga.ErrCode != http2.ErrCodeNo || ga.LastStreamID != 1 {
		t.Fatalf("GOAWAY %v last stream %d, want NO_ERROR and 1", ga.ErrCode, ga.LastStreamID)
	}
	close(release)
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var status string
	var body []byte
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("stream 1 did not finish after the GOAWAY (status %q, body %q): %v", status, body, err)
		}
		if h, ok := f.(*http2.MetaHeadersFrame); ok && h.StreamID == 1 {
			status = h.PseudoValue("status")
		}
		if d, ok := f.(*http2.DataFrame); ok && d.StreamID == 1 {
			body = append(body, d.Data()...)
			if d.StreamEnded() {
				break
			}
		}
	}
	if status != "200" || string(body) != "done" {
		t.Fatalf("the in-flight stream ended with %q %q", status, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// TestH2cAccessLogProtocol: an HTTP/2 stream's access-log line says so.
func TestH2cAccessLogProtocol(t *testing.T) {
	up := newHTTPUpstream(t, echoHandler)
	var out syncBuffer
	cfg := testConfig(t, proxyTo(up.addr))
	cfg.Listeners[0].Protocols = []string{"http1", "h2c"}
	srv := startLogged(t, cfg, &out)
	resp, err := h2cClient(t).Get("http://" + srv.Addr() + "/logged")
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	c := dial(t, srv)
	readBody(t, roundTrip(t, c, bufio.NewReader(c), "GET /logged11 HTTP/1.1\r\nHost: x\r\n\r\n", "GET"))
	var lines []map[string]any
	eventually(t, 10*time.Second, func() bool { lines = out.lines(t); return len(lines) == 2 }, "two access-log lines")
	got := map[string]any{}
	for _, l := range lines {
		got[fmt.Sprint(l["path"])] = l["protocol"]
	}
	if got["/logged"] != "HTTP/2.0" || got["/logged11"] != "HTTP/1.1" {
		t.Fatalf("protocols logged: %v", got)
	}
}
