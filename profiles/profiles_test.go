package profiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAdmin serves net/http/pprof on 127.0.0.1:0, as hotpath's admin
// listener does, and returns its base URL. With rates, it also answers
// GET /debug/pprof/rates as hotpath's admin does.
func fakeAdmin(t *testing.T, rates string) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if rates != "" {
		mux.HandleFunc("GET /debug/pprof/rates", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, rates)
		})
	}
	return serve(t, mux)
}

func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// parse checks that path is a profile.proto that github.com/google/pprof
// reads, and returns it.
func parse(t *testing.T, path string) *profile.Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return p
}

var sink [][]byte

// work is the load's stand-in: CPU, allocations and some lock contention
// in this process (the server) until d has passed.
func work(d time.Duration) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for range 2 {
		wg.Go(func() {
			x := 0
			for time.Now().Before(deadline) {
				mu.Lock()
				for i := range 2000 {
					x += i * i
				}
				sink = append(sink[:0], make([]byte, 256))
				mu.Unlock()
			}
			_ = x
		})
	}
	wg.Wait()
}

// capture takes a one-second window of kinds (all when nil) with work.
func capture(t *testing.T, base, dir, name string, kinds []Kind, trace time.Duration) (*Capture, *Manifest) {
	t.Helper()
	c, err := New(context.Background(), Options{BaseURL: base, Dir: dir, Name: name, Window: time.Second, Kinds: kinds, Trace: trace})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c.Start(start)
	c.Start(start) // a second Start does nothing
	work(time.Second)
	m, err := c.Finish(Run{
		Command: []string{"hotload", "-d", "1s"}, Target: "http://127.0.0.1:1/", Elapsed: time.Since(start),
		Summary: Summary{Requests: 1000, RPS: 1000, P99US: 900},
		Files:   map[string][]byte{"report.json": []byte(`{"version":1}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func TestCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("a one-second capture")
	}
	prev := runtime.SetMutexProfileFraction(5)
	t.Cleanup(func() { runtime.SetMutexProfileFraction(prev) })
	base := fakeAdmin(t, "")
	dir := t.TempDir()
	c, m := capture(t, base+"/debug/pprof/", dir, "keep alive/64", nil, 200*time.Millisecond)

	if got := filepath.Base(c.Dir()); !strings.HasSuffix(got, "-keep-alive-64") || filepath.Dir(c.Dir()) != dir || m.ID != got {
		t.Errorf("run dir %q, id %q", c.Dir(), m.ID)
	}
	want := map[string]string{ // file -> when
		"cpu.pprof": WhenWindow, "allocs.pprof": WhenWindow, "mutex.pprof": WhenWindow, "block.pprof": WhenWindow,
		"heap-before.pprof": WhenStart, "heap.pprof": WhenEnd, "goroutine.pprof": WhenEnd, "trace.out": WhenWindow,
	}
	if len(m.Profiles) != len(want) {
		t.Errorf("manifest lists %d profiles, want %d: %+v", len(m.Profiles), len(want), m.Profiles)
	}
	for _, e := range m.Profiles {
		if want[e.File] != e.When || e.Bytes == 0 {
			t.Errorf("%s: when %q (want %q), %d bytes", e.File, e.When, want[e.File], e.Bytes)
		}
		if e.Kind == Trace {
			continue
		}
		p := parse(t, filepath.Join(c.Dir(), e.File))
		if len(p.Sample) != e.Samples {
			t.Errorf("%s: manifest says %d samples, file has %d", e.File, e.Samples, len(p.Sample))
		}
	}
	if m.PprofURL != base || m.ProfileSec != 1 || m.TraceSec != 0.2 || m.Report != "report.json" || m.Rates != nil || m.WindowStart.IsZero() {
		t.Errorf("manifest %+v", m)
	}
	if s := m.Summary; s.Requests != 1000 || s.P99US != 900 ||
		s.ServerCPUSec != float64(entry(m, CPU).Total)/1e9 || s.ServerCPUPerReqUS != s.ServerCPUSec*1e6/1000 {
		t.Errorf("summary %+v, cpu total %d", s, entry(m, CPU).Total)
	}
	// What is on disk is what Finish returned.
	disk, err := ReadManifest(c.Dir())
	if err != nil || disk.ID != m.ID || len(disk.Profiles) != len(m.Profiles) || disk.Summary != m.Summary {
		t.Errorf("ReadManifest = %+v, %v", disk, err)
	}
	if b, err := os.ReadFile(filepath.Join(c.Dir(), "report.json")); err != nil || string(b) != `{"version":1}` {
		t.Errorf("report.json %q, %v", b, err)
	}
	if _, err := c.Finish(Run{}); !errors.Is(err, ErrFinished) {
		t.Errorf("second Finish = %v", err)
	}
}

func entry(m *Manifest, k Kind) Entry {
	for _, e := range m.Profiles {
		if e.Kind == k {
			return e
		}
	}
	return Entry{}
}

// hotpath's admin reports its rates; off means a warning before the load.
func TestCaptureRatesAndFailures(t *testing.T) {
	base := fakeAdmin(t, `{"mutex":0,"block":100000}`)
	c, err := New(context.Background(), Options{BaseURL: base, Dir: t.TempDir(), Window: 1500 * time.Millisecond, Kinds: []Kind{Mutex, Block, Goroutine}})
	if err != nil {
		t.Fatal(err)
	}
	if c.rates == nil || *c.rates != (Rates{Mutex: 0, Block: 100000}) || c.secs != 2 {
		t.Errorf("rates %+v, seconds %d", c.rates, c.secs)
	}
	w := strings.Join(c.Warnings(), "\n")
	if !strings.Contains(w, "mutex.pprof will be empty") || strings.Contains(w, "block.pprof") || !strings.Contains(w, "not whole seconds") {
		t.Errorf("warnings:\n%s", w)
	}

	// Finish before Start: the run ended in its warm-up. No profile, a
	// manifest saying so.
	m, err := c.Finish(Run{Files: map[string][]byte{"summary.txt": []byte("x")}})
	if !errors.Is(err, ErrNotStarted) || len(m.Profiles) != 0 || len(m.Errors) != 1 {
		t.Fatalf("Finish without Start = %v, %+v", err, m)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "summary.txt")); err != nil {
		t.Error(err)
	}

	// Abort removes the directory of a capture that never started.
	c, err = New(context.Background(), Options{BaseURL: base, Dir: t.TempDir(), Window: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("aborted run dir: %v", err)
	}

	// A server that answers the index but fails a profile: the others are
	// kept, the error names the one that failed.
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/heap", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no heap today", http.StatusInternalServerError)
	})
	c, err = New(context.Background(), Options{BaseURL: serve(t, mux), Dir: t.TempDir(), Window: time.Second, Kinds: []Kind{Heap, Goroutine}})
	if err != nil {
		t.Fatal(err)
	}
	c.Start(time.Now())
	m, err = c.Finish(Run{})
	if err == nil || !strings.Contains(err.Error(), "heap-before.pprof") || !strings.Contains(err.Error(), "no heap today") {
		t.Errorf("Finish = %v", err)
	}
	if len(m.Profiles) != 1 || m.Profiles[0].File != "goroutine.pprof" || len(m.Errors) != 2 {
		t.Errorf("manifest %+v", m)
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "heap.pprof")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed profile left a file: %v", err)
	}
}

func TestNewUnreachable(t *testing.T) {
	notPprof := serve(t, http.NotFoundHandler())
	tests := []struct {
		name, url, msg string
	}{
		{"closed port", "http://" + closedPort(t), "connection refused"},
		{"not pprof", notPprof, "answered 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "runs")
			_, err := New(context.Background(), Options{BaseURL: tt.url, Dir: dir, Window: time.Second})
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.url+"/debug/pprof/") {
				t.Fatalf("New = %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("profile dir created before the endpoint answered: %v", err)
			}
		})
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no base URL", Options{Dir: "x", Window: time.Second}},
		{"no dir", Options{BaseURL: "http://127.0.0.1:1", Window: time.Second}},
		{"no window", Options{BaseURL: "http://127.0.0.1:1", Dir: "x"}},
		{"not http", Options{BaseURL: "127.0.0.1:9901", Dir: "x", Window: time.Second}},
		{"trace longer than window", Options{BaseURL: "http://127.0.0.1:1", Dir: "x", Window: time.Second, Trace: 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(context.Background(), tt.opts); !errors.Is(err, ErrOptions) {
				t.Errorf("New = %v, want ErrOptions", err)
			}
		})
	}
}

func TestParseKinds(t *testing.T) {
	tests := []struct {
		in   string
		want []Kind
		err  bool
	}{
		{in: "cpu", want: []Kind{CPU}},
		{in: " heap, CPU ,cpu,trace", want: []Kind{Heap, CPU, Trace}},
		{in: "allocs,all", want: []Kind{Allocs, CPU, Heap, Mutex, Block, Goroutine}},
		{in: "cpu,threadcreate", err: true},
		{in: ",", err: true},
	}
	for _, tt := range tests {
		got, err := ParseKinds(tt.in)
		if (err != nil) != tt.err || (!tt.err && !slices.Equal(got, tt.want)) {
			t.Errorf("ParseKinds(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if tt.err && !errors.Is(err, ErrKind) {
			t.Errorf("ParseKinds(%q) error %v, want ErrKind", tt.in, err)
		}
	}
}

func TestBaselineAndDiff(t *testing.T) {
	if testing.Short() {
		t.Skip("two one-second captures")
	}
	base := fakeAdmin(t, "")
	root := t.TempDir()
	kinds := []Kind{CPU, Allocs, Goroutine}
	before, _ := capture(t, base, root, "before", kinds, 0)
	bdir, err := SaveBaseline(root, "main", before.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if bdir != BaselineDir(root, "main") || bdir != filepath.Join(root, "baselines", "main") {
		t.Errorf("baseline dir %s", bdir)
	}
	parse(t, filepath.Join(bdir, CPU.File()))
	if _, err := SaveBaseline(root, "main", before.Dir()); err != nil { // saving again replaces it
		t.Fatal(err)
	}
	if _, err := SaveBaseline(root, "pr-1", before.Dir()); err != nil {
		t.Fatal(err)
	}
	bs, err := Baselines(root)
	if err != nil || len(bs) != 2 || bs[0].Name != "main" || bs[1].Name != "pr-1" ||
		bs[0].Manifest.ID != before.ID() || !strings.HasSuffix(bs[0].Source, before.ID()) || bs[0].Saved.IsZero() {
		t.Fatalf("Baselines = %+v, %v", bs, err)
	}
	if _, err := OpenBaseline(root, "nope"); !errors.Is(err, ErrNoBaseline) || !strings.Contains(err.Error(), "have: main, pr-1") {
		t.Errorf("OpenBaseline(nope) = %v", err)
	}
	for _, bad := range []string{"", "..", "a/b"} {
		if _, err := SaveBaseline(root, bad, before.Dir()); !errors.Is(err, ErrOptions) {
			t.Errorf("SaveBaseline(%q) = %v", bad, err)
		}
	}
	if _, err := SaveBaseline(root, "x", t.TempDir()); !errors.Is(err, ErrNotRun) {
		t.Errorf("SaveBaseline of a non-run = %v", err)
	}

	after, _ := capture(t, base, root, "after", kinds, 0)
	var out bytes.Buffer
	err = Diff(context.Background(), &out, bdir, after.Dir(), DiffOptions{Kinds: []Kind{CPU, Allocs, Goroutine}, Top: 5, Builtin: true})
	if err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	for _, want := range []string{"requests/s", "server CPU us/request", "== cpu", "Type: cpu (nanoseconds)", "== allocs", "Type: alloc_space (bytes)", "== goroutine", "flat Δ"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("diff output lacks %q:\n%s", want, &out)
		}
	}
	// Missing profiles and traces are reported, the rest still printed.
	out.Reset()
	err = Diff(context.Background(), &out, bdir, after.Dir(), DiffOptions{Kinds: []Kind{Heap, Trace, CPU}, Builtin: true})
	if !errors.Is(err, ErrNoProfile) || !errors.Is(err, ErrKind) || !strings.Contains(out.String(), "Type: cpu") {
		t.Errorf("Diff = %v\n%s", err, &out)
	}

	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH: skipping the go tool pprof diff")
	}
	out.Reset()
	if err := Diff(context.Background(), &out, bdir, after.Dir(), DiffOptions{Top: 5}); err != nil {
		t.Fatalf("%v\n%s", err, &out)
	}
	if !strings.Contains(out.String(), "go tool pprof -top -nodecount=5") || !strings.Contains(out.String(), "flat%") {
		t.Errorf("go tool pprof diff:\n%s", &out)
	}
}

// The in-process diff on profiles built by hand: flat and cumulative
// changes, largest first, inlined frames counted.
func TestTopDiff(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	parseFn, readFn, mainFn := fn(1, "parser.Parse"), fn(2, "engine.read"), fn(3, "main")
	// engine.read has parser.Parse inlined into it.
	inlined := &profile.Location{ID: 1, Line: []profile.Line{{Function: parseFn}, {Function: readFn}}}
	mainLoc := &profile.Location{ID: 2, Line: []profile.Line{{Function: mainFn}}}
	readLoc := &profile.Location{ID: 3, Line: []profile.Line{{Function: readFn}}}
	mk := func(parse, read int64) *profile.Profile {
		return &profile.Profile{
			SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
			Sample: []*profile.Sample{
				{Location: []*profile.Location{inlined, mainLoc}, Value: []int64{1, parse}},
				{Location: []*profile.Location{readLoc, mainLoc}, Value: []int64{1, read}},
			},
			Location: []*profile.Location{inlined, mainLoc, readLoc},
			Function: []*profile.Function{parseFn, readFn, mainFn},
		}
	}
	var out bytes.Buffer
	if err := topDiff(&out, mk(100e6, 50e6), mk(40e6, 60e6), "", 10); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if !strings.Contains(lines[0], "base 150.00ms, run 100.00ms, change -50.00ms (-33.3%)") {
		t.Errorf("header %q", lines[0])
	}
	// parser.Parse: flat -60ms; engine.read: flat +10ms, cum -50ms; main: cum -50ms.
	want := [][]string{
		{"-60.00ms", "-40.00%", "-60.00ms", "-40.00%", "parser.Parse"},
		{"+10.00ms", "+6.67%", "-50.00ms", "-33.33%", "engine.read"},
		{"0ns", "+0.00%", "-50.00ms", "-33.33%", "main"},
	}
	if len(lines) != 2+len(want) {
		t.Fatalf("diff:\n%s", got)
	}
	for i, w := range want {
		if f := strings.Fields(lines[2+i]); !slices.Equal(f, w) {
			t.Errorf("row %d = %q, want %q", i, f, w)
		}
	}
}

func TestMismatch(t *testing.T) {
	base := &Manifest{ID: "a", Target: "http://x/", DurationSec: 10}
	tests := []struct {
		name string
		run  Manifest
		want []string
	}{
		{name: "same", run: Manifest{ID: "b", Target: "http://x/", DurationSec: 10}},
		{name: "duration not recorded", run: Manifest{ID: "b", Target: "http://x/"}},
		{name: "all differ", run: Manifest{ID: "b", Target: "http://y/", DurationSec: 5, Rate: 2000}, want: []string{
			"a and b differ in target: http://x/ vs http://y/",
			"a and b differ in duration: 10s vs 5s",
			"a and b differ in rate: closed loop vs 2000 req/s",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Mismatch(base, &tc.run)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("Mismatch = %q, want %q", got, tc.want)
			}
		})
	}
}
