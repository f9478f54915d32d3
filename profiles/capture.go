package profiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind is a profile kind; its value is the file's base name.
type Kind string

// Profile kinds. CPU is taken over the window; HeapBefore at its start;
// the others at its end. Trace is a runtime execution trace (go tool
// trace), taken over the window when Options.Trace is set.
const (
	CPU        Kind = "cpu"
	HeapBefore Kind = "heap-before"
	Heap       Kind = "heap"
	Allocs     Kind = "allocs"
	Mutex      Kind = "mutex"
	Block      Kind = "block"
	Goroutine  Kind = "goroutine"
	Trace      Kind = "trace"
)

// AllKinds are the kinds captured when Options.Kinds is empty (Trace only
// with Options.Trace).
var AllKinds = []Kind{CPU, HeapBefore, Heap, Allocs, Mutex, Block, Goroutine}

// File returns the file name of kind k in a run directory: "cpu.pprof",
// "trace.out", ...
func (k Kind) File() string {
	if k == Trace {
		return "trace.out"
	}
	return string(k) + ".pprof"
}

// Options describe one capture.
type Options struct {
	// BaseURL is the admin listener, e.g. "http://127.0.0.1:9901".
	BaseURL string
	// Dir is the profile directory; each run gets Dir/<timestamp>-<Name>/.
	Dir string
	// Name labels the run ("keepalive-64c"); characters other than
	// letters, digits, '.', '_' and '-' become '-'.
	Name string
	// Duration is the measured window. The CPU profile is asked for in
	// whole seconds (net/http/pprof's unit), rounded up; a Duration that is
	// not whole seconds adds a warning to Capture.Warnings.
	Duration time.Duration
	// Kinds to capture; empty means AllKinds.
	Kinds []Kind
	// Trace also captures a runtime trace over the window.
	Trace bool
	// Client makes the requests; nil means a client without timeout (the
	// CPU and trace requests last the whole window; ctx bounds them).
	Client *http.Client
}

// Capture is a capture in progress; Finish completes it.
type Capture struct {
	opts     Options
	ctx      context.Context
	dir      string
	started  time.Time
	seconds  int
	warnings []string

	wg       sync.WaitGroup
	mu       sync.Mutex
	errs     []error
	files    []string
	finished bool
}

// Start creates the run directory, starts the CPU profile (and trace)
// requests in the background and fetches the heap profile of the window's
// start. Call it when the measured window begins. ctx bounds every request,
// including those Finish makes.
func Start(ctx context.Context, opts Options) (*Capture, error) {
	if opts.BaseURL == "" || opts.Dir == "" || opts.Duration <= 0 {
		return nil, fmt.Errorf("%w: BaseURL, Dir and a positive Duration are required", ErrOptions)
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if len(opts.Kinds) == 0 {
		opts.Kinds = AllKinds
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	c := &Capture{opts: opts, ctx: ctx, started: time.Now().UTC()}
	c.seconds = int(math.Ceil(opts.Duration.Seconds()))
	if time.Duration(c.seconds)*time.Second != opts.Duration {
		c.warnings = append(c.warnings, fmt.Sprintf(
			"window %v is not whole seconds; the CPU profile covers %ds", opts.Duration, c.seconds))
	}
	dir, err := makeRunDir(opts.Dir, c.started, opts.Name)
	if err != nil {
		return nil, err
	}
	c.dir = dir

	secs := strconv.Itoa(c.seconds)
	if c.has(CPU) {
		c.background(CPU, "/debug/pprof/profile?seconds="+secs)
	}
	if opts.Trace {
		c.background(Trace, "/debug/pprof/trace?seconds="+secs)
	}
	if c.has(HeapBefore) {
		c.record(HeapBefore, c.fetch(HeapBefore, "/debug/pprof/heap?gc=1"))
	}
	return c, nil
}

// Dir returns the run directory.
func (c *Capture) Dir() string { return c.dir }

// Warnings returns notes about the capture (a window rounded up, ...).
func (c *Capture) Warnings() []string { return c.warnings }

func (c *Capture) has(k Kind) bool {
	for _, x := range c.opts.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

func (c *Capture) background(k Kind, path string) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.record(k, c.fetch(k, path))
	}()
}

func (c *Capture) record(k Kind, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	c.files = append(c.files, k.File())
}

// fetch GETs path and writes the body to the kind's file.
func (c *Capture) fetch(k Kind, path string) error {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.opts.BaseURL+path, nil)
	if err != nil {
		return fmt.Errorf("profiles: %s: %w", k, err)
	}
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("profiles: %s: %w", k, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("profiles: %s: %s: %s", k, resp.Status, strings.TrimSpace(string(msg)))
	}
	f, err := os.Create(filepath.Join(c.dir, k.File()))
	if err != nil {
		return fmt.Errorf("profiles: %s: %w", k, err)
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("profiles: %s: %w", k, err)
	}
	return nil
}

// Finish takes the end-of-window profiles, waits for the CPU profile and
// trace, writes runJSON (the run's config and results, as the caller
// encodes them; nil writes none) to run.json and capture.json describing
// the capture, and returns the run directory. Call it when the measured
// window ends. Profiles that could be taken are kept even when others
// failed; the error joins the failures.
func (c *Capture) Finish(runJSON []byte) (string, error) {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return c.dir, ErrFinished
	}
	c.finished = true
	c.mu.Unlock()

	end := []struct {
		k    Kind
		path string
	}{
		{Heap, "/debug/pprof/heap?gc=1"},
		{Allocs, "/debug/pprof/allocs"},
		{Mutex, "/debug/pprof/mutex"},
		{Block, "/debug/pprof/block"},
		{Goroutine, "/debug/pprof/goroutine"},
	}
	for _, e := range end {
		if c.has(e.k) {
			c.record(e.k, c.fetch(e.k, e.path))
		}
	}
	c.wg.Wait()

	if runJSON != nil {
		if err := os.WriteFile(filepath.Join(c.dir, "run.json"), runJSON, 0o644); err != nil {
			c.record("", fmt.Errorf("profiles: run.json: %w", err))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	meta := struct {
		BaseURL  string    `json:"base_url"`
		Name     string    `json:"name"`
		Started  time.Time `json:"started"`
		Finished time.Time `json:"finished"`
		Window   string    `json:"window"`
		CPUSecs  int       `json:"cpu_seconds"`
		Files    []string  `json:"files"`
		Warnings []string  `json:"warnings,omitempty"`
		Errors   []string  `json:"errors,omitempty"`
	}{c.opts.BaseURL, c.opts.Name, c.started, time.Now().UTC(), c.opts.Duration.String(), c.seconds, c.files, c.warnings, nil}
	for _, e := range c.errs {
		meta.Errors = append(meta.Errors, e.Error())
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(c.dir, "capture.json"), append(b, '\n'), 0o644); err != nil {
		c.errs = append(c.errs, fmt.Errorf("profiles: capture.json: %w", err))
	}
	return c.dir, errors.Join(c.errs...)
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
