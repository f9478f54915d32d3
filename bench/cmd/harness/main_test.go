package main

import (
	"context"
	"strings"
	"testing"
)

func TestList(t *testing.T) {
	var out, errb strings.Builder
	if code := run(context.Background(), []string{"-list"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"passthrough_small", "many_routes", "gzip"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-list lacks %s:\n%s", want, out.String())
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown flag", []string{"-nope"}, 2},
		{"stray argument", []string{"extra"}, 2},
		{"unknown scenario", []string{"-bin", t.TempDir(), "-scenarios", "nope"}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb strings.Builder
			if code := run(context.Background(), tt.args, &out, &errb); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errb.String())
			}
		})
	}
}

func TestSplitList(t *testing.T) {
	if got := strings.Join(list(" a, b,,c "), "|"); got != "a|b|c" {
		t.Errorf("list = %q", got)
	}
}
