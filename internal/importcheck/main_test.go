package main

import (
	"strings"
	"testing"
)

// TestModule: the module's imports point down. This is the check make
// lint runs, so make test runs it too (one go list, about a second).
func TestModule(t *testing.T) {
	pkgs, err := list("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, b := range check(pkgs) {
		t.Error(b)
	}
}

// TestForbidden: each rule refuses what it should and lets the rest pass.
func TestForbidden(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           string // "" when allowed; else a part of the reason
	}{
		{name: "sideways between leaves", from: "limiter", to: "cache", want: "limiter imports no project package"},
		{name: "leaf up to engine", from: "pool", to: "engine", want: "pool imports no project package"},
		{name: "cache down to parser", from: "cache", to: "parser"},
		{name: "cache sideways to pool", from: "cache", to: "pool", want: "cache may import only parser"},
		{name: "listed exception", from: "limiter", to: "parser"},
		{name: "route down to config", from: "route", to: "config"},
		{name: "route down to a leaf", from: "route", to: "pool"},
		{name: "route up to engine", from: "route", to: "engine", want: "route may import only config, limiter, parser, pool, trie"},
		{name: "engine down to route", from: "engine", to: "route"},
		{name: "engine down", from: "engine", to: "cache"},
		{name: "engine from a library", from: "metrics", to: "engine", want: "only admin, gateway and cmd import engine"},
		{name: "engine from gateway", from: "gateway", to: "engine"},
		{name: "engine from a command", from: "cmd/hotpath", to: "engine"},
		{name: "bench from a library", from: "engine", to: "bench", want: "imports bench, profiles or cmd"},
		{name: "profiles from hotload", from: "cmd/hotload", to: "profiles"},
		{name: "a command from a library", from: "gateway", to: "cmd/internal/buildinfo", want: "imports bench, profiles or cmd"},
		{name: "test support from a library", from: "gateway", to: "internal/testsupport", want: "is for tests only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := forbidden(tt.from, tt.to)
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Errorf("forbidden(%s, %s) = %q, want %q", tt.from, tt.to, got, tt.want)
			}
		})
	}
	bad := check([]pkg{{ImportPath: module + "limiter", Imports: []string{"strings", module + "cache"}}})
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "limiter -> cache: ") {
		t.Errorf("check: %q", bad)
	}
}
