package bench

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Feature is one entry of the feature set: a scenario that adds one
// feature to a baseline scenario.
type Feature struct {
	Scenario
	// Base names the baseline scenario (featureBaselines) it is measured
	// against.
	Base string
	// Peers: nginx and HAProxy have the feature too, and are measured the
	// same way.
	Peers bool
}

// Credentials of the auth features: the hotpath config accepts them and
// the load sends them.
const (
	benchAPIKey    = "bench-api-key-0123456789abcdef"
	benchJWTSecret = "bench-jwt-secret-0123456789abcdef0123456789"
)

// benchJWT is an HS256 token signed with benchJWTSecret that expires in
// 2100.
func benchJWT() string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT","kid":"bench"}`)) + "." +
		enc.EncodeToString([]byte(`{"sub":"bench","exp":4102444800}`))
	mac := hmac.New(sha256.New, []byte(benchJWTSecret))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// featureBody is the body size of the compression feature and its
// baseline.
const featureBody = 4 << 10

// featureBaselines are the plain proxies the features are measured
// against.
func featureBaselines() []Scenario {
	return []Scenario{
		{Name: "baseline", Desc: "plain proxy, 13-byte body (passthrough_small)"},
		{
			Name: "baseline_4k", Desc: "plain proxy, 4 KiB compressible body, requests with Accept-Encoding: gzip",
			Echo: []string{"--size", strconv.Itoa(featureBody)}, Headers: []string{"Accept-Encoding: gzip"},
		},
	}
}

// FeatureSet returns the features in the order they run: each is the small
// body proxy load of its baseline with one feature added.
func FeatureSet() []Feature {
	gzip := featureBaselines()[1]
	return []Feature{
		{Base: "baseline", Peers: true, Scenario: Scenario{Name: "access_log",
			Desc: "a log line per request to a file (hotpath access_log.path; nginx access_log, combined format; HAProxy option httplog to stdout, sent to a file)", Features: Features{AccessLog: true}}},
		{Base: "baseline", Scenario: Scenario{Name: "metrics_off",
			Desc: "metrics.enabled: false (the baseline counts per-loop metrics; this takes them away, so expect a negative cost)", Features: Features{MetricsOff: true}}},
		{Base: "baseline", Scenario: Scenario{Name: "request_id",
			Desc: "request_id: true (an X-Request-Id generated, sent upstream and back)", Features: Features{RequestID: true}}},
		{Base: "baseline", Scenario: Scenario{Name: "header_rule",
			Desc: "one request header rule (headers.request.set: {X-Bench: \"1\"})", Features: Features{HeaderRule: true}}},
		{Base: "baseline", Scenario: Scenario{Name: "api_key",
			Desc: "auth.api_key with one key, sent in X-Api-Key by every request", Features: Features{APIKey: true},
			Headers: []string{"X-Api-Key: " + benchAPIKey}}},
		{Base: "baseline", Scenario: Scenario{Name: "jwt",
			Desc: "auth.jwt with one HS256 key, a bearer token on every request", Features: Features{JWT: true},
			Headers: []string{"Authorization: Bearer " + benchJWT()}}},
		{Base: "baseline", Peers: true, Scenario: Scenario{Name: "rate_limit",
			Desc:     "per-client-IP rate limit far above the load (1 000 000/s, burst 1000): every request allowed",
			Features: Features{RateLimit: &RateLimit{Rate: 1000000, Burst: 1000}}}},
		{Base: "baseline", Scenario: Scenario{Name: "cache_miss",
			Desc:     "response cache on, every request a URL never asked before (distinct query strings): lookup, miss, capture and store",
			Features: Features{Cache: true}, Unique: true}},
		{Base: "baseline_4k", Peers: true, Scenario: Scenario{Name: "gzip_4k",
			Desc: "gzip (level 5 where settable) of the 4 KiB body; the baseline proxies the same body uncompressed",
			Echo: gzip.Echo, Headers: gzip.Headers, Features: Features{Gzip: &Gzip{MinLength: 1024, Level: 5}},
			Probe: func(resp *http.Response) error {
				if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
					return fmt.Errorf("response not gzipped (Content-Encoding %q)", ce)
				}
				return nil
			}}},
		{Base: "baseline", Scenario: Scenario{Name: "routes_10k",
			Desc:   fmt.Sprintf("%d exact-path routes, requests spread over all of them (the baseline has one catch-all route)", manyRoutes),
			Routes: manyRoutes}},
	}
}

