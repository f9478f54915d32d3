package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotpath/hotpath/config"
)

const unitPath = "../../dist/hotpath.service"

// unitSettings reads the [Service] settings of the unit (the last value of
// a repeated key).
func unitSettings(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	section := ""
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = line
		case section == "[Service]":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("bad line in the unit: %q", line)
			}
			out[k] = v
		}
	}
	return out
}

// TestSystemdUnit checks dist/hotpath.service: the settings a gateway
// needs (descriptors, reload by SIGHUP, drain by SIGTERM with time for
// it), and systemd-analyze verify when it is installed.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	s := unitSettings(t, text)
	for key, want := range map[string]string{
		"ExecStart":       "/usr/local/bin/hotpath -config /etc/hotpath/hotpath.yaml",
		"ExecStartPre":    "/usr/local/bin/hotpath -check /etc/hotpath/hotpath.yaml",
		"ExecReload":      "/bin/kill -HUP $MAINPID",
		"KillSignal":      "SIGTERM",
		"LimitNOFILE":     "1048576",
		"NoNewPrivileges": "yes",
		"DynamicUser":     "yes",
	} {
		if s[key] != want {
			t.Errorf("%s=%q, want %q", key, s[key], want)
		}
	}
	// The drain must end before systemd's SIGKILL: timeouts.drain, then up
	// to a second for the admin listener (gateway.Shutdown).
	stop, err := time.ParseDuration(s["TimeoutStopSec"])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%q: %v", s["TimeoutStopSec"], err)
	}
	if drain := config.Default().Timeouts.Drain; stop <= drain+time.Second {
		t.Errorf("TimeoutStopSec=%v does not leave room for timeouts.drain (%v) + 1s", stop, drain)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (apt-get install systemd); the unit's settings were checked, not its syntax")
	}
	// verify wants the executables to exist: point them at this test
	// binary, in a copy of the unit.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, "hotpath.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(text, "/usr/local/bin/hotpath", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", unit).CombinedOutput()
	if err != nil || strings.Contains(string(out), "hotpath.service") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
