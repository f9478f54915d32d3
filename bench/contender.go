package bench

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"add": func(a, b int) int { return a + b },
}).ParseFS(templateFS, "templates/*.tmpl"))

// Contender is one server under test: how its config is rendered, checked
// and run.
type Contender struct {
	Name string
	// Kind is the server it is: "hotpath", "nginx" or "haproxy". It is the
	// Name but for a second hotpath build (Options.BinB), which is of kind
	// hotpath under another name.
	Kind string
	// Dir, for a contender of kind hotpath, is the directory its binary
	// comes from (Options.Bin or Options.BinB).
	Dir string
	// Binary is the executable's path (found or installed by findPeers).
	Binary string
	// template under templates/ and the config file name it renders to.
	template, file string
	// checkArgs and runArgs are the arguments that validate the config and
	// run the server in the foreground.
	checkArgs func(conf, dir string) []string
	runArgs   func(conf, dir string) []string
	// version returns a one-line version string.
	versionArgs []string
}

// ContenderNames lists the contenders in the order they run within a round.
var ContenderNames = []string{"nginx", "haproxy", "hotpath"}

// contenderFor returns the contender called name, its binary unset.
func contenderFor(name string) (*Contender, error) {
	switch name {
	case "hotpath":
		return &Contender{
			Name: name, Kind: name, template: "hotpath.yaml.tmpl", file: "hotpath.yaml",
			checkArgs:   func(conf, _ string) []string { return []string{"-check", conf} },
			runArgs:     func(conf, _ string) []string { return []string{"-config", conf} },
			versionArgs: []string{"-version"},
		}, nil
	case "nginx":
		return &Contender{
			Name: name, Kind: name, template: "nginx.conf.tmpl", file: "nginx.conf",
			checkArgs:   func(conf, dir string) []string { return []string{"-t", "-q", "-p", dir, "-c", conf} },
			runArgs:     func(conf, dir string) []string { return []string{"-p", dir, "-c", conf} },
			versionArgs: []string{"-v"},
		}, nil
	case "haproxy":
		return &Contender{
			Name: name, Kind: name, template: "haproxy.cfg.tmpl", file: "haproxy.cfg",
			checkArgs: func(conf, _ string) []string { return []string{"-c", "-q", "-f", conf} },
			// -db: foreground, no master process.
			runArgs:     func(conf, _ string) []string { return []string{"-db", "-f", conf} },
			versionArgs: []string{"-v"},
		}, nil
	}
	return nil, fmt.Errorf("bench: unknown contender %q (known: %s)", name, strings.Join(ContenderNames, ", "))
}

// isHotpath reports whether c is a build of hotpath (the one under test or
// the second one of Options.BinB).
func (c *Contender) isHotpath() bool { return c.Kind == "hotpath" }

// secondHotpath returns a contender of kind hotpath called name whose
// binary comes from dir (Options.BinB): an A/B of two builds in one run.
func secondHotpath(name, dir string) *Contender {
	c, _ := contenderFor("hotpath")
	c.Name, c.Dir = name, dir
	return c
}

// site is what the config templates are rendered from.
type site struct {
	Listen   string // host:port the contender listens on
	Upstream string // hotecho's host:port
	Dir      string // the contender's scratch directory: pid, logs, cache
	Root     bool   // running as root (nginx then runs its worker as root too)
	Features
	Routes     []string // many_routes: exact paths
	RoutesFile string   // many_routes: Routes one a line (HAProxy's acl -f)
	TLS        *siteTLS // TLS scenarios: the certificate (tls.go)
	H2C        bool     // clients speak HTTP/2 with prior knowledge (h2_small)
	// Admin is hotpath's admin address ("" turns it off, so that several
	// hotpath processes can run side by side).
	Admin string
	// APIKeyValue and JWTSecret are the credentials of the auth features.
	APIKeyValue, JWTSecret string
	// MaxConns is how many client connections a peer is set up for (nginx
	// worker_connections, HAProxy maxconn; 8192) and NoFile nginx's
	// worker_rlimit_nofile (16384). idle_conns raises both.
	MaxConns, NoFile int
	// ClientConns, set by idle_conns only, is hotpath's
	// limits.max_connections (by default hotpath allows half of its
	// open-file limit) and has HAProxy start even when it cannot have the
	// two descriptors per connection it asks for (no strict-limits).
	ClientConns int
}

// render writes c's config for s into dir and returns its path.
func (c *Contender) render(dir string, s site) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	s.Dir = dir
	if len(s.Routes) > 0 {
		s.RoutesFile = filepath.Join(dir, "routes.lst")
		if err := os.WriteFile(s.RoutesFile, []byte(strings.Join(s.Routes, "\n")+"\n"), 0o644); err != nil {
			return "", err
		}
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, c.template, s); err != nil {
		return "", fmt.Errorf("bench: %s template: %w", c.Name, err)
	}
	conf := filepath.Join(dir, c.file)
	return conf, os.WriteFile(conf, b.Bytes(), 0o644)
}

// errRejected is wrapped by check when the contender refuses its config.
var errRejected = errors.New("config rejected")

// check validates conf with the contender's own checker.
func (c *Contender) check(conf, dir string) error {
	out, err := exec.Command(c.Binary, c.checkArgs(conf, dir)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", errRejected, firstLines(string(out), 3))
	}
	return nil
}

// version returns the contender's version line.
func (c *Contender) version() string {
	out, _ := exec.Command(c.Binary, c.versionArgs...).CombinedOutput()
	return firstLines(string(out), 1)
}

// firstLines returns the first n non-empty lines of s joined with " / ".
func firstLines(s string, n int) string {
	var keep []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			keep = append(keep, l)
		}
		if len(keep) == n {
			break
		}
	}
	return strings.Join(keep, " / ")
}

// selectContenders returns the named contenders (all when empty) in
// ContenderNames order.
func selectContenders(names []string) ([]*Contender, error) {
	if len(names) == 0 {
		names = ContenderNames
	}
	var out []*Contender
	for _, n := range ContenderNames {
		if slices.Contains(names, n) {
			c, _ := contenderFor(n)
			out = append(out, c)
		}
	}
	for _, n := range names {
		if _, err := contenderFor(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}
