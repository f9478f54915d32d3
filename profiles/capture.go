package profiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a profile a run can capture.
type Kind string

// Profile kinds. What each covers:
//
//	cpu        /debug/pprof/profile?seconds=N, started with the window
//	allocs     /debug/pprof/allocs?seconds=N: the server's delta over the window
//	mutex      /debug/pprof/mutex?seconds=N: delta over the window (needs the server's mutex profile fraction)
//	block      /debug/pprof/block?seconds=N: delta over the window (needs the server's block profile rate)
//	heap       live heap: heap-before.pprof at the window's start, heap.pprof (after a GC) at its end
//	goroutine  a snapshot at the window's end
//	trace      /debug/pprof/trace for Options.Trace from the window's start (go tool trace)
const (
	CPU       Kind = "cpu"
	Heap      Kind = "heap"
	Allocs    Kind = "allocs"
	Mutex     Kind = "mutex"
	Block     Kind = "block"
	Goroutine Kind = "goroutine"
	Trace     Kind = "trace"
)

// AllKinds are the kinds captured when Options.Kinds is empty. Trace is
// not among them: a trace is large and slows the server while it runs, so
// it is taken only when asked for.
var AllKinds = []Kind{CPU, Heap, Allocs, Mutex, Block, Goroutine}

// File returns the file that holds kind k in a run directory: cpu.pprof,
// heap.pprof (the end-of-window heap; heap-before.pprof is its start),
// trace.out, ...
func (k Kind) File() string {
	if k == Trace {
		return "trace.out"
	}
	return string(k) + ".pprof"
}

// ParseKinds parses a comma-separated list of kinds ("cpu,allocs") in its
// order, without repeats; "all" is AllKinds.
func ParseKinds(s string) ([]Kind, error) {
	var out []Kind
	for name := range strings.SplitSeq(s, ",") {
		k := Kind(strings.ToLower(strings.TrimSpace(name)))
		switch {
		case k == "":
			continue
		case k == "all":
			for _, k := range AllKinds {
				if !slices.Contains(out, k) {
					out = append(out, k)
				}
			}
		case k == Trace || slices.Contains(AllKinds, k):
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		default:
			return nil, fmt.Errorf("%w: %q (want cpu, heap, allocs, mutex, block, goroutine, trace or all)", ErrKind, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrKind)
	}
	return out, nil
}

// Options describe one capture.
type Options struct {
	// BaseURL is the server's pprof listener: "http://127.0.0.1:9901"
	// (a trailing /debug/pprof/ is accepted and dropped).
	BaseURL string
	// Dir is the profile directory; each run gets Dir/<run id>/, the id
	// being the UTC time of New and Name: 20261127T120301Z-keepalive.
	Dir string
	// Name labels the run; characters other than letters, digits, '.',
	// '_' and '-' become '-'.
	Name string
	// Window is the measured window. The CPU and delta profiles are asked
	// for in whole seconds (net/http/pprof's unit), rounded up, with a
	// warning when Window is not whole seconds.
	Window time.Duration
	// Kinds to capture; empty means AllKinds. Trace in Kinds without a
	// Trace duration traces one second.
	Kinds []Kind
	// Trace is the length of the runtime trace taken from the window's
	// start; 0 takes none (unless Kinds has Trace). At most Window.
	Trace time.Duration
	// Token, when not empty, is sent as "Authorization: Bearer <Token>"
	// (hotpath's admin.token_file).
	Token string
	// Client makes the requests; nil means a client of its own, closed by
	// Finish and Abort. No timeout is needed on it: the window's requests
	// last the window, and each request is bounded by its own deadline.
	Client *http.Client
}

// Rates are the server's mutex and block profile rates as hotpath's admin
// listener reports them (GET /debug/pprof/rates).
type Rates struct {
	Mutex int `json:"mutex"` // runtime.SetMutexProfileFraction: 1 in Mutex contention events; 0 is off
	Block int `json:"block"` // runtime.SetBlockProfileRate: a sample per Block ns blocked; 0 is off
}

// Timeouts of the capture's requests: a snapshot, and the time a window's
// request may take beyond the window.
const (
	snapshotTimeout = 30 * time.Second
	windowGrace     = 30 * time.Second
	probeTimeout    = 5 * time.Second
)

// Probe checks that baseURL serves net/http/pprof, and returns the
// server's mutex and block rates when it reports them (hotpath's admin
// listener does; nil otherwise). token, when not empty, is sent as a bearer
// token. An error wraps ErrUnreachable; a 401 says the token is missing or
// wrong.
func Probe(ctx context.Context, client *http.Client, baseURL, token string) (*Rates, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	index := baseURL + "/debug/pprof/"
	code, _, err := get(ctx, client, token, index, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, index, unwrapURLError(err))
	}
	if code == http.StatusUnauthorized {
		return nil, fmt.Errorf("%w: %s answered 401: the admin listener wants a token (hotload --pprof-token-file)", ErrUnreachable, index)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %d %s, not a pprof index", ErrUnreachable, index, code, http.StatusText(code))
	}
	var b strings.Builder
	if code, _, err := get(ctx, client, token, baseURL+"/debug/pprof/rates", &b); err != nil || code != http.StatusOK {
		return nil, nil
	}
	var r Rates
	if json.Unmarshal([]byte(b.String()), &r) != nil {
		return nil, nil
	}
	return &r, nil
}

