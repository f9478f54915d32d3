package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotpath/hotpath/cmd/internal/buildinfo"
)

func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"-version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if line := strings.TrimSuffix(out.String(), "\n"); !buildinfo.Pattern.MatchString(line) || !strings.HasPrefix(line, "hotpath ") {
		t.Errorf("-version printed %q", out.String())
	}
}

// TestMakeBuildStamps builds the three binaries with `make build` and
// checks that each -version shows what the Makefile stamped: the version
// given, the commit checked out and a build date, even though the module
// builds with -buildvcs=false.
func TestMakeBuildStamps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the three binaries")
	}
	for _, tool := range []string{"make", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	bin := t.TempDir()
	make := exec.Command("make", "-C", root, "build", "BIN="+bin, "VERSION=v0.0.0-test")
	// Under `make test`, MAKEFLAGS would hand the parent's command-line
	// variables (COMMIT=..., say) to this make: start it afresh.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MFLAGS" && k != "MAKELEVEL" {
			make.Env = append(make.Env, kv)
		}
	}
	if out, err := make.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, name := range []string{"hotpath", "hotload", "hotecho"} {
		out, err := exec.Command(filepath.Join(bin, name), "-version").Output()
		if err != nil {
			t.Fatalf("%s -version: %v", name, err)
		}
		line := strings.TrimSuffix(string(out), "\n")
		if !buildinfo.Pattern.MatchString(line) ||
			!strings.HasPrefix(line, name+" v0.0.0-test (commit "+commit+", built 20") {
			t.Errorf("%s -version = %q, want the stamped version, commit %s and a date", name, line, commit)
		}
	}
}
