// Command importcheck enforces the import direction STYLE.md §1 states:
// imports point down, never up or sideways. It reads the module's
// packages with `go list -json ./...` (non-test imports) and exits 1,
// naming each forbidden import, when
//
//   - a package STYLE.md lists as a leaf imports a project package other
//     than the ones it may (parser, trie, limiter, pool and config import
//     nothing, cache imports parser, loadgen imports parser, route imports
//     config and the leaves its compiled values hold), beyond the
//     exceptions listed below with their reasons;
//   - a package other than admin, gateway and the commands imports engine;
//   - a package outside cmd and bench imports bench, profiles or a command;
//   - a package that is not a test imports a test-support package
//     (internal/testsupport, internal/testpki, internal/fleettest,
//     proctest).
//
// make lint and make test run it (go run ./internal/importcheck; its test
// checks the module the same way).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

const module = "github.com/hotpath/hotpath/"

// leaves are the packages STYLE.md's table lists with the project packages
// each may import.
var leaves = map[string][]string{
	"parser":  nil,
	"trie":    nil,
	"limiter": nil,
	"pool":    nil,
	"config":  nil,
	"cache":   {"parser"},
	"loadgen": {"parser"},
	// route sits between config and engine: it compiles config into
	// values of the leaves' types and never imports engine.
	"route": {"config", "limiter", "parser", "pool", "trie"},
}

// exceptions are imports the table does not allow but the tree has on
// purpose, each with its reason. Remove one when its reason goes.
var exceptions = map[string]string{
	"limiter -> parser": "client_ip keys trim X-Forwarded-For elements with parser.TrimOWS",
	"config -> trie":    "Check adds the routes to a trie.Builder so that route conflicts are reported with the field errors, in one pass",
	"loadgen -> h2":     "hotload --h2 speaks HTTP/2 through package h2",
	"loadgen -> plot":   "hotload ramp renders its knee chart with package plot",
}

// engineImporters may import engine: the admin listener, the gateway that
// wires engine, admin and the fleet together for cmd/hotpath, and the
// commands.
var engineImporters = []string{"admin", "gateway", "cmd/"}

// testSupport are packages only tests may import.
var testSupport = []string{"internal/testsupport", "internal/testpki", "internal/fleettest", "proctest"}

// pkg is what check needs of one `go list -json` record.
type pkg struct {
	ImportPath string
	Imports    []string
}

func main() {
	pkgs, err := list(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "importcheck:", err)
		os.Exit(2)
	}
	if bad := check(pkgs); len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "importcheck:", b)
		}
		fmt.Fprintln(os.Stderr, "importcheck: imports must point down (STYLE.md §1); see internal/importcheck")
		os.Exit(1)
	}
}

// list runs `go list -json ./...` in dir.
func list(dir string) ([]pkg, error) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// check returns one line per forbidden import ("limiter -> cache: ..."),
// sorted.
func check(pkgs []pkg) []string {
	var bad []string
	for _, p := range pkgs {
		from, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			to, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if why := forbidden(from, to); why != "" {
				bad = append(bad, fmt.Sprintf("%s -> %s: %s", from, to, why))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// forbidden says why from may not import to, or "".
func forbidden(from, to string) string {
	if _, ok := exceptions[from+" -> "+to]; ok {
		return ""
	}
	if allowed, ok := leaves[from]; ok && !contains(allowed, to) {
		if len(allowed) == 0 {
			return from + " imports no project package"
		}
		return from + " may import only " + strings.Join(allowed, ", ")
	}
	if to == "engine" && !hasPrefix(from, engineImporters) {
		return "only admin, gateway and cmd import engine"
	}
	if (to == "bench" || strings.HasPrefix(to, "bench/") || to == "profiles" || strings.HasPrefix(to, "cmd/")) &&
		!strings.HasPrefix(from, "cmd/") && from != "bench" && !strings.HasPrefix(from, "bench/") {
		return "nothing but the commands and bench imports bench, profiles or cmd"
	}
	if contains(testSupport, to) && !contains(testSupport, from) {
		return to + " is for tests only"
	}
	return ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == strings.TrimSuffix(p, "/") || strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
