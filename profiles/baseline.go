package profiles

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// SaveBaseline copies the files of runDir into <parent of runDir>/baselines/
// <name>/ (replacing a baseline of that name) and returns that directory.
// It copies rather than links so that run directories can be deleted.
func SaveBaseline(runDir, name string) (string, error) {
	name = sanitize(name)
	if name == "" {
		return "", fmt.Errorf("%w: empty baseline name", ErrOptions)
	}
	root := filepath.Join(filepath.Dir(filepath.Clean(runDir)), "baselines")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	tmp, err := os.MkdirTemp(root, "."+name+"-")
	if err != nil {
		return "", fmt.Errorf("profiles: %w", err)
	}
	entries, err := os.ReadDir(runDir)
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("profiles: %w", err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(runDir, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	// The source run, for the record.
	os.WriteFile(filepath.Join(tmp, "SOURCE"), []byte(runDir+"\n"), 0o644)
	dst := filepath.Join(root, name)
	if err := os.RemoveAll(dst); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("profiles: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("profiles: %w", err)
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

// Diff returns `go tool pprof -top` of kind in runDir against the same kind
// in baselineDir (-diff_base): positive entries got more expensive. Both
// directories are run or baseline directories. It needs the go command.
func Diff(baselineDir, runDir string, kind Kind) (string, error) {
	return DiffContext(context.Background(), baselineDir, runDir, kind)
}

// DiffContext is Diff with a context bounding the go tool pprof process.
func DiffContext(ctx context.Context, baselineDir, runDir string, kind Kind) (string, error) {
	if kind == Trace {
		return "", fmt.Errorf("%w: traces cannot be diffed; use go tool trace", ErrOptions)
	}
	base := filepath.Join(baselineDir, kind.File())
	cur := filepath.Join(runDir, kind.File())
	for _, p := range []string{base, cur} {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s", ErrNoProfile, p)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", ErrNoGo
	}
	// -symbolize=none: the profiles from net/http/pprof are symbolized
	// already, and pprof must not try to reach anything.
	cmd := exec.CommandContext(ctx, goBin, "tool", "pprof", "-top", "-nodecount=30",
		"-symbolize=none", "-diff_base="+base, cur)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("profiles: go tool pprof: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.String(), nil
}
