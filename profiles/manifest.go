package profiles

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/pprof/profile"
)

// Files of a run directory besides the profiles.
const (
	manifestFile    = "manifest.json"
	reportFile      = "report.json" // the load generator's report (hotload --json)
	manifestVersion = 1
)

// Manifest describes a run directory (manifest.json): how the run was
// made, which profiles it holds, and its headline figures, so that runs
// and baselines can be listed and diffed without reparsing everything.
type Manifest struct {
	Version  int       `json:"version"`
	ID       string    `json:"id"` // the run directory's name
	Name     string    `json:"name,omitempty"`
	Command  []string  `json:"command,omitempty"`
	PprofURL string    `json:"pprof_url"`
	Target   string    `json:"target,omitempty"`
	Created  time.Time `json:"created"`
	// WindowStart is when the measured window began (zero when it never
	// did); WindowSec its length as run, WarmupSec the warm-up before it.
	WindowStart time.Time `json:"window_start"`
	WindowSec   float64   `json:"window_s"`
	WarmupSec   float64   `json:"warmup_s"`
	// DurationSec is the window as asked (0 in manifests written before it
	// was recorded) and Rate the load's constant rate (0: closed loop).
	DurationSec float64 `json:"duration_s,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	// ProfileSec is the seconds= asked of the CPU and delta profiles;
	// TraceSec the trace's length (0: none).
	ProfileSec int     `json:"profile_s"`
	TraceSec   float64 `json:"trace_s,omitempty"`
	// Rates are the server's mutex and block rates when it reports them.
	Rates    *Rates   `json:"rates,omitempty"`
	Profiles []Entry  `json:"profiles"`
	Report   string   `json:"report,omitempty"` // the load report's file, if any
	Summary  Summary  `json:"summary"`
	Warnings []string `json:"warnings,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

// Entry is one profile file of a run.
type Entry struct {
	Kind  Kind   `json:"kind"`
	File  string `json:"file"`
	Path  string `json:"path"` // what was asked of the server
	When  string `json:"when"` // WhenStart, WhenWindow or WhenEnd
	Bytes int64  `json:"bytes"`
	// Samples is the number of samples; Type, Unit and Total describe the
	// profile's default sample type and its sum (not set for a trace).
	Samples int    `json:"samples"`
	Type    string `json:"type,omitempty"`
	Unit    string `json:"unit,omitempty"`
	Total   int64  `json:"total"`
}

// Summary holds a run's headline figures. The load generator fills the
// load's; Finish fills the server's from the CPU and allocs profiles
// (estimates: the CPU profile samples at 100 Hz, the allocation profile
// every 512 KiB by default). Zero means unknown.
type Summary struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	RPS      float64 `json:"rps"`
	P50US    int64   `json:"p50_us"`
	P99US    int64   `json:"p99_us"`
	P999US   int64   `json:"p99_9_us"`
	// ClientCPUPerReqUS is the load generator's own CPU per request.
	ClientCPUPerReqUS float64 `json:"hotload_cpu_per_request_us,omitempty"`
	// ServerCPUSec is the CPU time in the server's CPU profile, and
	// ServerCPUPerReqUS that divided by Requests.
	ServerCPUSec      float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerReqUS float64 `json:"server_cpu_per_request_us,omitempty"`
	// ServerAllocBytesPerReq and ServerAllocsPerReq are the server's
	// allocations over the window (allocs delta profile) per request.
	ServerAllocBytesPerReq float64 `json:"server_alloc_bytes_per_request,omitempty"`
	ServerAllocsPerReq     float64 `json:"server_allocs_per_request,omitempty"`
}