// FeatureReport is the feature set's outcome.
type FeatureReport struct {
	// Baselines are the baselines' absolute figures per contender.
	Baselines []ScenarioResult `json:"baselines"`
	Features  []FeatureResult  `json:"features"`
}

// FeatureResult is one feature's cost on each contender that has it.
type FeatureResult struct {
	Name       string          `json:"name"`
	Desc       string          `json:"description"`
	Base       string          `json:"baseline"`
	Contenders []*FeatureDelta `json:"contenders"`
}

// FeatureDelta is what a feature adds on one contender: in every round the
// feature's run minus the baseline's run made just before it.
type FeatureDelta struct {
	Name    string        `json:"name"`
	Skipped string        `json:"skipped,omitempty"`
	Failed  string        `json:"failed,omitempty"`
	Runs    []FeaturePair `json:"runs"`
	// AddedCPUUS is the server CPU µs per request added by the feature,
	// AddedP99US the p99 it added: median and range over the rounds.
	AddedCPUUS Range `json:"added_cpu_per_request_us"`
	AddedP99US Range `json:"added_p99_us"`
	// FeatureCPUUS is the feature's own CPU µs per request.
	FeatureCPUUS Range `json:"cpu_per_request_us"`
	Errors       int64 `json:"errors"`
}

// FeaturePair is one round of a feature on a contender.
type FeaturePair struct {
	Round   int       `json:"round"`
	Base    RunResult `json:"baseline"`
	Feature RunResult `json:"feature"`
}

// summarize fills the ranges from the runs.
func (d *FeatureDelta) summarize() {
	var cpu, p99, own []float64
	d.Errors = 0
	for _, p := range d.Runs {
		cpu = append(cpu, p.Feature.CPUPerReqUS-p.Base.CPUPerReqUS)
		p99 = append(p99, float64(p.Feature.P99US-p.Base.P99US))
		own = append(own, p.Feature.CPUPerReqUS)
		d.Errors += p.Feature.Errors + p.Base.Errors
	}
	d.AddedCPUUS, d.AddedP99US, d.FeatureCPUUS = rangeOf(cpu), rangeOf(p99), rangeOf(own)
}

