package accesslog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAppendString(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the decoded JSON string
	}{
		{"plain", "/api/v1/users", "/api/v1/users"},
		{"empty", "", ""},
		{"quotes", `say "hi"`, `say "hi"`},
		{"backslash", `a\b`, `a\b`},
		{"newline tab cr", "a\nb\tc\rd", "a\nb\tc\rd"},
		{"nul and escape", "a\x00b\x1bc", "a\x00b\x1bc"},
		{"unit separator", "\x1f", "\x1f"},
		{"del is legal", "a\x7fb", "a\x7fb"},
		{"utf8 two bytes", "café", "café"},
		{"utf8 four bytes", "ok 🚀", "ok 🚀"},
		{"invalid byte", "a\xffb", "a\ufffdb"},
		{"truncated sequence", "a\xe2\x82", "a\ufffd\ufffd"},
		{"lone continuation", "\x80x", "\ufffdx"},
		{"surrogate half", "\xed\xa0\x80", "\ufffd\ufffd\ufffd"},
		{"html stays", "<script>&", "<script>&"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := append([]byte{'"'}, appendString(nil, []byte(tt.in))...)
			enc = append(enc, '"')
			var got string
			if err := json.Unmarshal(enc, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", enc, err)
			}
			if got != tt.want {
				t.Errorf("decoded %q, want %q (encoded %s)", got, tt.want, enc)
			}
			if len(enc)-2 > stringBound(len(tt.in)) {
				t.Errorf("encoded %d bytes, bound %d", len(enc)-2, stringBound(len(tt.in)))
			}
		})
	}
}

func TestAppendStringClips(t *testing.T) {
	in := bytes.Repeat([]byte{'\x01'}, 3*MaxField)
	out := appendString(nil, in)
	if len(out) != 6*MaxField {
		t.Fatalf("got %d bytes, want %d", len(out), 6*MaxField)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\xfe", "é\x00\n", "🚀"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		enc := append([]byte{'"'}, appendString(nil, in)...)
		enc = append(enc, '"')
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("invalid JSON for %q: %s: %v", in, enc, err)
		}
		if want := strings.ToValidUTF8(string(clip(in)), "\ufffd"); len(in) <= MaxField && isValid(in) && got != want {
			t.Fatalf("round trip %q -> %q", in, got)
		}
	})
}

func isValid(b []byte) bool { return strings.ToValidUTF8(string(b), "") == string(b) }

func TestAppendTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"epoch", time.Unix(0, 0), "1970-01-01T00:00:00.000Z"},
		{"millis", time.Date(2026, 11, 22, 10, 11, 12, 345_678_901, time.UTC), "2026-11-22T10:11:12.345Z"},
		{"non-UTC input", time.Date(2026, 1, 2, 3, 4, 5, 9_000_000, time.FixedZone("X", 3600)), "2026-01-02T02:04:05.009Z"},
		{"last ms", time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "2026-12-31T23:59:59.999Z"},
	}
	var c clock
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(c.appendTime(nil, tt.t.UnixNano())); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestAppendSeconds(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"zero", 0, "0.000000"},
		{"negative", -time.Second, "0.000000"},
		{"sub-microsecond rounds", 499, "0.000000"},
		{"rounds up", 500, "0.000001"},
		{"micros", 512 * time.Microsecond, "0.000512"},
		{"seconds", 12*time.Second + 3*time.Millisecond, "12.003000"},
		{"max duration", 1<<63 - 1, "9223372036.854776"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendSeconds(nil, tt.d)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func sampleRecord() *Record {
	return &Record{
		Time:             time.Date(2026, 11, 22, 10, 0, 0, 123_000_000, time.UTC).UnixNano(),
		Client:           netip.MustParseAddrPort("10.0.0.7:51544"),
		Method:           []byte("GET"),
		Host:             []byte("api.example.com"),
		Path:             []byte("/v1/users/42?fields=name"),
		Protocol:         []byte("HTTP/1.1"),
		Status:           200,
		BytesSent:        312,
		BytesReceived:    97,
		Duration:         512 * time.Microsecond,
		Upstream:         "10.0.1.2:8080",
		UpstreamDuration: 431 * time.Microsecond,
		Cache:            CacheMiss,
		Limiter:          LimiterAllowed,
		Route:            "users",
		UserAgent:        []byte(`curl/8.5.0 "quoted"`),
		RequestID:        []byte("f3a9"),
	}
}

func TestAppendRecord(t *testing.T) {
	tests := []struct {
		name   string
		modify func(r *Record)
		want   map[string]any
		absent []string
	}{
		{
			name:   "full",
			modify: func(*Record) {},
			want: map[string]any{
				"time": "2026-11-22T10:00:00.123Z", "client": "10.0.0.7:51544", "method": "GET",
				"host": "api.example.com", "path": "/v1/users/42", "query": "fields=name",
				"protocol": "HTTP/1.1", "status": 200.0, "bytes_sent": 312.0, "bytes_received": 97.0,
				"duration": 0.000512, "upstream": "10.0.1.2:8080", "upstream_duration": 0.000431,
				"cache": "MISS", "limiter": "allowed", "route": "users",
				"user_agent": `curl/8.5.0 "quoted"`, "request_id": "f3a9",
			},
		},
		{
			name: "cache hit without upstream and optional fields",
			modify: func(r *Record) {
				r.Path, r.Upstream, r.Cache, r.Limiter = []byte("/static/a.css"), "", CacheHit, LimiterNone
				r.UserAgent, r.RequestID = nil, nil
			},
			want:   map[string]any{"path": "/static/a.css", "cache": "HIT", "limiter": "-"},
			absent: []string{"query", "upstream", "upstream_duration", "user_agent", "request_id", "client_ip", "reason"},
		},
		{
			name: "client behind a trusted proxy, gateway error",
			modify: func(r *Record) {
				r.ClientIP, r.Status, r.Reason = netip.MustParseAddr("203.0.113.9"), 502, ReasonConnectFailure
			},
			want: map[string]any{"client": "10.0.0.7:51544", "client_ip": "203.0.113.9", "status": 502.0, "reason": "connect_failure"},
		},
		{
			name:   "explicit query keeps the path",
			modify: func(r *Record) { r.Path, r.Query = []byte("/a?b"), []byte("c=d") },
			want:   map[string]any{"path": "/a?b", "query": "c=d"},
		},
		{
			name:   "ipv6 client",
			modify: func(r *Record) { r.Client = netip.MustParseAddrPort("[::1]:8080") },
			want:   map[string]any{"client": "[::1]:8080"},
		},
		{
			name:   "no client, rejected by limiter",
			modify: func(r *Record) { r.Client = netip.AddrPort{}; r.Limiter = LimiterRejected; r.Status = 429 },
			want:   map[string]any{"client": "", "limiter": "rejected", "status": 429.0},
		},
		{
			name:   "hostile path",
			modify: func(r *Record) { r.Path = []byte("/\"}\n{\"x\":\xff") },
			want:   map[string]any{"path": "/\"}\n{\"x\":\ufffd"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleRecord()
			tt.modify(r)
			line := appendRecord(nil, r, &clock{}, nil)
			if len(line) > recordBound(r) {
				t.Errorf("line is %d bytes, bound %d", len(line), recordBound(r))
			}
			if bytes.Count(line, []byte{'\n'}) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
			var got map[string]any
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("invalid JSON %s: %v", line, err)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := got[k]; ok {
					t.Errorf("%s present, want absent", k)
				}
			}
		})
	}
}

