package profiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"
)

// DiffOptions shape Diff's output.
type DiffOptions struct {
	// Kinds are the profiles to diff; empty means CPU. Trace cannot be
	// diffed (use go tool trace).
	Kinds []Kind
	// Top is the number of functions shown per profile; 0 means 20.
	Top int
	// Builtin computes the diff in-process (package
	// github.com/google/pprof/profile) even when the go command is on
	// PATH; without it `go tool pprof -top -diff_base` is used when it is.
	Builtin bool
}

// Diff writes the comparison of the run in runDir with the one in baseDir
// (a baseline or another run): the summary figures side by side, then for
// each kind the functions whose cost changed most, positive when the run
// spends more than the baseline. Profiles missing on either side are
// reported and skipped; the error joins those and any other failure.
func Diff(ctx context.Context, w io.Writer, baseDir, runDir string, opts DiffOptions) error {
	base, err := ReadManifest(baseDir)
	if err != nil {
		return err
	}
	run, err := ReadManifest(runDir)
	if err != nil {
		return err
	}
	if len(opts.Kinds) == 0 {
		opts.Kinds = []Kind{CPU}
	}
	if opts.Top <= 0 {
		opts.Top = 20
	}
	fmt.Fprintf(w, "base %s (%s)\nrun  %s (%s)\n\n", base.ID, baseDir, run.ID, runDir)
	if err := DiffSummary(w, base, run); err != nil {
		return err
	}
	var errs []error
	for _, k := range opts.Kinds {
		fmt.Fprintf(w, "\n== %s\n", k)
		if k == Trace {
			errs = append(errs, fmt.Errorf("%w: traces cannot be diffed; use go tool trace", ErrKind))
			fmt.Fprintln(w, "traces cannot be diffed: go tool trace", filepath.Join(runDir, Trace.File()))
			continue
		}
		if !base.Has(k) || !run.Has(k) {
			missing := baseDir
			if base.Has(k) {
				missing = runDir
			}
			err := fmt.Errorf("%w: %s in %s", ErrNoProfile, k.File(), missing)
			errs = append(errs, err)
			fmt.Fprintln(w, err)
			continue
		}
		b, r := filepath.Join(baseDir, k.File()), filepath.Join(runDir, k.File())
		if err := DiffProfile(ctx, w, b, r, k.SampleType(), opts.Top, opts.Builtin); err != nil {
			errs = append(errs, err)
			fmt.Fprintln(w, err)
		}
	}
	return errors.Join(errs...)
}

// DiffSummary writes the two runs' headline figures side by side with the
// change in percent. Figures unknown on either side show "-".
func DiffSummary(w io.Writer, base, run *Manifest) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\tbase\trun\tchange\t\n")
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	cnt := func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }
	us := func(v float64) string { return fmtNanos(v * 1e3) }
	line := func(name string, a, b float64, f func(float64) string) {
		sa, sb, ch := "-", "-", "-"
		if a != 0 {
			sa = f(a)
		}
		if b != 0 {
			sb = f(b)
		}
		if a != 0 && b != 0 {
			ch = fmt.Sprintf("%+.1f%%", 100*(b-a)/a)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, sa, sb, ch)
	}
	a, b := base.Summary, run.Summary
	line("requests/s", a.RPS, b.RPS, num)
	line("requests", float64(a.Requests), float64(b.Requests), cnt)
	line("errors", float64(a.Errors), float64(b.Errors), cnt)
	line("p50", float64(a.P50US), float64(b.P50US), us)
	line("p99", float64(a.P99US), float64(b.P99US), us)
	line("p99.9", float64(a.P999US), float64(b.P999US), us)
	line("server CPU us/request", a.ServerCPUPerReqUS, b.ServerCPUPerReqUS, num)
	line("server allocs/request", a.ServerAllocsPerReq, b.ServerAllocsPerReq, num)
	line("server alloc B/request", a.ServerAllocBytesPerReq, b.ServerAllocBytesPerReq, num)
	line("hotload CPU us/request", a.ClientCPUPerReqUS, b.ClientCPUPerReqUS, num)
	return tw.Flush()
}

// DiffProfile writes the top functions of the profile in runPath against
// basePath, in sample type typ ("" for the profile's default; see
// Kind.SampleType): `go tool pprof -top -diff_base` when the go command is
// on PATH and builtin is false, else the same table computed in-process.
func DiffProfile(ctx context.Context, w io.Writer, basePath, runPath, typ string, top int, builtin bool) error {
	if !builtin {
		if goBin, err := exec.LookPath("go"); err == nil {
			return goToolDiff(ctx, w, goBin, basePath, runPath, typ, top)
		}
	}
	base, err := readProfile(basePath)
	if err != nil {
		return err
	}
	run, err := readProfile(runPath)
	if err != nil {
		return err
	}
	return topDiff(w, base, run, typ, top)
}

