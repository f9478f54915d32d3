package gateway

import (
	"bufio"
	"encoding/json"
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
// a rate-limited route with scope local and scope global (Redis at the
// default 200ms sync), interleaved local, global, global, local, ... and reports
// the medians and the median of each pair's ratio. hotpath runs one event
// loop in front of hotecho, loaded by hotload (64 connections, closed loop,
// as make bench loads it):
// the binaries of make build (-fleet.bin names hotpath; hotecho and hotload
// are beside it). Two cases: a limit far above the load (every request
// admitted and proxied: the limiter's cost) and one far below it (mostly
// 429).
func TestFleetFigureCPU(t *testing.T) {
	needLong(t)
	bin := *fleetBin
	if bin == "" {
		t.Skip("needs the binaries of make build: -fleet.bin=bin/hotpath (make bench-fleet)")
	}
	dir := filepath.Dir(bin)
	r := fleettest.Redis(t)
	echo := startProcess(t, filepath.Join(dir, "hotecho"), "-addr", "127.0.0.1:0")
	echoAddr := ""
	for echoAddr == "" {
		line, ok := echo.line()
		if !ok {
			t.Fatal("hotecho never said where it listens")
		}
		// "hotecho listening on http://127.0.0.1:PORT (size 13)"
		if _, rest, found := strings.Cut(line, "listening on http://"); found {
			echoAddr, _, _ = strings.Cut(rest, " ")
		}
	}
	const rounds, measure = 7, 3 * time.Second
	for _, c := range []struct {
		name        string
		rate, burst int
	}{
		{name: "rate_limited", rate: 1000000, burst: 1000},
		{name: "rate_limit_reject", rate: 1000, burst: 100},
	} {
		cpu := map[string][]float64{}
		var ratios []float64
		for round := range rounds {
			order := []string{"local", "global"}
			if round%2 == 1 {
				order = []string{"global", "local"} // ABBA: neither always runs first
			}
			for _, scope := range order {
				us, n := cpuPerRequest(t, dir, r.Addr, echoAddr, scope, c.rate, c.burst, measure)
				cpu[scope] = append(cpu[scope], us)
				t.Logf("%s round %d %s: %.2f µs CPU per request (%d requests)", c.name, round, scope, us, n)
			}
			ratios = append(ratios, cpu["global"][round]/cpu["local"][round])
		}
		lm, gm := median(cpu["local"]), median(cpu["global"])
		t.Logf("FIGURE %s: CPU per request, median of %d interleaved runs: local %.2f µs, global %.2f µs: %.3fx (median of the pairs' ratios %.3fx)",
			c.name, rounds, lm, gm, gm/lm, median(ratios))
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// process is a child process whose stdout and stderr lines a test reads.
type process struct {
	cmd   *exec.Cmd
	lines chan string
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, lines: make(chan string, 64)}
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default: // nobody reads any more: drop
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = pw.Close()
	})
	return p
}

// line returns the process's next output line (false once it exited).
func (p *process) line() (string, bool) {
	select {
	case l, ok := <-p.lines:
		return l, ok
	case <-time.After(30 * time.Second):
		return "", false
	}
}

// cpuPerRequest runs hotpath on a one-loop config whose route has the given
// limit, loads it with hotload for d after a warm-up, and returns its CPU
// time per answered request.
func cpuPerRequest(t *testing.T, dir, redis, upstream, scope string, rate, burst int, d time.Duration) (float64, int64) {
	t.Helper()
	tmp := t.TempDir()
	extra := ""
	if scope == "global" {
		extra = ", scope: global, redis: main"
	}
	y := fmt.Sprintf(`workers: 1
listeners: [{address: 127.0.0.1:0}]
metrics: {enabled: false}
redis: [{name: main, address: %q}]
upstreams: [{name: app, endpoints: [{address: %q}], pool: {max_idle: 256}}]
routes:
  - {name: r, path: /*p, upstream: app, rate_limit: {rate: %d, burst: %d, key: [client_ip]%s}}
`, redis, upstream, rate, burst, extra)
	cfg := filepath.Join(tmp, "hotpath.yaml")
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	hp := startProcess(t, filepath.Join(dir, "hotpath"), "-config", cfg)
	defer func() { _ = hp.cmd.Process.Kill() }()
	// The process log (text): ... msg="hotpath listening" addrs=127.0.0.1:PORT ...
	addr := ""
	for addr == "" {
		line, ok := hp.line()
		if !ok {
			t.Fatal("hotpath never said where it listens")
		}
		if !strings.Contains(line, `msg="hotpath listening"`) {
			continue
		}
		for _, f := range strings.Fields(line) {
			if a, ok := strings.CutPrefix(f, "addrs="); ok {
				addr = a
			}
		}
	}
	url := "http://" + addr + "/x"
	warm := exec.Command(filepath.Join(dir, "hotload"), "-c", "64", "-d", "1s", url)
	if out, err := warm.CombinedOutput(); err != nil {
		t.Fatalf("hotload warm-up: %v\n%s", err, out)
	}
	report := filepath.Join(tmp, "run.json")
	load := exec.Command(filepath.Join(dir, "hotload"), "-c", "64", "-d", d.String(), "--json", report, url)
	c0 := procCPU(t, hp.cmd.Process.Pid)
	if out, err := load.CombinedOutput(); err != nil {
		t.Fatalf("hotload: %v\n%s", err, out)
	}
	c1 := procCPU(t, hp.cmd.Process.Pid)
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Figures struct{ Requests int64 }
		Errors  map[string]int64
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	n := rep.Figures.Requests
	if n == 0 {
		t.Fatalf("%s: no requests answered: %s", scope, b)
	}
	return float64(c1-c0) / float64(time.Microsecond) / float64(n), n
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
