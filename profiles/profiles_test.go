package profiles

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAdmin serves net/http/pprof on 127.0.0.1:0, as hotpath's admin
// listener does, and returns its base URL.
func fakeAdmin(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

// checkProfile checks that path is a non-empty gzip stream (pprof's
// profile.proto is gzip-compressed protobuf).
func checkProfile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: not gzip: %v", filepath.Base(path), err)
	}
	n, err := io.Copy(io.Discard, zr)
	if err != nil || n == 0 {
		t.Fatalf("%s: %d bytes of protobuf, err %v", filepath.Base(path), n, err)
	}
}

// capture takes a one-second window of profiles with a little CPU work.
func capture(t *testing.T, base, dir, name string, trace bool) string {
	t.Helper()
	c, err := Start(context.Background(), Options{
		BaseURL: base, Dir: dir, Name: name, Duration: time.Second, Trace: trace,
		Client: &http.Client{Transport: &http.Transport{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.opts.Client.CloseIdleConnections)
	deadline := time.Now().Add(time.Second)
	x := 0
	for time.Now().Before(deadline) { // the measured window: some work to sample
		for i := 0; i < 1000; i++ {
			x += i * i
		}
	}
	_ = x
	runDir, err := c.Finish([]byte(`{"rps":1234}`))
	if err != nil {
		t.Fatal(err)
	}
	if runDir != c.Dir() {
		t.Errorf("Finish dir %q != Dir %q", runDir, c.Dir())
	}
	return runDir
}

func TestCapture(t *testing.T) {
	base := fakeAdmin(t)
	dir := t.TempDir()
	runDir := capture(t, base, dir, "keep alive/64", true)
	if got := filepath.Base(runDir); !strings.HasSuffix(got, "-keep-alive-64") || filepath.Dir(runDir) != dir {
		t.Errorf("run dir %q", runDir)
	}
	for _, k := range AllKinds {
		checkProfile(t, filepath.Join(runDir, k.File()))
	}
	if st, err := os.Stat(filepath.Join(runDir, Trace.File())); err != nil || st.Size() == 0 {
		t.Errorf("trace: %v", err)
	}
	run, err := os.ReadFile(filepath.Join(runDir, "run.json"))
	if err != nil || string(run) != `{"rps":1234}` {
		t.Errorf("run.json = %q, %v", run, err)
	}
	var meta struct {
		CPUSecs int      `json:"cpu_seconds"`
		Files   []string `json:"files"`
	}
	b, err := os.ReadFile(filepath.Join(runDir, "capture.json"))
	if err != nil || json.Unmarshal(b, &meta) != nil {
		t.Fatalf("capture.json: %v: %s", err, b)
	}
	if meta.CPUSecs != 1 || len(meta.Files) != len(AllKinds)+1 {
		t.Errorf("capture.json = %+v", meta)
	}
}

func TestCaptureKindsAndErrors(t *testing.T) {
	base := fakeAdmin(t)
	dir := t.TempDir()
	c, err := Start(context.Background(), Options{
		BaseURL: base + "/", Dir: dir, Duration: 1500 * time.Millisecond, Kinds: []Kind{Goroutine, "nonesuch"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings()) != 1 || c.seconds != 2 {
		t.Errorf("1.5 s window: seconds %d, warnings %q", c.seconds, c.Warnings())
	}
	runDir, err := c.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(runDir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "capture.json,goroutine.pprof" {
		t.Errorf("files %v", names)
	}
	if _, err := c.Finish(nil); !errors.Is(err, ErrFinished) {
		t.Errorf("second Finish = %v", err)
	}

	// A CPU profile already running on the server: the second capture's
	// CPU request fails, the other profiles are kept.
	busy, err := Start(context.Background(), Options{BaseURL: base, Dir: dir, Name: "a", Duration: time.Second, Kinds: []Kind{CPU}})
	if err != nil {
		t.Fatal(err)
	}
	// No ordering needed: one of the two fails whichever reaches the server first.
	second, err := Start(context.Background(), Options{BaseURL: base, Dir: dir, Name: "a", Duration: time.Second, Kinds: []Kind{CPU, Goroutine}})
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := busy.Finish(nil)
	d2, err2 := second.Finish(nil)
	if (err1 == nil) == (err2 == nil) {
		t.Fatalf("want exactly one CPU capture to fail: %v / %v", err1, err2)
	}
	checkProfile(t, filepath.Join(d2, Goroutine.File()))
	if filepath.Base(d2) == filepath.Base(busy.Dir()) {
		t.Errorf("two runs in one directory %s", d2)
	}
}

func TestStartOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
	}{
		{"no base URL", Options{Dir: "x", Duration: time.Second}},
		{"no dir", Options{BaseURL: "http://127.0.0.1:1", Duration: time.Second}},
		{"no duration", Options{BaseURL: "http://127.0.0.1:1", Dir: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Start(context.Background(), tt.opts); !errors.Is(err, ErrOptions) {
				t.Errorf("Start = %v, want ErrOptions", err)
			}
		})
	}
}

func TestBaselineAndDiff(t *testing.T) {
	base := fakeAdmin(t)
	dir := t.TempDir()
	run1 := capture(t, base, dir, "before", false)
	bdir, err := SaveBaseline(run1, "main")
	if err != nil {
		t.Fatal(err)
	}
	if bdir != filepath.Join(dir, "baselines", "main") {
		t.Errorf("baseline dir %s", bdir)
	}
	checkProfile(t, filepath.Join(bdir, CPU.File()))
	// Saving again replaces it.
	if _, err := SaveBaseline(run1, "main"); err != nil {
		t.Fatal(err)
	}
	run2 := capture(t, base, dir, "after", false)

	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH: skipping the go tool pprof diff")
	}
	for _, k := range []Kind{CPU, Heap, Goroutine} {
		out, err := Diff(bdir, run2, k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if !strings.Contains(out, "flat") {
			t.Errorf("%s diff output without a table:\n%s", k, out)
		}
	}
	if _, err := Diff(bdir, run2, Trace); !errors.Is(err, ErrOptions) {
		t.Errorf("trace diff = %v", err)
	}
	if _, err := Diff(bdir, t.TempDir(), CPU); !errors.Is(err, ErrNoProfile) {
		t.Errorf("missing profile = %v", err)
	}
	if !strings.HasSuffix(run2, "-after") {
		t.Errorf("run dir %s", run2)
	}
}