func TestReasonsNamed(t *testing.T) {
	seen := map[string]bool{}
	for r := ReasonNone + 1; r < numReasons; r++ {
		if r.String() == "" || seen[r.String()] {
			t.Errorf("reason %d: %q (empty or twice)", r, r.String())
		}
		seen[r.String()] = true
	}
}

func TestLargestRecordFits(t *testing.T) {
	big := bytes.Repeat([]byte{0x01}, 2*MaxField)
	bigs := string(big)
	r := &Record{Method: big, Host: big, Path: big, Query: big, Protocol: big, UserAgent: big,
		RequestID: big, Route: bigs, Upstream: bigs, Status: -1 << 62, BytesSent: -1 << 62,
		BytesReceived: -1 << 62, Duration: 1<<63 - 1, UpstreamDuration: 1<<63 - 1, Time: 1<<63 - 1,
		Client:   netip.MustParseAddrPort("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%eth12345678901]:65535"),
		ClientIP: netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%eth12345678901"), Reason: ReasonAggregateSaturated}
	line := appendRecord(nil, r, &clock{}, nil)
	if len(line) > recordBound(r) || recordBound(r) > maxRecord || maxRecord > MinBufferSize {
		t.Fatalf("line %d, bound %d, maxRecord %d, MinBufferSize %d", len(line), recordBound(r), maxRecord, MinBufferSize)
	}
	if !json.Valid(line) {
		t.Fatalf("invalid JSON")
	}
}

func TestBufferLayout(t *testing.T) {
	if s := unsafe.Sizeof(Buffer{}); s%64 != 0 {
		t.Fatalf("Buffer is %d bytes, not a multiple of 64", s)
	}
}

func newLog(t *testing.T, opts Options) *Log {
	t.Helper()
	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func readLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", len(out)+1, err, sc.Bytes())
		}
		out = append(out, m)
	}
	return out
}

func TestLogToFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l := newLog(t, Options{Path: path, Loops: 2})
	r := sampleRecord()
	const n = 2000 // several buffers per loop
	for i := 0; i < n; i++ {
		r.Status = 200 + i%2
		l.Buffer(i % 2).Append(r)
		if i%500 == 0 {
			l.Buffer(0).Flush()
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != ErrClosed {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	lines := readLines(t, path)
	if len(lines)+int(l.Dropped()) != n {
		t.Fatalf("%d lines + %d dropped, want %d", len(lines), l.Dropped(), n)
	}
	if l.Dropped() != 0 {
		t.Logf("dropped %d (writer behind on a busy machine)", l.Dropped())
	}
}

func TestSampling(t *testing.T) {
	tests := []struct {
		name     string
		sample   int
		off      bool
		statuses []int
		want     int
	}{
		{"all", 1, false, repeat(200, 100), 100},
		{"zero means all", 0, false, repeat(200, 100), 100},
		{"one in ten", 10, false, repeat(200, 100), 10},
		{"errors always", 10, false, append(repeat(200, 100), repeat(502, 5)...), 15},
		{"off", 1, true, repeat(500, 100), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "access.log")
			l := newLog(t, Options{Path: path, Sample: tt.sample, Off: tt.off})
			r := sampleRecord()
			for _, s := range tt.statuses {
				r.Status = s
				l.Buffer(0).Append(r)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := len(readLines(t, path)); got != tt.want {
				t.Errorf("%d lines, want %d", got, tt.want)
			}
		})
	}
}

func repeat(status, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = status
	}
	return s
}

func TestSetEnabled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	l := newLog(t, Options{Path: path, Sample: 2, Off: true})
	b := l.Buffer(0)
	b.Append(sampleRecord())
	l.SetEnabled(true)
	for i := 0; i < 4; i++ {
		b.Append(sampleRecord())
	}
	l.SetSample(1)
	b.Append(sampleRecord())
	l.SetEnabled(false)
	b.Append(sampleRecord())
	var nilBuf *Buffer
	nilBuf.Append(sampleRecord())
	nilBuf.Flush()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(readLines(t, path)); got != 3 {
		t.Errorf("%d lines, want 3", got)
	}
}

// TestBlockedWriterNeverBlocksAppend writes to a pipe nobody reads: the
// writer goroutine blocks in Write, the queue and the spares run out, and
// Append must keep returning (a blocking Append hangs this test) while the
// drop counter grows.
func TestBlockedWriterNeverBlocksAppend(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	l := newLog(t, Options{Output: pw, Loops: 1, Spares: 1, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		pr.Close() // unblocks the writer with EPIPE
		if err := l.Close(); err != nil {
			t.Error(err)
		}
		pw.Close()
	})
	r := sampleRecord()
	b := l.Buffer(0)
	const n = 20000 // ~8 MB of lines against a 64 KiB pipe and 3 buffers
	for i := 0; i < n; i++ {
		b.Append(r)
	}
	b.Flush()
	if b.Dropped() == 0 || l.Dropped() != b.Dropped() {
		t.Fatalf("Dropped = %d (buffer %d), want > 0", l.Dropped(), b.Dropped())
	}
	if l.Dropped() >= n {
		t.Fatalf("dropped all %d records; the first buffers should have been handed off", n)
	}
	if cap(b.cur) != 0 && cap(b.cur) != DefaultBufferSize {
		t.Errorf("buffer grew to %d", cap(b.cur))
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l := newLog(t, Options{Path: path})
	b := l.Buffer(0)
	b.Append(sampleRecord())
	b.Flush()
	// Wait for the writer before moving the file, as logrotate would after
	// its copy; poll with a deadline rather than sleep.
	deadline := time.Now().Add(10 * time.Second)
	for l.Written() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	b.Append(sampleRecord())
	b.Append(sampleRecord())
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(readLines(t, path+".1")); got != 1 {
		t.Errorf("rotated file has %d lines, want 1", got)
	}
	if got := len(readLines(t, path)); got != 2 {
		t.Errorf("new file has %d lines, want 2", got)
	}
	if err := l.Reopen(); err != ErrClosed {
		t.Errorf("Reopen after Close = %v, want ErrClosed", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	if _, err := New(Options{BufferSize: 1024}); err == nil {
		t.Error("small buffer accepted")
	}
	if _, err := New(Options{Path: filepath.Join(t.TempDir(), "no", "such", "dir")}); err == nil {
		t.Error("unopenable path accepted")
	}
}

func TestAppendAllocs(t *testing.T) {
	l := newLog(t, Options{Output: discard{}, Loops: 1})
	t.Cleanup(func() { l.Close() })
	b := l.Buffer(0)
	r := sampleRecord()
	allocs := testing.AllocsPerRun(5000, func() { // ~9 hand-offs to the writer
		r.Time += int64(time.Millisecond)
		b.Append(r)
	})
	if allocs != 0 {
		t.Fatalf("Append allocates %v times", allocs)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkAppendRecord is the formatting alone: one record into a
// buffer with room.
func BenchmarkAppendRecord(b *testing.B) {
	r := sampleRecord()
	var c clock
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		r.Time += int64(time.Microsecond)
		buf = appendRecord(buf[:0], r, &c, nil)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkAppend is Append with a writer goroutine behind it. On a loaded
// machine the writer may not keep up, and dropped records are cheaper than
// written ones: read it with the "dropped" figure.
func BenchmarkAppend(b *testing.B) {
	l, err := New(Options{Output: discard{}, Loops: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	buf := l.Buffer(0)
	r := sampleRecord()
	b.ReportAllocs()
	for b.Loop() {
		r.Time += int64(time.Microsecond)
		buf.Append(r)
	}
	b.StopTimer()
	b.ReportMetric(float64(l.Dropped()), "dropped")
}