func goToolDiff(ctx context.Context, w io.Writer, goBin, basePath, runPath, typ string, top int) error {
	args := []string{"tool", "pprof", "-top", "-nodecount=" + strconv.Itoa(top)}
	if typ != "" {
		args = append(args, "-sample_index="+typ)
	}
	// The profiles from net/http/pprof are symbolized already, and pprof
	// must not try to reach anything.
	args = append(args, "-symbolize=none", "-diff_base="+basePath, runPath)
	fmt.Fprintf(w, "go %s\n", strings.Join(args, " "))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = w, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("profiles: go tool pprof: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// topDiff is `pprof -top -diff_base` in-process: for each function the
// change of its flat cost (samples whose leaf it is) and cumulative cost
// (samples it is on the stack of), in sample type typ (or the run's
// default), largest change first; percentages are of the base's total.
func topDiff(w io.Writer, base, run *profile.Profile, typ string, top int) error {
	ri := sampleIndex(run, typ)
	st := run.SampleType[ri]
	bi, err := base.SampleIndexByName(st.Type)
	if err != nil {
		return fmt.Errorf("profiles: the base has no %s samples: %w", st.Type, err)
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	add := func(p *profile.Profile, idx int, sign int64) int64 {
		var tot int64
		seen := map[string]bool{}
		for _, s := range p.Sample {
			v := s.Value[idx]
			tot += v
			clear(seen)
			leaf := true
			for _, loc := range s.Location {
				names := lineNames(loc)
				for _, name := range names {
					if leaf {
						flat[name] += sign * v
						leaf = false
					}
					if !seen[name] {
						seen[name] = true
						cum[name] += sign * v
					}
				}
			}
		}
		return tot
	}
	bt := add(base, bi, -1)
	rt := add(run, ri, 1)

	names := make([]string, 0, len(cum))
	for name := range cum {
		if flat[name] != 0 || cum[name] != 0 {
			names = append(names, name)
		}
	}
	abs := func(v int64) int64 { return max(v, -v) }
	slices.SortFunc(names, func(a, b string) int {
		if c := -cmpInt(abs(flat[a]), abs(flat[b])); c != 0 {
			return c
		}
		if c := -cmpInt(abs(cum[a]), abs(cum[b])); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	f := formatter(st.Unit)
	pct := func(v int64) string {
		if bt == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.2f%%", 100*float64(v)/math.Abs(float64(bt)))
	}
	change := "-"
	if bt != 0 {
		change = fmt.Sprintf("%+.1f%%", 100*float64(rt-bt)/math.Abs(float64(bt)))
	}
	fmt.Fprintf(w, "Type: %s (%s), in-process diff; base %s, run %s, change %s (%s)\n",
		st.Type, st.Unit, f(bt, false), f(rt, false), f(rt-bt, true), change)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "flat Δ\tflat Δ%%\tcum Δ\tcum Δ%%\tfunction\n")
	for _, name := range names[:min(top, len(names))] {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f(flat[name], true), pct(flat[name]), f(cum[name], true), pct(cum[name]), name)
	}
	return tw.Flush()
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lineNames returns the functions of a location, innermost first (the
// profile lists inlined callees before their caller), or its address when
// it is not symbolized.
func lineNames(loc *profile.Location) []string {
	if len(loc.Line) == 0 {
		return []string{"0x" + strconv.FormatUint(loc.Address, 16)}
	}
	out := make([]string, 0, len(loc.Line))
	for _, l := range loc.Line {
		if l.Function == nil {
			out = append(out, "0x"+strconv.FormatUint(loc.Address, 16))
			continue
		}
		out = append(out, l.Function.Name)
	}
	return out
}

// formatter returns a printer for values of unit, with a sign when asked.
func formatter(unit string) func(v int64, sign bool) string {
	return func(v int64, sign bool) string {
		var s string
		switch unit {
		case "nanoseconds":
			s = fmtNanos(math.Abs(float64(v)))
		case "bytes":
			s = fmtBytes(math.Abs(float64(v)))
		default:
			s = strconv.FormatInt(max(v, -v), 10)
		}
		switch {
		case v < 0:
			return "-" + s
		case sign && v > 0:
			return "+" + s
		}
		return s
	}
}

// fmtNanos formats a non-negative nanosecond value as pprof does: ns, us,
// ms or s with two decimals.
func fmtNanos(ns float64) string {
	switch {
	case ns < 1e3:
		return strconv.FormatFloat(ns, 'f', 0, 64) + "ns"
	case ns < 1e6:
		return strconv.FormatFloat(ns/1e3, 'f', 2, 64) + "us"
	case ns < 1e9:
		return strconv.FormatFloat(ns/1e6, 'f', 2, 64) + "ms"
	}
	return strconv.FormatFloat(ns/1e9, 'f', 2, 64) + "s"
}

// fmtBytes formats a non-negative byte count with binary units.
func fmtBytes(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(b, 'f', 0, 64) + "B"
	}
	return strconv.FormatFloat(b, 'f', 2, 64) + units[i]
}
