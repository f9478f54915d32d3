package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckOnePass: hotpath -check reports every problem of a file at once:
// field errors, a duplicate route name, a route conflict the routing table
// would refuse and a file that cannot be read. Before, the conflict and
// the file came only after the field errors were fixed.
func TestCheckOnePass(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "many.yaml")
	_ = os.WriteFile(path, []byte(`upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
routes:
  - {name: a, path: /a, upstream: nope}
  - {name: b, path: "/users/:id", upstream: app}
  - {name: b, path: "/users/:name", upstream: app}
  - name: staff
    path: /staff/*rest
    upstream: app
    auth: {basic: {htpasswd_file: `+filepath.Join(dir, "missing.htpasswd")+`}}
timeouts: {connect: soon}
`), 0o600)
	checkReports(t, path, []string{
		dir + `/many.yaml:5: routes[0].upstream: unknown upstream "nope"`,
		dir + `/many.yaml:7: routes[2].name: duplicate route name "b" (also routes[1])`,
		dir + `/many.yaml:7: routes[2].path: trie: conflicting parameter names`,
		dir + `/many.yaml:11: routes[3].auth.basic.htpasswd_file: cannot read: open ` + filepath.Join(dir, "missing.htpasswd"),
		dir + `/many.yaml:12: timeouts.connect: want a duration`,
		"5 problem(s) in " + path,
	})
}

// checkReports runs hotpath -check on path and wants exit 1 and stderr's
// lines to begin with want, in order, and no more lines.
func checkReports(t *testing.T, path string, want []string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"-check", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr:\n%s", errb.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d:\n got  %s\n want %s", i+1, lines[i], w)
		}
	}
}

// TestCheckCompilesDespiteFieldErrors: problems only compiling finds (the
// content of a CA file and an htpasswd file, a rate limit the limiter
// refuses, a rate-limit key, a compression type) are reported in the same
// run as field errors, each at its field. Before, they waited until the
// field errors were fixed.
func TestCheckCompilesDespiteFieldErrors(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(ca, []byte("not pem\n"), 0o600)
	htpasswd := filepath.Join(dir, "staff.htpasswd")
	_ = os.WriteFile(htpasswd, []byte("no colon here\n"), 0o600)
	path := filepath.Join(dir, "compile.yaml")
	_ = os.WriteFile(path, []byte(`upstreams:
  - name: app
    endpoints: [{address: "127.0.0.1:9001"}]
    tls: {ca_file: `+ca+`}
routes:
  - name: limited
    path: /limited
    upstream: app
    rate_limit: {rate: 1, per: 1000h, burst: 1000, key: ["cookie:sid"]}
  - name: squeezed
    path: /squeezed
    upstream: app
    compression: {types: ["not a type"]}
  - name: staff
    path: /staff
    upstream: app
    auth: {basic: {htpasswd_file: `+htpasswd+`}}
  - {name: broken, path: /broken, upstream: nope}
timeouts: {connect: soon}
`), 0o600)
	checkReports(t, path, []string{
		path + ":4: upstreams[0].tls.ca_file: " + ca + ": no PEM certificate in it",
		path + ":9: routes[0].rate_limit.burst: limiter: burst/rate",
		path + `:9: routes[0].rate_limit.key[0]: want client_ip, route, host, path, header:<name> or query:<name>, got "cookie:sid"`,
		path + `:13: routes[1].compression.types[0]: compression: bad content type pattern`,
		path + ":17: routes[2].auth.basic.htpasswd_file: " + htpasswd + ": line 1:",
		path + `:18: routes[3].upstream: unknown upstream "nope"`,
		path + ":19: timeouts.connect: want a duration",
		"7 problem(s) in " + path,
	})
}

// TestCheckYAMLLine: an indentation error is reported at its own line.
func TestCheckYAMLLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "indent.yaml")
	_ = os.WriteFile(path, []byte("listeners:\n  - address: 127.0.0.1:8080\n   workers: 2\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-check", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	if want := path + ":3: did not find expected '-' indicator\n"; !strings.HasPrefix(errb.String(), want) {
		t.Errorf("stderr %q, want %q first", errb.String(), want)
	}
}

// TestCheckWarnings: warnings are printed and the check still passes.
func TestCheckWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "warn.yaml")
	_ = os.WriteFile(path, []byte(`upstreams: [{name: app, endpoints: [{address: "127.0.0.1:9001"}]}]
routes:
  - name: a
    path: /a
    upstream: app
    headers: {request: {add: {X-Client: "${client_ip}"}}}
`), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-check", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	if !strings.Contains(errb.String(), path+":6: routes[0].headers.request.add.X-Client: warning: a client can send X-Client too") ||
		out.String() != "config OK, 1 warning(s)\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errb.String())
	}
}

