package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/hotpath/hotpath/loadgen"
)

// Run runs the selected set: the scenarios against the selected
// contenders (results.md, results.json and latency.html in o.Out), or with
// Options.Set "features" the feature set (RunFeatures). A contender that
// cannot run a scenario (not installed, config refused, died) is recorded
// as skipped or failed in the report; Run fails only when nothing can be
// measured at all or ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	h, err := newHarness(o)
	if err != nil {
		return nil, err
	}
	defer h.close()
	switch h.o.Set {
	case SetFeatures:
		return h.features(ctx)
	case SetKnee:
		return h.knee(ctx)
	}
	scenarios, err := selectScenarios(h.o.Scenarios)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(h.o.Log, "bench: %d scenario(s) × %d contender(s) × %d round(s) of %v (+%v warm-up), -c %d; results in %s\n",
		len(scenarios), len(h.contenders), h.o.Rounds, h.o.Duration, max(h.o.Warmup, 0), h.o.Connections, h.o.Out)
	for _, s := range scenarios {
		sr := ScenarioResult{Name: s.Name, Desc: s.Desc, Idle: s.Idle}
		for _, c := range h.all {
			cr := &ContenderResult{Name: c.Name, Kind: c.Kind}
			if why, ok := h.missing[c.Name]; ok {
				cr.Skipped = why
			}
			sr.Contenders = append(sr.Contenders, cr)
		}
		run := h.scenario
		if s.Idle {
			run = h.idle
		}
		if err := run(ctx, s, &sr); err != nil {
			return nil, err
		}
		sr.summarize()
		h.rep.Scenarios = append(h.rep.Scenarios, sr)
		// Write after every scenario so that an interrupted run keeps what
		// it measured.
		if err := h.rep.write(); err != nil {
			return nil, err
		}
	}
	return h.rep, nil
}

// newHarness checks o, finds (or installs) the contenders and makes the
// results and scratch directories.
func newHarness(o Options) (*harness, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	all, err := selectContenders(o.Contenders)
	if err != nil {
		return nil, err
	}
	if o.BinB != "" {
		all = append(all, secondHotpath(o.NameB, o.BinB))
	}
	for _, b := range []string{"hotecho", "hotload"} {
		if _, err := os.Stat(filepath.Join(o.Bin, b)); err != nil {
			return nil, fmt.Errorf("bench: %s not found in %s (make build)", b, o.Bin)
		}
	}
	for _, cpus := range []*string{&o.ServerCPU, &o.ClientCPU} {
		if *cpus != "" && !cpusExist(*cpus) {
			fmt.Fprintf(o.Log, "bench: CPU %s not on this %d-CPU machine: not pinning\n", *cpus, runtime.NumCPU())
			*cpus = ""
		}
	}
	live, missing := findPeers(all, o.Bin, o.Install, o.Log)
	for name, why := range missing {
		fmt.Fprintf(o.Log, "bench: skipping %s: %s\n", name, why)
	}
	if len(live) == 0 {
		return nil, errors.New("bench: no contender can run")
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "hotpath-bench-")
	if err != nil {
		return nil, err
	}
	h := &harness{o: o, scratch: scratch, contenders: live, all: all, missing: missing}
	h.rep = &Report{Dir: o.Out, Meta: newMeta(o, live)}
	return h, nil
}

// nameWidth is the width of the longest contender name, for aligned logs.
func (h *harness) nameWidth() int {
	w := 7
	for _, c := range h.all {
		w = max(w, len(c.Name))
	}
	return w
}

// close removes the scratch directory.
func (h *harness) close() { os.RemoveAll(h.scratch) }

type harness struct {
	o          Options
	scratch    string
	contenders []*Contender      // those that can run
	all        []*Contender      // those selected, in run order
	missing    map[string]string // selected but cannot run: why
	rep        *Report
}

// running is a contender serving one scenario.
type running struct {
	c     *Contender
	res   *ContenderResult
	proc  *process
	addr  string
	admin string // hotpath's admin address, when it has one
}