// unwrapURLError drops url.Error's "Get URL:" prefix, which the caller
// already prints.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// get GETs u into w and returns the status; a non-200 body is returned as
// text instead of being written.
func get(ctx context.Context, client *http.Client, token, u string, w io.Writer) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return resp.StatusCode, strings.TrimSpace(string(msg)), nil
	}
	_, err = io.Copy(w, resp.Body)
	return resp.StatusCode, "", err
}

// When a profile is taken, relative to the window (Entry.When).
const (
	WhenStart  = "start"  // a snapshot when the window starts
	WhenWindow = "window" // a request lasting the window (CPU, deltas, trace)
	WhenEnd    = "end"    // a snapshot after the window
)

// shot is one profile request.
type shot struct {
	kind Kind
	file string
	path string // path and query under BaseURL
	when string
}

// plan lists the requests for kinds over a window of secs seconds.
func plan(kinds []Kind, secs int, trace time.Duration) []shot {
	n := strconv.Itoa(secs)
	var out []shot
	for _, k := range kinds {
		switch k {
		case CPU:
			out = append(out, shot{k, k.File(), "/debug/pprof/profile?seconds=" + n, WhenWindow})
		case Allocs, Mutex, Block:
			out = append(out, shot{k, k.File(), "/debug/pprof/" + string(k) + "?seconds=" + n, WhenWindow})
		case Heap:
			// No gc=1 at the start: a forced collection would land in the
			// window. At the end it makes the live heap exact.
			out = append(out, shot{k, "heap-before.pprof", "/debug/pprof/heap", WhenStart},
				shot{k, k.File(), "/debug/pprof/heap?gc=1", WhenEnd})
		case Goroutine:
			out = append(out, shot{k, k.File(), "/debug/pprof/goroutine", WhenEnd})
		case Trace:
			out = append(out, shot{k, k.File(), "/debug/pprof/trace?seconds=" +
				strconv.FormatFloat(trace.Seconds(), 'f', -1, 64), WhenWindow})
		}
	}
	return out
}

// Capture is one run's capture: New prepares it before the load, Start
// begins it when the measured window begins, Finish completes it when the
// window has ended. A Capture is used by one goroutine at a time (Start
// from a loadgen.Config.WindowStart hook is fine: Run returns after it).
type Capture struct {
	opts     Options
	ctx      context.Context
	own      *http.Transport // the client's transport when Options.Client was nil
	dir      string
	created  time.Time
	secs     int
	rates    *Rates
	shots    []shot
	warnings []string

	started time.Time
	wg      sync.WaitGroup
	mu      sync.Mutex
	errs    []error
	taken   map[string]bool // file -> written
	done    bool
}