// contender returns the delta of the contender called name, or nil.
func (f *FeatureResult) contender(name string) *FeatureDelta {
	for _, c := range f.Contenders {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// selectFeatures returns the features named in names (all when empty).
func selectFeatures(names []string) ([]Feature, error) {
	all := FeatureSet()
	if len(names) == 0 {
		return all, nil
	}
	var out []Feature
	for _, f := range all {
		if slices.Contains(names, f.Name) {
			out = append(out, f)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(f Feature) bool { return f.Name == n }) {
			var known []string
			for _, f := range all {
				known = append(known, f.Name)
			}
			return nil, fmt.Errorf("bench: unknown feature %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// features runs the feature set: every variant (baselines and features)
// is started once per contender that has it, then in every round each
// feature's baseline and the feature are measured back to back on each
// contender, so that the difference is taken between runs a few seconds
// apart.
func (h *harness) features(ctx context.Context) (*Report, error) {
	o := h.o
	feats, err := selectFeatures(o.Scenarios)
	if err != nil {
		return nil, err
	}
	fr := h.newFeatureReport(feats)
	h.rep.Features = fr
	fmt.Fprintf(o.Log, "bench: feature set: %d feature(s), each paired with its baseline, × %d round(s) of %v (+%v warm-up), -c %d; results in %s\n",
		len(feats), o.Rounds, o.Duration, max(o.Warmup, 0), o.Connections, o.Out)
	v := &variants{h: h, echoes: map[string]*echoProc{}, started: map[string]*variant{}}
	defer v.close()
	bases := map[string]Scenario{}
	for _, b := range featureBaselines() {
		bases[b.Name] = b
	}
	for round := 1; round <= o.Rounds; round++ {
		for i, f := range feats {
			for _, c := range h.contenders {
				d := fr.Features[i].contender(c.Name)
				if d == nil || d.Failed != "" || d.Skipped != "" {
					continue
				}
				if err := v.pair(ctx, c, bases[f.Base], f, d, round); err != nil {
					return nil, err
				}
			}
		}
		fr.Baselines = baselineSummaries(fr)
		if err := h.rep.write(); err != nil {
			return nil, err
		}
	}
	return h.rep, nil
}

// newFeatureReport lists every feature with the contenders that have it.
func (h *harness) newFeatureReport(feats []Feature) *FeatureReport {
	fr := &FeatureReport{}
	for _, f := range feats {
		res := FeatureResult{Name: f.Name, Desc: f.Desc, Base: f.Base}
		for _, c := range h.all {
			if c.Name != "hotpath" && !f.Peers {
				continue
			}
			d := &FeatureDelta{Name: c.Name, Runs: []FeaturePair{}}
			if why, ok := h.missing[c.Name]; ok {
				d.Skipped = why
			}
			res.Contenders = append(res.Contenders, d)
		}
		fr.Features = append(fr.Features, res)
	}
	return fr
}

// variants are the servers of the feature set, each started on first use
// and kept until close: one hotecho per upstream body, one contender
// process per contender and scenario.
type variants struct {
	h       *harness
	echoes  map[string]*echoProc // by hotecho flags
	started map[string]*variant  // by contender/scenario
}

type echoProc struct {
	p       *process
	key     string // its flags
	addr    string
	s       Scenario
	logPath string
}

// variant is a contender serving one scenario, or why it cannot.
type variant struct {
	s      Scenario
	r      *running
	echo   *process
	routes []string
	err    string
}

func (v *variants) close() {
	for _, x := range v.started {
		if x.r != nil {
			x.r.proc.stop(5 * time.Second)
		}
	}
	for _, e := range v.echoes {
		e.p.stop(5 * time.Second)
	}
}

// echo returns the hotecho that s's flags ask for, starting it if needed.
func (v *variants) echo(ctx context.Context, s Scenario) (*echoProc, error) {
	key := strings.Join(s.Echo, " ")
	if e, ok := v.echoes[key]; ok {
		return e, nil
	}
	logPath := filepath.Join(v.h.scratch, fmt.Sprintf("hotecho-%d.log", len(v.echoes)))
	p, addr, err := v.h.startEcho(ctx, s, logPath)
	if err != nil {
		return nil, err
	}
	e := &echoProc{p: p, key: key, addr: addr, s: s, logPath: logPath}
	v.echoes[key] = e
	return e, nil
}

// revive restarts, on their addresses, the hotechoes that are no longer
// running (on a shared machine something else may end them; the long
// feature set would otherwise measure 502s from then on).
func (v *variants) revive(ctx context.Context) error {
	for _, e := range v.echoes {
		if !e.p.exited() {
			continue
		}
		fmt.Fprintf(v.h.o.Log, "bench: hotecho on %s exited (%v): restarting it\n", e.addr, e.p.err)
		p, err := v.h.startEchoAt(ctx, e.s, e.addr, e.logPath+".2")
		if err != nil {
			return err
		}
		e.p = p
		for _, x := range v.started {
			if x.echo != nil && strings.Join(x.s.Echo, " ") == e.key {
				x.echo = p
			}
		}
	}
	return nil
}

// get returns c serving s, starting it on first use.
func (v *variants) get(ctx context.Context, c *Contender, s Scenario) *variant {
	key := c.Name + "/" + s.Name
	if x, ok := v.started[key]; ok {
		return x
	}
	x := &variant{s: s}
	v.started[key] = x
	for i := range s.Routes {
		x.routes = append(x.routes, routePath(i))
	}
	e, err := v.echo(ctx, s)
	if err != nil {
		x.err = err.Error()
		return x
	}
	x.echo = e.p
	cr := &ContenderResult{Name: c.Name}
	if x.r, err = v.h.start(ctx, s, c, cr, e.addr, x.routes, filepath.Join(v.h.scratch, "features", s.Name, c.Name)); err != nil {
		x.err = cr.Skipped + cr.Failed
		fmt.Fprintf(v.h.o.Log, "[%s] %s: %s\n", s.Name, c.Name, x.err)
	}
	return x
}

// pair measures f's baseline and then f on c for one round and adds the
// pair to d (or records in d why it could not). It fails only when ctx
// ends.
func (v *variants) pair(ctx context.Context, c *Contender, base Scenario, f Feature, d *FeatureDelta, round int) error {
	o := v.h.o
	if err := v.revive(ctx); err != nil {
		return err
	}
	bv, fv := v.get(ctx, c, base), v.get(ctx, c, f.Scenario)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if bv.err != "" || fv.err != "" {
		d.Failed = strings.TrimSpace(bv.err + " " + fv.err)
		return nil
	}
	measure := func(x *variant) (RunResult, error) {
		raw := filepath.Join("raw", "features", f.Name, fmt.Sprintf("%s-r%d-%s", c.Name, round, x.s.Name))
		run, err := v.h.measure(ctx, x.s, x.r, x.echo, raw, x.routes)
		run.Round = round
		return run, err
	}
	var b, ft RunResult
	var err error
	for try := 1; try <= 2; try++ {
		if b, err = measure(bv); err == nil {
			ft, err = measure(fv)
		}
		if err == nil || !(bv.echo.exited() || fv.echo.exited()) || try == 2 {
			break
		}
		// The upstream was ended under the run: once more with a new one.
		if rerr := v.revive(ctx); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d.Failed = err.Error()
		fmt.Fprintf(o.Log, "[features r%d/%d] %s %s: failed: %v\n", round, o.Rounds, f.Name, c.Name, err)
		return nil
	}
	d.Runs = append(d.Runs, FeaturePair{Round: round, Base: b, Feature: ft})
	d.summarize()
	fmt.Fprintf(o.Log, "[features r%d/%d] %-12s %-7s base %6.2f µs/req p99 %s, feature %6.2f µs/req p99 %s: added %+.2f µs/req, p99 %s\n",
		round, o.Rounds, f.Name, c.Name, b.CPUPerReqUS, fmtLatency(float64(b.P99US)),
		ft.CPUPerReqUS, fmtLatency(float64(ft.P99US)), ft.CPUPerReqUS-b.CPUPerReqUS, fmtSigned(float64(ft.P99US-b.P99US)))
	return nil
}

// baselineSummaries condenses every baseline run of the report per
// baseline and contender.
func baselineSummaries(fr *FeatureReport) []ScenarioResult {
	var out []ScenarioResult
	for _, b := range featureBaselines() {
		sr := ScenarioResult{Name: b.Name, Desc: b.Desc}
		for _, f := range fr.Features {
			if f.Base != b.Name {
				continue
			}
			for _, d := range f.Contenders {
				cr := sr.contender(d.Name)
				if cr == nil {
					cr = &ContenderResult{Name: d.Name}
					sr.Contenders = append(sr.Contenders, cr)
				}
				for _, p := range d.Runs {
					cr.Runs = append(cr.Runs, p.Base)
				}
			}
		}
		if len(sr.Contenders) == 0 {
			continue
		}
		sr.summarize()
		out = append(out, sr)
	}
	return out
}

// fmtSigned formats a latency difference in microseconds with its sign.
func fmtSigned(us float64) string {
	if us < 0 {
		return "−" + fmtLatency(-us)
	}
	return "+" + fmtLatency(us)
}

// markdown renders the feature table: what each feature adds on each
// contender that has it, then the baselines' own figures.
func (fr *FeatureReport) markdown() string {
	var b strings.Builder
	b.WriteString("\n## Cost per feature\n\n")
	b.WriteString("Added = the feature's run minus its baseline's run just before it, on the same contender, in each round: median [min–max] over the rounds. ")
	b.WriteString("CPU is the server's µs per request (all its processes); p99 is hotload's (closed loop). A peer column is empty where the peer has no such feature.\n\n")
	b.WriteString("| feature | baseline | hotpath: added CPU µs/req | hotpath: added p99 | nginx: added CPU µs/req | nginx: added p99 | HAProxy: added CPU µs/req | HAProxy: added p99 |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range fr.Features {
		fmt.Fprintf(&b, "| `%s` | %s |", f.Name, f.Base)
		for _, name := range []string{"hotpath", "nginx", "haproxy"} {
			d := f.contender(name)
			switch {
			case d == nil:
				b.WriteString("  |  |")
			case len(d.Runs) == 0 && d.Skipped != "":
				fmt.Fprintf(&b, " %s |  |", mdCell(d.Skipped))
			case len(d.Runs) == 0:
				fmt.Fprintf(&b, " failed: %s |  |", mdCell(d.Failed))
			default:
				fmt.Fprintf(&b, " %s | %s |", fmtDeltaRange(d.AddedCPUUS, 2), fmtSigned(d.AddedP99US.Median))
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\nWhat each feature is:\n\n")
	for _, f := range fr.Features {
		fmt.Fprintf(&b, "- `%s`: %s.\n", f.Name, f.Desc)
	}
	if len(fr.Baselines) > 0 {
		b.WriteString("\nThe baselines themselves (every baseline run of the set):\n\n")
		b.WriteString("| baseline | contender | runs | CPU µs/req median [min–max] | busy | p99 | req/s median |\n|---|---|---:|---:|---:|---:|---:|\n")
		for _, sr := range fr.Baselines {
			for _, c := range sr.Contenders {
				if c.Summary == nil {
					continue
				}
				sm := c.Summary
				fmt.Fprintf(&b, "| %s | %s | %d | %.2f [%.2f–%.2f] | %.0f%% | %s | %.0f |\n", sr.Name, c.Name, len(c.Runs),
					sm.CPUPerReqUS.Median, sm.CPUPerReqUS.Min, sm.CPUPerReqUS.Max, 100*sm.ServerBusy, fmtLatency(sm.P99US), sm.RPS.Median)
			}
		}
	}
	var busy []float64
	var others float64
	for _, f := range fr.Features {
		for _, d := range f.Contenders {
			for _, p := range d.Runs {
				busy = append(busy, p.Base.ServerBusy, p.Feature.ServerBusy)
				others = max(others, p.Base.OtherCores, p.Feature.OtherCores)
			}
		}
	}
	if len(busy) > 0 {
		fmt.Fprintf(&b, "\nNoise: the server's core was %.0f%% busy in the median run (100%% when nothing else took it: the load is closed-loop) and other processes used up to %.2f cores during a run. Differences smaller than the ranges are not measured.\n",
			100*median(busy), others)
	}
	var failed []string
	for _, f := range fr.Features {
		for _, d := range f.Contenders {
			if d.Failed != "" && len(d.Runs) > 0 {
				failed = append(failed, fmt.Sprintf("%s on %s failed after %d round(s): %s", f.Name, d.Name, len(d.Runs), d.Failed))
			}
			if d.Errors > 0 {
				failed = append(failed, fmt.Sprintf("%s on %s: %d errors", f.Name, d.Name, d.Errors))
			}
		}
	}
	for _, l := range failed {
		fmt.Fprintf(&b, "\n%s\n", mdCell(l))
	}
	return b.String()
}

// fmtDeltaRange formats a signed range: +1.23 [+0.90–+1.60].
func fmtDeltaRange(r Range, digits int) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', digits, 64) }
	sign := func(v float64) string {
		if v >= 0 {
			return "+" + f(v)
		}
		return "−" + f(-v)
	}
	return fmt.Sprintf("%s [%s – %s]", sign(r.Median), sign(r.Min), sign(r.Max))
}