// scenario runs every round of s and fills sr.
func (h *harness) scenario(ctx context.Context, s Scenario, sr *ScenarioResult) error {
	o := h.o
	dir := filepath.Join(h.scratch, s.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if s.Stream {
		if _, err := os.Stat(filepath.Join(o.Bin, "grpcstream")); err != nil {
			return fmt.Errorf("%s: grpcstream not found in %s (make bench builds it: go build -o %s/ ./bench/cmd/grpcstream)", s.Name, o.Bin, o.Bin)
		}
	}
	echo, echoAddr, err := h.startEcho(ctx, s, filepath.Join(dir, "hotecho.log"))
	if err != nil {
		return err
	}
	defer echo.stop(5 * time.Second)

	var routes []string
	for i := range s.Routes {
		routes = append(routes, routePath(i))
	}
	var live []*running
	defer func() {
		for _, r := range live {
			r.proc.stop(5 * time.Second)
		}
	}()
	for _, c := range h.contenders {
		res := sr.contender(c.Name)
		r, err := h.start(ctx, s, c, res, echoAddr, routes, filepath.Join(dir, c.Name))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(o.Log, "[%s] %s: %s%s\n", s.Name, c.Name, res.Skipped, res.Failed)
			continue
		}
		live = append(live, r)
	}

	for round := 1; round <= o.Rounds; round++ {
		for _, r := range live {
			if r.res.Failed != "" {
				continue
			}
			run, err := h.measure(ctx, s, r, echo, filepath.Join("raw", s.Name, fmt.Sprintf("%s-r%d", r.c.Name, round)), routes)
			run.Round = round
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				r.res.Failed = err.Error()
				fmt.Fprintf(o.Log, "[%s r%d/%d] %s: failed: %v\n", s.Name, round, o.Rounds, r.c.Name, err)
				continue
			}
			r.res.Runs = append(r.res.Runs, run)
			fmt.Fprintf(o.Log, "[%s r%d/%d] %-*s %9.0f req/s  %6.2f µs CPU/req (busy %3.0f%%)  p50 %s  p99 %s  p99.9 %s  errors %d\n",
				s.Name, round, o.Rounds, h.nameWidth(), r.c.Name, run.RPS, run.CPUPerReqUS, 100*run.ServerBusy,
				fmtLatency(float64(run.P50US)), fmtLatency(float64(run.P99US)), fmtLatency(float64(run.P999US)), run.Errors)
		}
	}
	return nil
}

// startEcho starts hotecho for s on the client CPU, logging to logPath,
// and waits until it listens.
func (h *harness) startEcho(ctx context.Context, s Scenario, logPath string) (*process, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	p, err := h.startEchoAt(ctx, s, addr, logPath)
	return p, addr, err
}

// startEchoAt starts hotecho for s on addr (startEcho).
func (h *harness) startEchoAt(ctx context.Context, s Scenario, addr, logPath string) (*process, error) {
	argv := append([]string{filepath.Join(h.o.Bin, "hotecho"), "-addr", addr}, s.Echo...)
	echo, err := startProcess("hotecho", logPath, nil, pinned(h.o.ClientCPU, h.o.Nice, argv...)...)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = echo.waitListening(wctx, addr)
	cancel()
	if err != nil {
		echo.stop(5 * time.Second)
		return nil, err
	}
	return echo, nil
}

