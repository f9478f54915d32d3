package echoserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// start serves cfg on 127.0.0.1:0 and returns its base URL.
func start(t *testing.T, cfg Config) (string, *Server) {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String(), srv
}

func client(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestModes(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		chunked bool
		size    int
	}{
		{name: "default", cfg: Config{}, size: DefaultSize},
		{name: "size", cfg: Config{Size: 100000}, size: 100000},
		{name: "chunked", cfg: Config{Size: 70000, Chunked: true, ChunkSize: 1000}, chunked: true, size: 70000},
		{name: "large", cfg: Config{Size: 8 << 20}, size: 8 << 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, srv := start(t, tc.cfg)
			c := client(t)
			req, _ := http.NewRequest("GET", url+"/x", nil)
			resp, body := get(t, c, req)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if len(body) != tc.size || string(body) != string(srv.Body()) {
				t.Fatalf("body %d bytes, want %d", len(body), tc.size)
			}
			if !strings.HasPrefix(string(body), "Hello") {
				t.Fatalf("body starts %q", body[:5])
			}
			isChunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
			if isChunked != tc.chunked {
				t.Fatalf("transfer-encoding %v, want chunked=%v", resp.TransferEncoding, tc.chunked)
			}
		})
	}
}

func TestChunkedWire(t *testing.T) {
	url, _ := start(t, Config{Size: 25, Chunked: true, ChunkSize: 10})
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	want := "\r\n\r\na\r\nHello, Wor\r\na\r\nld!Hello, \r\n5\r\nWorld\r\n0\r\n\r\n"
	if !strings.Contains(s, "Transfer-Encoding: chunked") || !strings.HasSuffix(s, want) {
		t.Fatalf("response:\n%q\nwant suffix %q", s, want)
	}
}

func TestStatusMix(t *testing.T) {
	url, _ := start(t, Config{StatusMix: []StatusWeight{{Status: 200, Weight: 50}, {Status: 503, Weight: 50}}})
	c := client(t)
	counts := map[int]int{}
	for range 200 {
		req, _ := http.NewRequest("GET", url+"/", nil)
		resp, _ := get(t, c, req)
		counts[resp.StatusCode]++
	}
	// 200 fair coin flips: each side below 50 has probability ~1e-12.
	if counts[200] < 50 || counts[503] < 50 || counts[200]+counts[503] != 200 {
		t.Fatalf("counts %v", counts)
	}
	req, _ := http.NewRequest("GET", url+"/healthz", nil)
	for range 20 {
		if resp, _ := get(t, c, req); resp.StatusCode != 200 {
			t.Fatalf("healthz %d", resp.StatusCode)
		}
	}
}

func TestEcho(t *testing.T) {
	url, _ := start(t, Config{Echo: true})
	c := client(t)
	req, _ := http.NewRequest("POST", url+"/echo/path?q=1", strings.NewReader("the body"))
	req.Header.Set("X-Test", "yes")
	_, body := get(t, c, req)
	s := string(body)
	for _, want := range []string{"POST /echo/path?q=1 HTTP/1.1\r\n", "X-Test: yes\r\n", "\r\n\r\nthe body"} {
		if !strings.Contains(s, want) {
			t.Fatalf("echo %q lacks %q", s, want)
		}
	}
}

func TestDelay(t *testing.T) {
	url, _ := start(t, Config{Delay: 50 * time.Millisecond})
	c := client(t)
	req, _ := http.NewRequest("GET", url+"/", nil)
	t0 := time.Now()
	get(t, c, req)
	// A lower bound only: the delay must be there; no upper bound is asserted.
	if d := time.Since(t0); d < 50*time.Millisecond {
		t.Fatalf("answered after %v, want >= 50ms", d)
	}
	// healthz skips the delay path; only check it answers.
	req, _ = http.NewRequest("GET", url+"/healthz", nil)
	if resp, _ := get(t, c, req); resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}

func TestDelayDistribution(t *testing.T) {
	tests := []struct {
		name string
		dist Dist
	}{{"uniform", Uniform}, {"normal", Normal}, {"exponential", Exponential}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond, JitterDist: tc.dist})
			if err != nil {
				t.Fatal(err)
			}
			var sum time.Duration
			const n = 20000
			for range n {
				d := s.delay()
				if d < 0 {
					t.Fatalf("negative delay %v", d)
				}
				sum += d
			}
			mean := sum / n
			want := 10 * time.Millisecond
			if tc.dist == Exponential {
				want = 12 * time.Millisecond
			}
			if diff := mean - want; diff < -200*time.Microsecond || diff > 200*time.Microsecond {
				t.Fatalf("mean %v, want about %v", mean, want)
			}
		})
	}
}

func TestStallWait(t *testing.T) {
	s, err := New(Config{Stall: Stall{Pause: 200 * time.Millisecond, Every: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	e := s.Epoch()
	tests := []struct {
		name string
		at   time.Duration
		want time.Duration
	}{
		{"window start", 0, 200 * time.Millisecond},
		{"inside", 150 * time.Millisecond, 50 * time.Millisecond},
		{"after pause", 200 * time.Millisecond, 0},
		{"mid window", 3 * time.Second, 0},
		{"second window", 5*time.Second + 10*time.Millisecond, 190 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.stallWait(e.Add(tc.at)); got != tc.want {
				t.Fatalf("stallWait(+%v) = %v, want %v", tc.at, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	mixes := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"empty", "", "", nil},
		{"two", "200:98,503:2", "200:98,503:2", nil},
		{"no colon", "200", "", ErrBadStatusMix},
		{"bad status", "99:1", "", ErrBadStatusMix},
		{"zero weight", "200:0", "", ErrBadStatusMix},
		{"junk", "200:x", "", ErrBadStatusMix},
	}
	for _, tc := range mixes {
		t.Run("mix/"+tc.name, func(t *testing.T) {
			m, err := ParseStatusMix(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if err == nil && FormatStatusMix(m) != tc.want {
				t.Fatalf("got %q, want %q", FormatStatusMix(m), tc.want)
			}
		})
	}
	stalls := []struct {
		name string
		in   string
		want Stall
		err  error
	}{
		{"empty", "", Stall{}, nil},
		{"ok", "200ms/5s", Stall{200 * time.Millisecond, 5 * time.Second}, nil},
		{"no slash", "200ms", Stall{}, ErrBadStall},
		{"pause too long", "5s/5s", Stall{}, ErrBadStall},
		{"bad duration", "x/5s", Stall{}, ErrBadStall},
	}
	for _, tc := range stalls {
		t.Run("stall/"+tc.name, func(t *testing.T) {
			s, err := ParseStall(tc.in)
			if !errors.Is(err, tc.err) || s != tc.want {
				t.Fatalf("got %v, %v; want %v, %v", s, err, tc.want, tc.err)
			}
		})
	}
	if _, err := ParseDist("gauss"); !errors.Is(err, ErrBadDist) {
		t.Fatalf("ParseDist(gauss) err %v", err)
	}
	if d, err := ParseDist("exponential"); err != nil || d != Exponential {
		t.Fatalf("ParseDist(exponential) = %v, %v", d, err)
	}
	if _, err := New(Config{Size: -1}); !errors.Is(err, ErrBadSize) {
		t.Fatalf("New(size -1) err %v", err)
	}
}

// FasthttpGoroutines are fasthttp's process-wide goroutines: the Date header
// ticker (started once, never stopped) and the idle-worker cleaner, which
// sleeps out its period after Shutdown before it sees the stop signal.
var FasthttpGoroutines = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, FasthttpGoroutines...) }