// New checks opts, probes the pprof endpoint (an error wrapping
// ErrUnreachable when it does not answer, so that a load run can refuse to
// start), and creates the run directory. ctx bounds every request of the
// capture, Finish's included.
func New(ctx context.Context, opts Options) (*Capture, error) {
	if opts.BaseURL == "" || opts.Dir == "" || opts.Window <= 0 {
		return nil, fmt.Errorf("%w: BaseURL, Dir and a positive Window are required", ErrOptions)
	}
	base, err := normalizeURL(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	opts.BaseURL = base
	if len(opts.Kinds) == 0 {
		opts.Kinds = AllKinds
	}
	if opts.Trace > 0 && !slices.Contains(opts.Kinds, Trace) {
		opts.Kinds = append(slices.Clone(opts.Kinds), Trace)
	}
	if slices.Contains(opts.Kinds, Trace) && opts.Trace <= 0 {
		opts.Trace = min(time.Second, opts.Window)
	}
	if opts.Trace > opts.Window {
		return nil, fmt.Errorf("%w: trace %v is longer than the window %v", ErrOptions, opts.Trace, opts.Window)
	}
	c := &Capture{opts: opts, ctx: ctx, created: time.Now().UTC(), taken: map[string]bool{}}
	if c.opts.Client == nil {
		c.own = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}
		c.opts.Client = &http.Client{Transport: c.own}
	}
	c.secs = int(math.Ceil(opts.Window.Seconds()))
	if time.Duration(c.secs)*time.Second != opts.Window {
		c.warnings = append(c.warnings, fmt.Sprintf(
			"window %v is not whole seconds; the CPU and delta profiles cover %ds", opts.Window, c.secs))
	}
	c.shots = plan(opts.Kinds, c.secs, opts.Trace)
	if c.rates, err = Probe(ctx, c.opts.Client, base, c.opts.Token); err != nil {
		c.closeIdle()
		return nil, err
	}
	if c.rates != nil {
		if c.rates.Mutex == 0 && slices.Contains(opts.Kinds, Mutex) {
			c.warnings = append(c.warnings, "the server samples no mutex contention: mutex.pprof will be empty (hotpath: POST /debug/pprof/rates?mutex=10)")
		}
		if c.rates.Block == 0 && slices.Contains(opts.Kinds, Block) {
			c.warnings = append(c.warnings, "the server samples no blocking: block.pprof will be empty (hotpath: POST /debug/pprof/rates?block=100000)")
		}
	}
	if c.dir, err = makeRunDir(opts.Dir, c.created, opts.Name); err != nil {
		c.closeIdle()
		return nil, err
	}
	return c, nil
}

// normalizeURL checks an http(s) base URL and drops a trailing
// /debug/pprof/ and slashes.
func normalizeURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: pprof URL %q: want http://host:port", ErrOptions, s)
	}
	s = strings.TrimRight(s, "/")
	s = strings.TrimSuffix(s, "/debug/pprof")
	return strings.TrimRight(s, "/"), nil
}

// Dir returns the run directory.
func (c *Capture) Dir() string { return c.dir }

// ID returns the run's id, the base name of its directory.
func (c *Capture) ID() string { return filepath.Base(c.dir) }

// Warnings returns notes about the capture known before it starts (empty
// mutex or block profiles ahead, a window rounded up).
func (c *Capture) Warnings() []string { return slices.Clone(c.warnings) }

// Start begins the capture: it sends the window's requests (CPU profile,
// delta profiles, trace) and the start snapshots in the background and
// returns at once. Call it when the measured window starts, with its start
// time; calls after the first do nothing.
func (c *Capture) Start(windowStart time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.IsZero() || c.done {
		return
	}
	c.started = windowStart
	for _, s := range c.shots {
		var limit time.Duration
		switch s.when {
		case WhenWindow:
			limit = time.Duration(c.secs)*time.Second + windowGrace
		case WhenStart:
			limit = snapshotTimeout
		default:
			continue
		}
		c.wg.Go(func() { c.take(s, limit) })
	}
}

// take makes one request and writes the profile to its file.
func (c *Capture) take(s shot, limit time.Duration) {
	ctx, cancel := context.WithTimeout(c.ctx, limit)
	defer cancel()
	err := c.fetch(ctx, s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	c.taken[s.file] = true
}

func (c *Capture) fetch(ctx context.Context, s shot) error {
	path := filepath.Join(c.dir, s.file)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("profiles: %s: %w", s.file, err)
	}
	code, msg, err := get(ctx, c.opts.Client, c.opts.Token, c.opts.BaseURL+s.path, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%d %s: %s", code, http.StatusText(code), msg)
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("profiles: %s (%s): %w", s.file, s.path, unwrapURLError(err))
	}
	return nil
}