// inspect parses e's profile, fills e's sample figures and, for the CPU
// and allocs profiles, the server's figures in m.Summary.
func (m *Manifest) inspect(dir string, e *Entry) error {
	p, err := readProfile(filepath.Join(dir, e.File))
	if err != nil {
		return err
	}
	e.Samples = len(p.Sample)
	i := sampleIndex(p, e.Kind.SampleType())
	e.Type, e.Unit = p.SampleType[i].Type, p.SampleType[i].Unit
	e.Total = total(p, i)
	perReq := func(v int64) float64 {
		if m.Summary.Requests <= 0 {
			return 0
		}
		return float64(v) / float64(m.Summary.Requests)
	}
	switch e.Kind {
	case CPU:
		if j, err := p.SampleIndexByName("cpu"); err == nil && p.SampleType[j].Unit == "nanoseconds" {
			ns := total(p, j)
			m.Summary.ServerCPUSec = float64(ns) / 1e9
			m.Summary.ServerCPUPerReqUS = perReq(ns) / 1e3
		}
	case Allocs:
		if j, err := p.SampleIndexByName("alloc_space"); err == nil {
			m.Summary.ServerAllocBytesPerReq = perReq(total(p, j))
		}
		if j, err := p.SampleIndexByName("alloc_objects"); err == nil {
			m.Summary.ServerAllocsPerReq = perReq(total(p, j))
		}
	}
	return nil
}

// readProfile parses a profile.proto file (gzipped or not).
func readProfile(path string) (*profile.Profile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", filepath.Base(path), err)
	}
	if len(p.SampleType) == 0 {
		return nil, fmt.Errorf("profiles: %s: no sample types", filepath.Base(path))
	}
	return p, nil
}

// SampleType returns the sample type that shows kind k's cost: alloc_space
// for allocs (a delta profile loses its default, inuse_space, which says
// little about a window), inuse_space for heap, delay for mutex and block,
// cpu for CPU; "" for the profile's default.
func (k Kind) SampleType() string {
	switch k {
	case CPU:
		return "cpu"
	case Allocs:
		return "alloc_space"
	case Heap:
		return "inuse_space"
	case Mutex, Block:
		return "delay"
	}
	return ""
}

// sampleIndex is the index of sample type typ in p, else the one pprof
// shows by default: the profile's DefaultSampleType, else the last.
func sampleIndex(p *profile.Profile, typ string) int {
	if typ != "" {
		if i, err := p.SampleIndexByName(typ); err == nil {
			return i
		}
	}
	if p.DefaultSampleType != "" {
		if i, err := p.SampleIndexByName(p.DefaultSampleType); err == nil {
			return i
		}
	}
	return len(p.SampleType) - 1
}

func total(p *profile.Profile, i int) int64 {
	var n int64
	for _, s := range p.Sample {
		n += s.Value[i]
	}
	return n
}

func (m *Manifest) write(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, manifestFile), append(b, '\n'), 0o644)
	}
	if err != nil {
		return fmt.Errorf("profiles: manifest: %w", err)
	}
	return nil
}

// ReadManifest reads dir's manifest.json; the error wraps ErrNotRun when
// dir has none.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s", ErrNotRun, dir, manifestFile)
	}
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("profiles: %s: %w", filepath.Join(dir, manifestFile), err)
	}
	if m.Version != manifestVersion {
		return nil, fmt.Errorf("profiles: %s: manifest version %d, want %d", dir, m.Version, manifestVersion)
	}
	return &m, nil
}

// Has reports whether the run holds a profile of kind k.
func (m *Manifest) Has(k Kind) bool {
	for _, e := range m.Profiles {
		if e.Kind == k && e.File == k.File() {
			return true
		}
	}
	return false
}

// Mismatch lists how two runs differ in what makes their profiles and
// figures comparable: the target, the measured window as asked, and the
// load's rate. Empty when they agree. A window not recorded (an older
// manifest) is not compared.
func Mismatch(base, run *Manifest) []string {
	var out []string
	differ := func(what, a, b string) {
		out = append(out, fmt.Sprintf("%s and %s differ in %s: %s vs %s", base.ID, run.ID, what, a, b))
	}
	if base.Target != run.Target {
		differ("target", base.Target, run.Target)
	}
	if base.DurationSec != 0 && run.DurationSec != 0 && base.DurationSec != run.DurationSec {
		differ("duration", seconds(base.DurationSec), seconds(run.DurationSec))
	}
	if base.Rate != run.Rate {
		differ("rate", rateName(base.Rate), rateName(run.Rate))
	}
	return out
}

func seconds(s float64) string { return time.Duration(s * float64(time.Second)).String() }

func rateName(r float64) string {
	if r == 0 {
		return "closed loop"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + " req/s"
}
