package profiles

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// BaselinesDir is the folder of baselines inside a profile directory:
// baselines live in <profile dir>/baselines/<name>/.
const BaselinesDir = "baselines"

const baselineFile = "baseline.json"

// Baseline is a named copy of a run kept for comparison.
type Baseline struct {
	Name   string    `json:"name"`
	Source string    `json:"source"` // the run directory it was saved from
	Saved  time.Time `json:"saved"`
	// Dir is the baseline's directory and Manifest the run's manifest.
	Dir      string    `json:"-"`
	Manifest *Manifest `json:"-"`
}

// BaselineDir returns the directory of baseline name under the profile
// directory root.
func BaselineDir(root, name string) string { return filepath.Join(root, BaselinesDir, name) }

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || sanitize(name) != name {
		return fmt.Errorf("%w: baseline name %q: use letters, digits, '.', '_' and '-'", ErrOptions, name)
	}
	return nil
}

// SaveBaseline copies the files of the run in runDir into
// root/baselines/name/, replacing a baseline of that name, and returns
// that directory. It copies rather than links so that runs can be deleted.
func SaveBaseline(root, name, runDir string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	if _, err := ReadManifest(runDir); err != nil {
		return "", err
	}
	parent := filepath.Join(root, BaselinesDir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+name+"-")
	if err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", err
	}
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return fail(fmt.Errorf("profiles: %w", err))
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == baselineFile {
			continue
		}
		if err := copyFile(filepath.Join(runDir, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			return fail(err)
		}
	}
	src, err := filepath.Abs(runDir)
	if err != nil {
		src = runDir
	}
	b, _ := json.MarshalIndent(Baseline{Name: name, Source: src, Saved: time.Now().UTC()}, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, baselineFile), append(b, '\n'), 0o644); err != nil {
		return fail(fmt.Errorf("profiles: %w", err))
	}
	dst := BaselineDir(root, name)
	if err := os.RemoveAll(dst); err != nil {
		return fail(fmt.Errorf("profiles: %w", err))
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fail(fmt.Errorf("profiles: %w", err))
	}
	return dst, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("profiles: %w", err)
	}
	return nil
}

// OpenBaseline reads baseline name under root; the error wraps
// ErrNoBaseline, naming the baselines there, when it does not exist.
func OpenBaseline(root, name string) (*Baseline, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	dir := BaselineDir(root, name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		have := "none"
		if bs, err := Baselines(root); err == nil && len(bs) > 0 {
			var names []string
			for _, b := range bs {
				names = append(names, b.Name)
			}
			have = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("%w: %q in %s (have: %s)", ErrNoBaseline, name, filepath.Join(root, BaselinesDir), have)
	}
	return readBaseline(dir)
}

func readBaseline(dir string) (*Baseline, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	b := &Baseline{Name: filepath.Base(dir), Dir: dir, Manifest: m}
	if data, err := os.ReadFile(filepath.Join(dir, baselineFile)); err == nil {
		_ = json.Unmarshal(data, b) // a baseline without it still works
	}
	b.Dir, b.Manifest = dir, m
	return b, nil
}

// Baselines lists the baselines under root by name; none (and no error)
// when root has no baselines folder.
func Baselines(root string) ([]Baseline, error) {
	entries, err := os.ReadDir(filepath.Join(root, BaselinesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	var out []Baseline
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := readBaseline(filepath.Join(root, BaselinesDir, e.Name()))
		if err != nil {
			continue // not a baseline: leave it alone
		}
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b Baseline) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
