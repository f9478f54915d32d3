package config

import (
	"strings"
	"testing"
	"time"
)

const deprecationUps = "upstreams: [{name: app, endpoints: [{address: \"127.0.0.1:1\"}]}]\n"

// TestOldSpellings: each old spelling decodes to the same value as its
// new one, and Warnings names it (file, line, old path, the new name).
// The new spelling warns about nothing.
func TestOldSpellings(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		got      func(c *Config) any
		want     any
		warning  string // for the old spelling
	}{
		{name: "max_request_line", old: "limits: {max_request_line: 4096}\n", new: "limits: {max_request_line_bytes: 4k}\n",
			got: func(c *Config) any { return c.Limits.MaxRequestLineBytes }, want: Size(4096),
			warning: "t.yaml:1: limits.max_request_line: warning: deprecated: write max_request_line_bytes instead"},
		{name: "max_head", old: "limits: {max_head: 16384}\n", new: "limits: {max_head_bytes: 16KiB}\n",
			got: func(c *Config) any { return c.Limits.MaxHeadBytes }, want: Size(16384),
			warning: "t.yaml:1: limits.max_head: warning: deprecated: write max_head_bytes instead"},
		{name: "limits max_body", old: "limits: {max_body: 1MiB}\n", new: "limits: {max_body_bytes: 1048576}\n",
			got: func(c *Config) any { return c.Limits.MaxBodyBytes }, want: Size(1 << 20),
			warning: "t.yaml:1: limits.max_body: warning: deprecated: write max_body_bytes instead"},
		{name: "route max_body", old: deprecationUps + "routes: [{path: /a, upstream: app, max_body: 2k}]\n",
			new: deprecationUps + "routes: [{path: /a, upstream: app, max_body_bytes: 2k}]\n",
			got: func(c *Config) any { return c.Routes[0].MaxBodyBytes }, want: Size(2048),
			warning: "t.yaml:2: routes[0].max_body: warning: deprecated: write max_body_bytes instead"},
		{name: "compression min_length", old: deprecationUps + "routes: [{path: /a, upstream: app, compression: {min_length: 10}}]\n",
			new: deprecationUps + "routes: [{path: /a, upstream: app, compression: {min_bytes: 10}}]\n",
			got: func(c *Config) any { return c.Routes[0].Compression.MinBytes }, want: Size(10),
			warning: "t.yaml:2: routes[0].compression.min_length: warning: deprecated: write min_bytes instead"},
		{name: "aggregate max_body", old: deprecationUps + "routes:\n  - path: /a\n    aggregate:\n      max_body: 3k\n      parts: [{name: p, upstream: app, path: /p}]\n",
			new: deprecationUps + "routes:\n  - path: /a\n    aggregate:\n      max_body_bytes: 3k\n      parts: [{name: p, upstream: app, path: /p}]\n",
			got: func(c *Config) any { return c.Routes[0].Aggregate.MaxBodyBytes }, want: Size(3072),
			warning: "t.yaml:5: routes[0].aggregate.max_body: warning: deprecated: write max_body_bytes instead"},
		{name: "keepalive", old: "timeouts: {keepalive: 9s}\n", new: "timeouts: {client_idle: 9s}\n",
			got: func(c *Config) any { return c.Timeouts.ClientIdle }, want: 9 * time.Second,
			warning: "t.yaml:1: timeouts.keepalive: warning: deprecated: write client_idle instead"},
		{name: "listener workers", old: "listeners: [{address: \"127.0.0.1:0\", workers: 3}]\n", new: "workers: 3\nlisteners: [{address: \"127.0.0.1:0\"}]\n",
			got: func(c *Config) any { return c.EventLoops() }, want: 3,
			warning: "t.yaml:1: listeners[0].workers: warning: deprecated: write the top-level workers instead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldc, err := Parse("t.yaml", []byte(tt.old))
			if err != nil {
				t.Fatalf("old spelling: %v", err)
			}
			newc, err := Parse("t.yaml", []byte(tt.new))
			if err != nil {
				t.Fatalf("new spelling: %v", err)
			}
			if g := tt.got(oldc); g != tt.want {
				t.Errorf("old spelling: got %v, want %v", g, tt.want)
			}
			if g := tt.got(newc); g != tt.want {
				t.Errorf("new spelling: got %v, want %v", g, tt.want)
			}
			ws := oldc.Warnings()
			if len(ws) != 1 || !strings.HasPrefix(ws[0].Error(), tt.warning) || !strings.HasSuffix(ws[0].Error(), "(the old spelling works until the next release)") {
				t.Errorf("old spelling warnings %q, want one starting %q", ws, tt.warning)
			}
			if ws := newc.Warnings(); len(ws) != 0 {
				t.Errorf("new spelling warns: %q", ws)
			}
		})
	}
}

// TestOldSpellingErrors: an old and a new spelling of one field together
// are a duplicate; a value error under an old spelling names it as
// written; top-level workers and a listener's disagreeing are an error.
func TestOldSpellingErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{name: "both spellings", yaml: "limits:\n  max_head_bytes: 1k\n  max_head: 2k\n",
			want: []string{"t.yaml:3: limits.max_head: duplicate field (max_head is max_head_bytes's old name; keep max_head_bytes)"}},
		{name: "bad value under the old name", yaml: "timeouts:\n  keepalive: soon\n",
			want: []string{`t.yaml:2: timeouts.keepalive: want a duration such as "30s" or "750ms", got "soon"`}},
		{name: "check under the old name", yaml: "limits:\n  max_head: 0\n",
			want: []string{"t.yaml:2: limits.max_head_bytes: must be positive"}},
		{name: "workers twice", yaml: "workers: 2\nlisteners:\n  - address: 127.0.0.1:1\n    workers: 4\n",
			want: []string{"t.yaml:4: listeners[0].workers: is 4 but workers is 2; all listeners share the event loops (set the top-level workers only)"}},
		{name: "negative workers", yaml: "workers: -1\n",
			want: []string{"t.yaml:1: workers: must be 0 (one per core) or more"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml))
			errs, _ := err.(Errors)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			for i, w := range tt.want {
				if errs[i].Error() != w {
					t.Errorf("error %d:\n got  %s\n want %s", i, errs[i], w)
				}
			}
		})
	}
}

// TestDefaultAndExampleUseNewSpellings: the shipped configs warn about
// nothing deprecated.
func TestDefaultAndExampleUseNewSpellings(t *testing.T) {
	ex, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{Default(), ex} {
		for _, w := range c.Warnings() {
			if strings.Contains(w.Msg, "deprecated") {
				t.Errorf("%s", w)
			}
		}
	}
}