// Run is what the load generator tells Finish about the run.
type Run struct {
	// Command is the command line, for the record.
	Command []string
	// Target describes what was loaded (a URL).
	Target string
	// Warmup and Elapsed are the warm-up and the measured window as it
	// happened (shorter than Options.Window when interrupted).
	Warmup, Elapsed time.Duration
	// Duration is the measured window as asked, and Rate the load's
	// constant rate in requests per second (0: closed loop); runs that
	// differ in them are not comparable (Mismatch).
	Duration time.Duration
	Rate     float64
	// Summary holds the load's figures; Finish adds the server's own from
	// the profiles (CPU and allocations per request).
	Summary Summary
	// Files are written into the run directory as given: the load
	// generator's report ("report.json"), its text summary, ...
	Files map[string][]byte
}

// Finish completes the capture: it waits for the window's requests, takes
// the end snapshots, writes run.Files, and writes and returns the run's
// manifest (manifest.json). Profiles that could be taken are kept when
// others failed; the error joins the failures. When Start was never called
// (the run ended in its warm-up) no profile is taken and the error is
// ErrNotStarted.
func (c *Capture) Finish(run Run) (*Manifest, error) {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return nil, ErrFinished
	}
	c.done = true
	started := !c.started.IsZero()
	c.mu.Unlock()
	defer c.closeIdle()

	c.wg.Wait()
	if started {
		for _, s := range c.shots {
			if s.when == WhenEnd {
				c.take(s, snapshotTimeout)
			}
		}
	} else {
		c.errs = append(c.errs, ErrNotStarted)
	}
	for _, name := range slices.Sorted(maps.Keys(run.Files)) {
		if err := os.WriteFile(filepath.Join(c.dir, filepath.Base(name)), run.Files[name], 0o644); err != nil {
			c.errs = append(c.errs, fmt.Errorf("profiles: %w", err))
		}
	}

	m := &Manifest{
		Version: manifestVersion, ID: c.ID(), Name: c.opts.Name, Command: run.Command,
		PprofURL: c.opts.BaseURL, Target: run.Target, Created: c.created,
		WindowStart: c.started, WindowSec: run.Elapsed.Seconds(), WarmupSec: run.Warmup.Seconds(),
		DurationSec: run.Duration.Seconds(), Rate: run.Rate,
		ProfileSec: c.secs, TraceSec: c.opts.Trace.Seconds(), Rates: c.rates,
		Summary: run.Summary, Warnings: c.warnings,
	}
	if _, ok := run.Files[reportFile]; ok {
		m.Report = reportFile
	}
	for _, s := range c.shots {
		if !c.taken[s.file] {
			continue
		}
		e := Entry{Kind: s.kind, File: s.file, Path: s.path, When: s.when}
		if st, err := os.Stat(filepath.Join(c.dir, s.file)); err == nil {
			e.Bytes = st.Size()
		}
		if s.kind != Trace {
			if err := m.inspect(c.dir, &e); err != nil {
				c.errs = append(c.errs, err)
			}
		}
		m.Profiles = append(m.Profiles, e)
	}
	if c.rates == nil { // else New has warned already
		for _, e := range m.Profiles {
			switch {
			case e.Kind == Mutex && e.Samples == 0:
				m.Warnings = append(m.Warnings, "mutex.pprof has no samples: nothing contended, or the server's mutex profile fraction is 0 (runtime.SetMutexProfileFraction)")
			case e.Kind == Block && e.Samples == 0:
				m.Warnings = append(m.Warnings, "block.pprof has no samples: nothing blocked, or the server's block profile rate is 0 (runtime.SetBlockProfileRate)")
			}
		}
	}
	for _, e := range c.errs {
		m.Errors = append(m.Errors, e.Error())
	}
	if err := m.write(c.dir); err != nil {
		c.errs = append(c.errs, err)
	}
	return m, errors.Join(c.errs...)
}

// Abort removes the run directory of a capture that never started (the
// load could not begin) and releases its connections. It does nothing to
// a started capture.
func (c *Capture) Abort() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started.IsZero() || c.done {
		return nil
	}
	c.done = true
	c.closeIdle()
	return os.RemoveAll(c.dir)
}

func (c *Capture) closeIdle() {
	if c.own != nil {
		c.own.CloseIdleConnections()
	}
}

// makeRunDir creates dir/<timestamp>-<name>, adding -2, -3, ... when two
// runs start in the same second.
func makeRunDir(dir string, t time.Time, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	base := t.Format("20060102T150405Z")
	if n := sanitize(name); n != "" {
		base += "-" + n
	}
	for i := 1; ; i++ {
		p := filepath.Join(dir, base)
		if i > 1 {
			p += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(p, 0o755)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("profiles: %w", err)
		}
	}
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, name)
}