// TestCheckExample: the shipped reference config checks cleanly, from the
// repository root as its header says (its files are relative to it).
func TestCheckExample(t *testing.T) {
	t.Chdir("../..")
	var out, errb bytes.Buffer
	if code := run([]string{"-check", "config/example.yaml"}, &out, &errb); code != 0 || errb.Len() != 0 {
		t.Fatalf("hotpath -check config/example.yaml: exit %d\nstdout %s\nstderr:\n%s", code, out.String(), errb.String())
	}
}

// TestCheckCompileAndToken: problems compiling finds and the admin token
// file's are reported together.
func TestCheckCompileAndToken(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "short.token")
	_ = os.WriteFile(token, []byte("short\n"), 0o600)
	path := filepath.Join(dir, "both.yaml")
	_ = os.WriteFile(path, []byte(`admin: {address: "127.0.0.1:9901", token_file: `+token+`}
upstreams: [{name: app, endpoints: [{address: "127.0.0.1:9001"}]}]
routes:
  - path: /*p
    upstream: app
    rate_limit: {rate: 1, per: 1000h, burst: 1000}
`), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-check", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		path + ":1: admin.token_file: " + token + ": the token must be at least 16 bytes",
		path + ":6: routes[0].rate_limit.burst: limiter:",
		"2 problem(s)",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestCheckYAMLFirstLine: a syntax error on the first line, which yaml.v3
// reports without a line, is reported at line 1, and one further down at
// its own line.
func TestCheckYAMLFirstLine(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		line      string
	}{
		{name: "first", doc: "a: b: c\nx: 1\n", line: ":1: "},
		{name: "third", doc: "x: 1\ny: 2\na: b: c\n", line: ":3: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			_ = os.WriteFile(path, []byte(c.doc), 0o600)
			var out, errb bytes.Buffer
			if code := run([]string{"-check", path}, &out, &errb); code != 1 {
				t.Fatalf("exit %d", code)
			}
			if want := path + c.line + "mapping values are not allowed in this context\n"; !strings.HasPrefix(errb.String(), want) {
				t.Errorf("stderr %q, want %q first", errb.String(), want)
			}
		})
	}
}

// TestCheckDuplicateRouteWithOthers: a duplicate route (same path, no
// names), two routes with one name and a field error elsewhere are all
// reported in one run, and a short admin token beside field errors too.
func TestCheckDuplicateRouteWithOthers(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "short.token")
	_ = os.WriteFile(token, []byte("short\n"), 0o600)
	path := filepath.Join(dir, "dup.yaml")
	_ = os.WriteFile(path, []byte(`admin: {address: "127.0.0.1:9901", token_file: `+token+`}
upstreams: [{name: app, endpoints: [{address: "127.0.0.1:9001"}]}]
routes:
  - {path: /a, upstream: app}
  - {path: /a, upstream: app}
  - {name: same, path: /b, upstream: app}
  - {name: same, path: /c, upstream: app}
timeouts: {connect: soon}
`), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-check", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		path + ":1: admin.token_file: " + token + ": the token must be at least 16 bytes",
		path + ":5: routes[1].path: trie: duplicate route",
		path + `:7: routes[3].name: duplicate route name "same" (also routes[2])`,
		path + ":8: timeouts.connect: want a duration",
		"4 problem(s)",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestCheckDeprecated: an old spelling checks OK with a deprecation
// warning naming its line and the new spelling.
func TestCheckDeprecated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.yaml")
	_ = os.WriteFile(path, []byte("limits:\n  max_head: 16384\ntimeouts:\n  keepalive: 30s\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"-check", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{
		path + ":2: limits.max_head: warning: deprecated: write max_head_bytes instead",
		path + ":4: timeouts.keepalive: warning: deprecated: write client_idle instead",
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
	if out.String() != "config OK, 2 warning(s)\n" {
		t.Errorf("stdout %q", out.String())
	}
}
