package gateway

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/internal/fleettest"
)

// The figures of the fleet issue, measured rather than asserted loosely:
// run them with `make bench-fleet` (or go test -run Figure -fleet.long
// ./gateway). They take about a minute and want a quiet machine.
var (
	fleetLong     = flag.Bool("fleet.long", false, "run the fleet measurements (TestFleetFigure*)")
	fleetBin      = flag.String("fleet.bin", "", "the hotpath binary for TestFleetFigureCPU (default: built into a temp dir)")
	fleetSync     = flag.Duration("fleet.sync", 200*time.Millisecond, "redis sync_interval for TestFleetFigureSharedLimit")
	fleetDuration = flag.Duration("fleet.duration", 10*time.Second, "load duration of TestFleetFigureSharedLimit")
)

func needLong(t *testing.T) {
	t.Helper()
	if !*fleetLong {
		t.Skip("a measurement: run with -fleet.long (make bench-fleet)")
	}
}

// TestFleetFigureSharedLimit: two gateways share 1000 req/s through Redis,
// each loaded well past it; the fleet must admit 1000 req/s ±5% over the
// run, with at most one script call per 50 admitted requests.
func TestFleetFigureSharedLimit(t *testing.T) {
	needLong(t)
	r := fleettest.Redis(t)
	up := newBackend(t, "app")
	const rate, burst = 1000, 50
	y := globalLimitYAML(r.Addr, up.addr, rate, burst, *fleetSync)
	gs := []*Gateway{startYAML(t, y, Options{}), startYAML(t, y, Options{})}
	for _, g := range gs {
		eventually(t, "redis_up", func() bool { return metric(t, g, "hotpath_globallimit_redis_up", "redis", "main") == 1 })
	}
	allBefore, scriptsBefore := redisCalls(t, r.Addr)
	start := time.Now()
	l := startLoad([]string{"http://" + gs[0].Engine().Addr() + "/limited", "http://" + gs[1].Engine().Addr() + "/limited"}, 4)
	eventually(t, "the run", func() bool { return time.Since(start) >= *fleetDuration })
	l.halt()
	elapsed := time.Since(start)
	all, scripts := redisCalls(t, r.Addr)
	admitted := float64(l.ok.Load())
	perSec := (admitted - burst) / elapsed.Seconds()
	offered := float64(l.ok.Load()+l.limited.Load()) / elapsed.Seconds()
	t.Logf("FIGURE shared limit %d/s (burst %d), sync_interval %v, %v: offered %.0f req/s to two gateways; admitted %.0f = %.1f req/s after the burst (%.3fx the limit)",
		rate, burst, *fleetSync, elapsed.Round(time.Millisecond), offered, admitted, perSec, perSec/rate)
	t.Logf("FIGURE redis: %d script calls (%.4f per admitted request, 1/%.0f), %d commands counting script-internal ones (%.4f per admitted, 1/%.0f)",
		scripts-scriptsBefore, float64(scripts-scriptsBefore)/admitted, admitted/float64(scripts-scriptsBefore),
		all-allBefore, float64(all-allBefore)/admitted, admitted/float64(all-allBefore))
	if l.failures() != 0 {
		t.Errorf("requests failed: %v", l)
	}
	if offered < 1.5*rate {
		t.Errorf("offered only %.0f req/s: not loaded past the limit", offered)
	}
	if perSec < 0.95*rate || perSec > 1.05*rate {
		t.Errorf("admitted %.1f req/s, want %d ±5%%", perSec, rate)
	}
	if float64(scripts-scriptsBefore)/admitted > 1.0/50 {
		t.Errorf("%.4f script calls per admitted request, want at most 1/50", float64(scripts-scriptsBefore)/admitted)
	}
}

// TestFleetFigureCPU measures the gateway process's CPU time per request on
// a rate-limited route with scope local and scope global (Redis at a 200ms
// sync), interleaved local, global, local, ... and reports the medians.
// Two cases: a limit far above the load (every request admitted and
// proxied: the limiter's cost) and one far below it (mostly 429).
func TestFleetFigureCPU(t *testing.T) {
	needLong(t)
	bin := *fleetBin
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "hotpath")
		out, err := exec.Command("go", "build", "-o", bin, "../cmd/hotpath").CombinedOutput()
		if err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	r := fleettest.Redis(t)
	up := newBackend(t, "app")
	const rounds, measure = 5, 3 * time.Second
	for _, c := range []struct {
		name        string
		rate, burst int
	}{
		{name: "rate_limited", rate: 1000000, burst: 1000},
		{name: "rate_limit_reject", rate: 1000, burst: 100},
	} {
		cpu := map[string][]float64{}
		for round := range rounds {
			for _, scope := range []string{"local", "global"} {
				us, n := cpuPerRequest(t, bin, r.Addr, up.addr, scope, c.rate, c.burst, measure)
				cpu[scope] = append(cpu[scope], us)
				t.Logf("%s round %d %s: %.2f µs CPU per request (%d requests)", c.name, round, scope, us, n)
			}
		}
		lm, gm := median(cpu["local"]), median(cpu["global"])
		t.Logf("FIGURE %s: CPU per request, median of %d interleaved runs: local %.2f µs, global %.2f µs: %.3fx", c.name, rounds, lm, gm, gm/lm)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// cpuPerRequest runs the hotpath binary on a one-loop config whose route
// has the given limit, loads it closed-loop for d after a warm-up, and
// returns its CPU time per answered request.
func cpuPerRequest(t *testing.T, bin, redis, upstream, scope string, rate, burst int, d time.Duration) (float64, int64) {
	t.Helper()
	dir := t.TempDir()
	extra := ""
	if scope == "global" {
		extra = ", scope: global, redis: main"
	}
	y := fmt.Sprintf(`listeners: [{address: 127.0.0.1:0, workers: 1}]
metrics: {enabled: false}
redis: [{name: main, address: %q}]
upstreams: [{name: app, endpoints: [{address: %q}], pool: {max_idle: 256}}]
routes:
  - {name: r, path: /*p, upstream: app, rate_limit: {rate: %d, burst: %d, key: [client_ip]%s}}
`, redis, upstream, rate, burst, extra)
	cfg := filepath.Join(dir, "hotpath.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfg)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	// The process log (text): ... msg="hotpath listening" addrs=127.0.0.1:PORT ...
	addr := ""
	sc := bufio.NewScanner(stderr)
	for addr == "" && sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="hotpath listening"`) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if a, ok := strings.CutPrefix(f, "addrs="); ok {
				addr = a
			}
		}
	}
	if addr == "" {
		t.Fatalf("hotpath never said where it listens: %v", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }() // keep the pipe drained
	l := startLoad([]string{"http://" + addr + "/x"}, 16)
	defer l.halt()
	warm := time.Now()
	eventually(t, "the warm-up", func() bool { return time.Since(warm) >= time.Second })
	n0, c0 := l.ok.Load()+l.limited.Load(), procCPU(t, cmd.Process.Pid)
	start := time.Now()
	eventually(t, "the run", func() bool { return time.Since(start) >= d })
	n1, c1 := l.ok.Load()+l.limited.Load(), procCPU(t, cmd.Process.Pid)
	if l.failures() != 0 {
		t.Errorf("%s: requests failed: %v", scope, l)
	}
	return float64(c1-c0) / float64(time.Microsecond) / float64(n1-n0), n1 - n0
}

// procCPU returns a process's user+system CPU time from /proc (10 ms
// resolution at USER_HZ 100).
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}
