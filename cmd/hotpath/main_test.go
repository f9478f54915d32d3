package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(good, []byte(`
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - path: /*p
    upstream: app
`), 0o600)
	_ = os.WriteFile(bad, []byte(`
upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - path: /*p
    upstream: api
  - path: /x
    upstream: app
    colour: blue
`), 0o600)

	tests := []struct {
		name    string
		args    []string
		code    int
		stdout  string
		stderrs []string
	}{
		{"good file", []string{"-check", good}, 0, "config OK", nil},
		{"bad file lists every problem", []string{"-check", bad}, 1, "", []string{
			"bad.yaml:7: routes[0].upstream: unknown upstream \"api\"",
			"bad.yaml:10: routes[1].colour: unknown field",
			"2 problem(s)",
		}},
		{"missing file", []string{"-check", filepath.Join(dir, "nope.yaml")}, 1, "", []string{"no such file"}},
		{"version", []string{"-version"}, 0, "hotpath", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q, want %q", out.String(), tc.stdout)
			}
			for _, s := range tc.stderrs {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
		})
	}
}