// start renders, checks, starts and probes c for s. On error res says why
// (Skipped or Failed).
func (h *harness) start(ctx context.Context, s Scenario, c *Contender, res *ContenderResult, echoAddr string, routes []string, dir string) (*running, error) {
	addr, err := freePort()
	if err != nil {
		res.Failed = err.Error()
		return nil, err
	}
	st, err := h.tlsSite(s)
	if err != nil {
		res.Failed = err.Error()
		return nil, err
	}
	site := newSite(addr, echoAddr, s.Features, routes, st)
	site.H2C = s.H2C
	if s.Idle {
		// Room for every held connection plus the upstream ones.
		site.MaxConns = h.o.IdleConns + 1024
		site.NoFile = site.MaxConns + 1024 // within idleNoFile
		site.ClientConns = site.MaxConns
		if c.isHotpath() {
			// The heap profile is taken while the connections are idle.
			if site.Admin, err = freePort(); err != nil {
				res.Failed = err.Error()
				return nil, err
			}
		}
	}
	conf, err := c.render(dir, site)
	if err != nil {
		res.Failed = err.Error()
		return nil, err
	}
	// Keep the config beside the results (the scratch directory goes).
	if b, err := os.ReadFile(conf); err == nil {
		keep := filepath.Join(h.o.Out, "configs", s.Name, c.file)
		if os.MkdirAll(filepath.Dir(keep), 0o755) == nil {
			_ = os.WriteFile(keep, b, 0o644)
		}
	}
	if err := c.check(conf, dir); err != nil {
		if c.isHotpath() && (s.Features.any() || s.TLS || s.H2C) {
			res.Skipped = fmt.Sprintf("skipped for hotpath: feature not in this build (%s: %s)", featureNames(s), shortCheckError(err, conf))
		} else {
			res.Failed = err.Error()
		}
		return nil, err
	}
	var env []string
	if c.isHotpath() && h.o.ServerCPU == "" {
		env = append(env, "GOMAXPROCS=1")
	}
	proc, err := startProcess(c.Name, filepath.Join(dir, c.Name+".log"), env, pinned(h.o.ServerCPU, h.o.Nice, append([]string{c.Binary}, c.runArgs(conf, dir)...)...)...)
	if err != nil {
		res.Failed = err.Error()
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	err = proc.waitListening(wctx, addr)
	cancel()
	if err == nil {
		err = probe(ctx, s, addr, routes)
	}
	if err != nil {
		if tail := proc.logTail(); tail != "" {
			err = fmt.Errorf("%w (%s log: %s)", err, c.Name, tail)
		}
		proc.stop(5 * time.Second)
		res.Failed = err.Error()
		return nil, err
	}
	return &running{c: c, res: res, proc: proc, addr: addr, admin: site.Admin}, nil
}

// shortCheckError returns the first problem a config checker reported,
// without the file name and the list of known fields.
func shortCheckError(err error, conf string) string {
	msg := strings.TrimPrefix(err.Error(), errRejected.Error()+": ")
	msg, _, _ = strings.Cut(msg, " / ")
	if rest, ok := strings.CutPrefix(msg, conf+":"); ok {
		// "LINE: problem"
		if _, p, ok := strings.Cut(rest, ": "); ok {
			msg = p
		}
	}
	msg, _, _ = strings.Cut(msg, " (known:")
	return msg
}

// probe sends one request (two for a cache) as hotload would and checks the
// response with the scenario's rules. A request that fails in transport is
// retried for a few seconds: a server may accept before it serves.
func probe(ctx context.Context, s Scenario, addr string, routes []string) error {
	path := s.path()
	if len(routes) > 0 {
		path = routes[0]
	}
	tr := &http.Transport{DisableCompression: true, DisableKeepAlives: true, TLSClientConfig: probeTLS()}
	if s.H2C {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true) // prior knowledge, as hotload --h2
		tr.Protocols = &p
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: tr}
	get := func() error {
		method, body := "GET", io.Reader(nil)
		if s.Body != nil {
			method, body = "POST", bytes.NewReader(s.Body)
		}
		req, err := http.NewRequestWithContext(ctx, method, scheme(s)+"://"+addr+path, body)
		if err != nil {
			return err
		}
		for _, hv := range s.Headers {
			k, v, _ := strings.Cut(hv, ":")
			req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if err := s.probe(resp); err != nil {
			return fmt.Errorf("probe GET %s: %w", path, err)
		}
		return nil
	}
	deadline := time.Now().Add(3 * time.Second)
	for range 2 {
		for {
			err := get()
			if err == nil {
				break
			}
			var uerr *url.Error
			if !errors.As(err, &uerr) || time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("probe: %w", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// measure makes one warm-up run and one measured run of r and returns the
// measured run's figures; hotload's report and output go to raw.json and
// raw.txt under the results directory (raw is a relative path without
// extension). The caller sets Round.
func (h *harness) measure(ctx context.Context, s Scenario, r *running, echo *process, raw string, routes []string) (RunResult, error) {
	o := h.o
	if err := os.MkdirAll(filepath.Join(o.Out, filepath.Dir(raw)), 0o755); err != nil {
		return RunResult{}, err
	}
	if s.Stream {
		return h.measureStream(ctx, r, echo, raw)
	}
	args := []string{"-t", "1", "-c", fmt.Sprint(o.Connections)}
	for _, hv := range s.Headers {
		args = append(args, "-H", hv)
	}
	args = append(args, s.Load...)
	if s.Body != nil {
		bf := filepath.Join(h.scratch, s.Name, "body.bin")
		if err := os.WriteFile(bf, s.Body, 0o644); err != nil {
			return RunResult{}, err
		}
		args = append(args, "--body-file", bf)
	}
	warmArgs := args
	switch {
	case s.Unique:
		// A fresh set of URLs for each of the two runs.
		warm, err := h.uniqueTargets(s, r, raw+"-warmup", o.Warmup)
		if err != nil {
			return RunResult{}, err
		}
		measured, err := h.uniqueTargets(s, r, raw, o.Duration)
		if err != nil {
			return RunResult{}, err
		}
		defer os.Remove(warm)
		defer os.Remove(measured)
		warmArgs = append(slices.Clone(args), "--targets", warm)
		args = append(args, "--targets", measured)
	case len(routes) > 0:
		tf, err := h.targetsFile(s, r, routes)
		if err != nil {
			return RunResult{}, err
		}
		args = append(args, "--targets", tf)
		warmArgs = args
	default:
		args = append(args, scheme(s)+"://"+r.addr+s.path())
		warmArgs = args
	}
	if o.Warmup > 0 {
		if _, err := h.hotload(ctx, append([]string{"-d", o.Warmup.String()}, warmArgs...), os.DevNull); err != nil {
			return RunResult{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if r.proc.exited() {
		return RunResult{}, fmt.Errorf("%w: %s", errExited, r.proc.logTail())
	}
	if echo.exited() {
		return RunResult{}, fmt.Errorf("%w: hotecho, the upstream: %s", errExited, echo.logTail())
	}
	jsonPath := filepath.Join(o.Out, raw+".json")
	return h.accounted(r, echo, func() (RunResult, time.Duration, error) {
		out, err := h.hotload(ctx, append([]string{"-d", o.Duration.String(), "--json", jsonPath}, args...), filepath.Join(o.Out, raw+".txt"))
		if err != nil {
			return RunResult{}, 0, fmt.Errorf("%w: %s", err, firstLines(out, 3))
		}
		f, err := os.Open(jsonPath)
		if err != nil {
			return RunResult{}, 0, err
		}
		res, err := loadgen.ReadJSON(f)
		f.Close()
		if err != nil {
			return RunResult{}, 0, err
		}
		run := RunResult{
			RPS:      res.RPS(),
			Requests: res.Requests,
			P50US:    res.Latency.ValueAtQuantile(50),
			P99US:    res.Latency.ValueAtQuantile(99),
			P999US:   res.Latency.ValueAtQuantile(99.9),
			MaxUS:    res.Latency.Max(),
			Errors:   res.ErrorCount(),
			Status:   res.Status,
			Warnings: res.Warnings,
			Raw:      raw + ".json",
			latency:  res.Latency,
		}
		for st, n := range res.Status {
			if !s.ok(st) {
				run.Errors += n
			}
		}
		if res.Requests == 0 {
			return run, res.CPU, fmt.Errorf("no responses (errors: %v)", res.Errors)
		}
		return run, res.CPU, nil
	})
}

// accounted runs load, the measured run, and adds what the server, the
// upstream and the rest of the machine spent meanwhile; load returns the
// run's figures and the load generator's own CPU time.
func (h *harness) accounted(r *running, echo *process, load func() (RunResult, time.Duration, error)) (RunResult, error) {
	srv0, _, err := treeCPU(r.proc.pid())
	if err != nil {
		return RunResult{}, err
	}
	up0, _, _ := treeCPU(echo.pid())
	all0, _ := machineBusy()
	t0 := time.Now()
	run, loadCPU, err := load()
	wall := time.Since(t0)
	srv1, nproc, cerr := treeCPU(r.proc.pid())
	up1, _, _ := treeCPU(echo.pid())
	all1, _ := machineBusy()
	if err != nil && run.Requests == 0 && run.RPS == 0 {
		return RunResult{}, err
	}
	if cerr != nil {
		return RunResult{}, fmt.Errorf("%w: %v: %s", errExited, cerr, r.proc.logTail())
	}
	if echo.exited() { // its answers were the proxy's 502s
		return RunResult{}, fmt.Errorf("%w during the run: hotecho, the upstream: %s", errExited, echo.logTail())
	}
	run.Processes = nproc
	if run.Requests > 0 {
		run.CPUPerReqUS = float64(srv1-srv0) / 1e3 / float64(run.Requests)
		run.UpstreamCPUPerReqUS = float64(up1-up0) / 1e3 / float64(run.Requests)
	}
	run.ServerBusy = (srv1 - srv0).Seconds() / wall.Seconds()
	// What the machine did besides the server, hotecho and the load
	// generator: other work on a shared machine, which the interleaving
	// spreads but cannot remove.
	others := (all1 - all0) - (srv1 - srv0) - (up1 - up0) - loadCPU
	run.OtherCores = max(others.Seconds(), 0) / wall.Seconds()
	return run, err
}

// measureStream is measure for a Stream scenario: grpcstream instead of
// hotload, one stream instead of connections, messages for requests.
func (h *harness) measureStream(ctx context.Context, r *running, echo *process, raw string) (RunResult, error) {
	o := h.o
	stream := func(d time.Duration, jsonPath, outPath string) error {
		args := []string{"-addr", r.addr, "-d", d.String()}
		if jsonPath != "" {
			args = append(args, "-json", jsonPath)
		}
		out, err := h.runPinned(ctx, d+time.Minute, "grpcstream", args, outPath)
		if err != nil {
			return fmt.Errorf("%w: %s", err, firstLines(out, 3))
		}
		return nil
	}
	if o.Warmup > 0 {
		if err := stream(o.Warmup, "", os.DevNull); err != nil {
			return RunResult{}, fmt.Errorf("warm-up: %w", err)
		}
	}
	if r.proc.exited() {
		return RunResult{}, fmt.Errorf("%w: %s", errExited, r.proc.logTail())
	}
	jsonPath := filepath.Join(o.Out, raw+".json")
	return h.accounted(r, echo, func() (RunResult, time.Duration, error) {
		if err := stream(o.Duration, jsonPath, filepath.Join(o.Out, raw+".txt")); err != nil {
			return RunResult{}, 0, err
		}
		b, err := os.ReadFile(jsonPath)
		if err != nil {
			return RunResult{}, 0, err
		}
		var res struct {
			Messages int64   `json:"messages"`
			PerSec   float64 `json:"messages_per_second"`
			P50US    int64   `json:"p50_us"`
			P99US    int64   `json:"p99_us"`
			P999US   int64   `json:"p999_us"`
			MaxUS    int64   `json:"max_us"`
			CPUNS    int64   `json:"cpu_ns"`
		}
		if err := json.Unmarshal(b, &res); err != nil {
			return RunResult{}, 0, fmt.Errorf("grpcstream's JSON: %w", err)
		}
		run := RunResult{RPS: res.PerSec, Requests: res.Messages, P50US: res.P50US, P99US: res.P99US,
			P999US: res.P999US, MaxUS: res.MaxUS, Raw: raw + ".json"}
		if res.Messages == 0 {
			return run, time.Duration(res.CPUNS), errors.New("no message came back")
		}
		return run, time.Duration(res.CPUNS), nil
	})
}

// hotload runs hotload pinned to the client CPU with args, stdout to
// outPath, and returns its combined output on failure.
func (h *harness) hotload(ctx context.Context, args []string, outPath string) (string, error) {
	return h.hotloadFor(ctx, h.o.Duration+h.o.Warmup+time.Minute, args, outPath)
}

// hotloadFor is hotload with a limit on how long it may take.
func (h *harness) hotloadFor(ctx context.Context, limit time.Duration, args []string, outPath string) (string, error) {
	return h.runPinned(ctx, limit, "hotload", args, outPath)
}

// runPinned runs the load generator bin (hotload, grpcstream) from the bin
// directory, pinned to the client CPU, with args, stdout to outPath.
func (h *harness) runPinned(ctx context.Context, limit time.Duration, bin string, args []string, outPath string) (string, error) {
	argv := pinned(h.o.ClientCPU, h.o.Nice, append([]string{filepath.Join(h.o.Bin, bin)}, args...)...)
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if outPath != os.DevNull {
		_ = os.WriteFile(outPath, out.Bytes(), 0o644)
	}
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w", bin, err)
	}
	return out.String(), nil
}

// targetsFile writes (once per contender) hotload's targets for routes,
// shuffled with a fixed seed so that every contender sees the same order
// and consecutive requests do not walk the table in order.
func (h *harness) targetsFile(s Scenario, r *running, routes []string) (string, error) {
	path := filepath.Join(h.scratch, "targets", s.Name, r.c.Name+".jsonl")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	order := make([]int, len(routes))
	for i := range order {
		order[i] = i
	}
	rng := rand.New(rand.NewPCG(6, 6))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, i := range order {
		hdr := map[string]string{}
		for _, hv := range s.Headers {
			k, v, _ := strings.Cut(hv, ":")
			hdr[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		t := map[string]any{"method": "GET", "url": scheme(s) + "://" + r.addr + routes[i]}
		if len(hdr) > 0 {
			t["headers"] = hdr
		}
		if err := enc.Encode(t); err != nil {
			return "", err
		}
	}
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}

// uniqueURLRate bounds the request rate a Unique scenario's targets are
// made for: every request of a run of d gets a URL of its own when the
// server answers fewer than this many per second.
const uniqueURLRate = 80000

// uniqueTargets writes hotload's targets for one run of Unique scenario s
// against r lasting d: enough distinct URLs (/bench?u=<run>-<i>) that no
// request of the run repeats one (hotload starts each connection at its own
// place in the list), none shared with another run. name labels the run.
func (h *harness) uniqueTargets(s Scenario, r *running, name string, d time.Duration) (string, error) {
	n := int(d.Seconds()*uniqueURLRate) + 1000
	path := filepath.Join(h.scratch, "unique-"+strings.NewReplacer("/", "-", string(filepath.Separator), "-").Replace(name)+".jsonl")
	hdr := map[string]string{}
	for _, hv := range s.Headers {
		k, v, _ := strings.Cut(hv, ":")
		hdr[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	tag := url.QueryEscape(name)
	for i := range n {
		t := map[string]any{"url": fmt.Sprintf("%s://%s/bench?u=%s-%d", scheme(s), r.addr, tag, i)}
		if len(hdr) > 0 {
			t["headers"] = hdr
		}
		if err := enc.Encode(t); err != nil {
			f.Close()
			return "", err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// newSite is what a contender's config is rendered from (cert is nil but
// in the TLS scenarios).
func newSite(listen, upstream string, f Features, routes []string, cert *siteTLS) site {
	return site{Listen: listen, Upstream: upstream, Root: os.Geteuid() == 0, Features: f, Routes: routes,
		APIKeyValue: benchAPIKey, JWTSecret: benchJWTSecret, TLS: cert, MaxConns: 8192, NoFile: 16384}
}

// newMeta describes the machine and the software measured.
func newMeta(o Options, cs []*Contender) Meta {
	m := Meta{
		Start:       time.Now().UTC(),
		GoVersion:   runtime.Version(),
		NumCPU:      runtime.NumCPU(),
		Versions:    map[string]string{},
		Duration:    o.Duration.String(),
		Warmup:      max(o.Warmup, 0).String(),
		Rounds:      o.Rounds,
		Connections: o.Connections,
		ServerCPU:   o.ServerCPU,
		ClientCPU:   o.ClientCPU,
		Nice:        o.Nice,
		Quick:       o.quick,
		Set:         o.Set,
		CPUPressure: cpuPressure(),
	}
	m.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	for _, c := range cs {
		m.Versions[c.Name] = c.version()
	}
	if v, ok := m.Versions["hotpath"]; ok && inWorkTree(o.Bin) {
		m.Versions["hotpath"] = v + gitRevision()
	}
	return m
}

// inWorkTree reports whether dir is inside the git work tree the harness
// runs in (a binary built elsewhere, from another commit, is not described
// by this tree's revision).
func inWorkTree(dir string) bool {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return false
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(strings.TrimSpace(string(top)), abs)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// gitRevision describes the work tree the harness runs in (" at abc1234",
// " at abc1234 with uncommitted changes"), or "" outside a git tree.
func gitRevision() string {
	rev, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := " at " + strings.TrimSpace(string(rev))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		s += " with uncommitted changes"
	}
	return s
}
